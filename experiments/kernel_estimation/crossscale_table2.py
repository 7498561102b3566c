"""Table 2 (Set14 ×2) with the cross-scale estimator, from the H100 run and its CPU completion.

The H100 session (``benchmarks/results/gpu_h100_crossscale/README.md``) ran, on Table 2's inputs
(DIV2KRK-recipe kernels, data seed 0, ZSSR seed 0), bicubic-kernel ZSSR (``ideal``),
true-kernel ZSSR and ZSSR given the cross-scale estimate (``kernel`` preset, with and
without the 2/√3 width correction), but ran out of device time before every image was
done. The missing cells of the uncorrected row and of bicubic-kernel ZSSR were run later on
the CPU; ``--cpu`` reads their records (default: the committed copy,
``benchmarks/results/gpu_h100_crossscale/cpu_completion``; commands in that folder's README). This script reads
the per-image JSON records, sets KernelGAN's CPU row (``benchmarks/results/cpu_table2_kernelgan/default``) beside
them, and reports means and shares of the bicubic-kernel → true-kernel gap over the images each
row has, labelling every cell's device. Writes ``results/crossscale_table2.md``. (Both run folders stay
under ``benchmarks/results``: ``benchmarks/edgeblur_table2.py`` reads them too.)

``run`` adds rows to a ``zssr bench`` folder (resumable) with the harness option the H100 runs
used, ``zssr+estimated-kernel:estimator=crossscale`` (:func:`crossscale.estimated_kernel_method`;
the harness itself dropped it in #12); ``run_gpu_crossscale.sh`` calls it.

Usage (from the repository root):
    python experiments/kernel_estimation/crossscale_table2.py          (the report; reads results only, seconds)
    PYTHONPATH=src python experiments/kernel_estimation/crossscale_table2.py run --set Set14 --out RUNS/table2_set14 \
        --methods "zssr+estimated-kernel:estimator=crossscale,preset=kernel" [--device cuda --jobs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = HERE.parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # machine, table2_safeguard

from machine import read_method_records, read_results_csv, result_header, write_result  # noqa: E402
from table2_safeguard import KERNELGAN_LABEL, KERNELGAN_RUN  # noqa: E402

GPU_RUN = BENCHMARKS / "results" / "gpu_h100_crossscale" / "table2_set14"
CONDITION = "Set14_x2_gaussian-kernel-div2krk_seed0"
ROWS = {  # label → (method folder in runs/, method label in results.csv for KernelGAN)
    "bicubic-kernel ZSSR (`ideal`)": "zssr@preset=ideal",
    "KernelGAN estimate": None,
    "cross-scale estimate": "zssr+estimated-kernel@estimator=crossscale,preset=kernel",
    "cross-scale estimate ×2/√3": "zssr+estimated-kernel@estimator=crossscale,preset=kernel,width_correction=true",
    "true kernel": "zssr+true-kernel@preset=kernel",
}


def run(args: argparse.Namespace) -> None:
    """Table 2 rows through ``run_benchmark``, with ``estimator=crossscale`` back in the registry."""
    from crossscale import estimated_kernel_method

    from zssr.bench import METHODS, run_benchmark

    registry = {**METHODS, "zssr+estimated-kernel": estimated_kernel_method}
    run_benchmark(
        [args.set], out=args.out, degradations=["gaussian-kernel"], data_root=args.data_root,
        methods=["bicubic", *args.methods.split(";")], registry=registry, jobs=args.jobs, device=args.device,
        progress=not args.quiet, limit=args.limit,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", default=str(GPU_RUN.parent / "cpu_completion"),
                        help="a CPU zssr bench --out folder with the missing cells")
    sub = parser.add_subparsers(dest="command")
    r = sub.add_parser("run", help="add rows to a zssr bench folder (resumable); without it: the report")
    r.add_argument("--set", required=True, help="Set14, or a folder of HR photos (the held-out set)")
    r.add_argument("--data-root", default=None, help="folder holding Set14/ (default $ZSSR_DATA or ../shared/data)")
    r.add_argument("--out", required=True)
    r.add_argument("--methods", required=True, help="';'-separated method specs (bicubic is always added)")
    r.add_argument("--device", default="auto")
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--limit", type=int, default=None, help="the first N images only (dry runs)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
        return
    rows: dict[str, dict[str, tuple[float, str]]] = {}
    for label, folder in ROWS.items():
        if folder is None:
            kgan = read_results_csv(KERNELGAN_RUN / "results.csv")
            rows[label] = {n: (float(r["psnr"]), "C") for (m, n), r in kgan.items() if m == KERNELGAN_LABEL}
        else:
            cpu = read_method_records(Path(args.cpu), CONDITION, folder) if args.cpu else {}
            rows[label] = {**cpu, **read_method_records(GPU_RUN, CONDITION, folder)}  # the GPU cell wins
    names = sorted(rows["true kernel"])
    lines = result_header("Table 2, Set14 ×2: ZSSR given the cross-scale kernel estimate")
    lines += [
        "Inputs: `zssr bench` gaussian-kernel degradation (DIV2KRK recipe, data seed 0), ZSSR seed 0; `kernel` "
        "preset for every given kernel. Cells: Y-PSNR (dB), G = H100 run, C = CPU (2 cores). KernelGAN: the CPU "
        "Table 2 run (default estimator, restarts). – = not run (H100 time ran out).", "",
        "| image | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows),
    ]
    for n in names:
        cells = [f"{rows[r][n][0]:.2f} {rows[r][n][1][0]}" if n in rows[r] else "–" for r in rows]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Share of the gap from bicubic-kernel ZSSR to true-kernel ZSSR, over the images the row has "
              "(both reference rows averaged over the same images):", "",
              "| row | images | mean | bicubic-kernel ZSSR | true kernel | share of the gap |", "|---|---|---|---|---|---|"]
    base, true = rows["bicubic-kernel ZSSR (`ideal`)"], rows["true kernel"]
    for label in ("KernelGAN estimate", "cross-scale estimate", "cross-scale estimate ×2/√3"):
        have = [n for n in names if n in rows[label] and n in base]
        m, b, t = (statistics.mean(r[n][0] for n in have) for r in (rows[label], base, true))
        lines.append(f"| {label} | {len(have)} | {m:.2f} | {b:.2f} | {t:.2f} | **{(m - b) / (t - b):.0%}** |")
    write_result(HERE / "results" / "crossscale_table2.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
