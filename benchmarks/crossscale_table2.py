"""Table 2 (Set14 ×2) with the cross-scale estimator, from the H100 run and its CPU completion.

The H100 session (``results/gpu_h100_crossscale/README.md``) ran, on Table 2's inputs
(DIV2KRK-recipe kernels, data seed 0, ZSSR seed 0), bicubic-kernel ZSSR (``ideal``),
true-kernel ZSSR and ZSSR given the cross-scale estimate (``kernel`` preset, with and
without the 2/√3 width correction), but ran out of device time before every image was
done. The missing cells of the uncorrected row and of bicubic-kernel ZSSR were run later on
the CPU; ``--cpu`` reads their records (default: the committed copy,
``results/gpu_h100_crossscale/cpu_completion``; commands in that folder's README). This script reads the per-image JSON records,
sets KernelGAN's CPU row (``results/cpu_table2_kernelgan/default``) beside them, and
reports means and shares of the bicubic-kernel → true-kernel gap over the images each
row has, labelling every cell's device.

Usage (from the repository root; reads results only, seconds):
    python benchmarks/crossscale_table2.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _machine import read_method_records, read_results_csv, result_header, write_result  # noqa: E402
from table2_safeguard import KERNELGAN_LABEL, KERNELGAN_RUN  # noqa: E402

GPU_RUN = HERE / "results" / "gpu_h100_crossscale" / "table2_set14"
CONDITION = "Set14_x2_gaussian-kernel-div2krk_seed0"
ROWS = {  # label → (method folder in runs/, method label in results.csv for KernelGAN)
    "bicubic-kernel ZSSR (`ideal`)": "zssr@preset=ideal",
    "KernelGAN estimate": None,
    "cross-scale estimate": "zssr+estimated-kernel@estimator=crossscale,preset=kernel",
    "cross-scale estimate ×2/√3": "zssr+estimated-kernel@estimator=crossscale,preset=kernel,width_correction=true",
    "true kernel": "zssr+true-kernel@preset=kernel",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", default=str(GPU_RUN.parent / "cpu_completion"),
                        help="a CPU zssr bench --out folder with the missing cells")
    args = parser.parse_args()
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
