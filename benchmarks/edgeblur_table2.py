"""Table 2 protocol with the edge-profile estimator, on the held-out photos and on Set14.

``run`` adds rows to a ``zssr bench`` folder (resumable): ZSSR given the edge-profile
estimate (``zssr+estimated-kernel:estimator=edges,preset=kernel``) and, beside it, ZSSR
given the fixed generic kernel of ``generic_kernel_baseline.py`` (σ = 1.33 px): the
estimator is worth something only where it beats a kernel that ignores the image.

``report`` sets those rows beside the committed H100 reference rows of the same inputs
(``results/gpu_h100_crossscale``: bicubic-kernel ZSSR, true-kernel ZSSR and the
cross-scale estimate; Set14's missing cells from its ``cpu_completion``) and, for Set14,
KernelGAN's CPU row; it gives the share of the bicubic-kernel → true-kernel gap per row,
per image and in the mean, and how wide each edge estimate is along the true kernel's axes.

Usage (from the repository root):
    # on the GPU machine (data as .carry/data, held-out photos as .carry/heldout):
    PYTHONPATH=src python benchmarks/edgeblur_table2.py run --set Set14 --data-root .carry/data \
        --out RUNS/table2_set14 --device cuda --jobs 5
    PYTHONPATH=src python benchmarks/edgeblur_table2.py run --set .carry/heldout --out RUNS/heldout ...
    # here, from the committed records:
    PYTHONPATH=src python benchmarks/edgeblur_table2.py report --runs benchmarks/results/gpu_h100_edges
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _machine import read_results_csv, result_header, write_result  # noqa: E402
from generic_kernel_baseline import GENERIC_LABEL, SIGMA, generic_kernel_method  # noqa: E402
from kernel_seed_selection import axis_ratios  # noqa: E402
from table2_safeguard import KERNELGAN_LABEL, KERNELGAN_RUN  # noqa: E402
from zssr.bench import METHODS, run_benchmark  # noqa: E402
from zssr.kernels import load_kernel  # noqa: E402

EDGES_LABEL = "zssr+estimated-kernel:estimator=edges,preset=kernel"
REFERENCE = HERE / "results" / "gpu_h100_crossscale"
SETS = {"Set14": ("table2_set14", "Set14_x2_gaussian-kernel-div2krk_seed0"),
        "heldout": ("heldout", "heldout_x2_gaussian-kernel-div2krk_seed0")}
BASE, TRUE = "bicubic-kernel ZSSR (`ideal`)", "true kernel"


def _folder(label: str) -> str:
    return label.replace(":", "@")


def _records(run: Path, condition: str, label: str) -> dict[str, tuple[float, str]]:
    """image → (PSNR, G or C) for one method of a ``zssr bench`` run folder (absent: empty)."""
    out = {}
    for path in sorted((run / "runs" / condition / _folder(label)).glob("*_seed0.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["image"]] = (float(data["psnr"]), "G" if data["device"].startswith("cuda") else "C")
    return out


def run(args: argparse.Namespace) -> None:
    registry = {**METHODS, "zssr+generic-kernel": generic_kernel_method}
    run_benchmark(
        [args.set], out=args.out, degradations=["gaussian-kernel"], data_root=args.data_root,
        methods=["bicubic", *args.methods.split(";")], registry=registry, jobs=args.jobs, device=args.device,
        progress=True, limit=args.limit,
    )


def _rows(name: str, runs: Path) -> dict[str, dict[str, tuple[float, str]]]:
    folder, condition = SETS[name]
    ref, new = REFERENCE / folder, runs / folder
    cpu = REFERENCE / "cpu_completion"
    rows = {BASE: {**_records(cpu, condition, "zssr:preset=ideal"), **_records(ref, condition, "zssr:preset=ideal")}}
    if name == "Set14":
        kgan = read_results_csv(KERNELGAN_RUN / "results.csv")
        rows["KernelGAN estimate"] = {n: (float(r["psnr"]), "C") for (m, n), r in kgan.items() if m == KERNELGAN_LABEL}
    xs = "zssr+estimated-kernel:estimator=crossscale,preset=kernel"
    rows["cross-scale estimate"] = {**_records(cpu, condition, xs), **_records(ref, condition, xs)}
    rows[f"generic σ = {SIGMA} (no estimate)"] = _records(new, condition, GENERIC_LABEL)
    rows["**edge-profile estimate**"] = _records(new, condition, EDGES_LABEL)
    rows[TRUE] = _records(ref, condition, "zssr+true-kernel:preset=kernel")
    return rows


def _table(name: str, runs: Path) -> list[str]:
    rows = _rows(name, runs)
    names = sorted(rows[TRUE])
    lines = [f"## {name}: {len(names)} images", "",
             "| image | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{r[n][0]:.2f} {r[n][1]}" if n in r else "–" for r in rows.values()) + " |")
    lines += ["", "Share of the bicubic-kernel → true-kernel gap over the images each row has (both reference rows "
              "averaged over the same images):", "",
              "| row | images | mean | bicubic-kernel ZSSR | true kernel | share of the gap |", "|---|---|---|---|---|---|"]
    base, true = rows[BASE], rows[TRUE]
    for label, r in rows.items():
        have = [n for n in names if n in r and n in base]
        if label in (BASE, TRUE) or not have:
            continue
        m, b, t = (statistics.mean(x[n][0] for n in have) for x in (r, base, true))
        lines.append(f"| {label} | {len(have)} | {m:.2f} | {b:.2f} | {t:.2f} | **{(m - b) / (t - b):.0%}** |")
    # how wide each edge estimate is along the true kernel's axes (1 = right; ZSSR's gain collapses past ~1.15)
    folder, condition = SETS[name]
    kdir = runs / folder / "runs" / condition / _folder(EDGES_LABEL)
    inputs = runs / folder / "inputs" / condition
    ratios = {n: axis_ratios(load_kernel(kdir / f"{n}_seed0_kernel.mat").numpy(),
                             load_kernel(inputs / f"{n}_kernel.mat").numpy())
              for n in names if (kdir / f"{n}_seed0_kernel.mat").is_file()}
    if ratios:
        lines += ["", "Edge-profile estimate's standard deviation along the true kernel's minor / major axis over the "
                  "true one: " + ", ".join(f"{n} {a:.2f}/{b:.2f}" for n, (a, b) in sorted(ratios.items()))
                  + f". Median {statistics.median(a for a, _ in ratios.values()):.2f} / "
                  f"{statistics.median(b for _, b in ratios.values()):.2f}; over 1.15 along the minor axis: "
                  f"{sum(a > 1.15 for a, _ in ratios.values())}/{len(ratios)}."]
    return lines + [""]


def report(args: argparse.Namespace) -> None:
    runs = Path(args.runs)
    lines = result_header("Table 2 protocol (×2, DIV2KRK-recipe kernels): ZSSR given the edge-profile kernel estimate")
    lines += [f"Runs: `{runs}` (this estimator and the generic kernel; see its README for the device commands) and "
              f"the reference rows of `{REFERENCE.relative_to(HERE.parent)}`. Inputs: data seed 0, ZSSR seed 0, "
              "`kernel` preset for every given kernel. Cells: Y-PSNR (dB); G = H100, C = CPU (2 cores). "
              "The held-out photos chose the estimator's parameters (on kernel widths, not on ZSSR); Set14 did not.", ""]
    for name in ("heldout", "Set14"):
        lines += _table(name, runs)
    write_result(Path(args.out), lines)
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--set", required=True, help="Set14, or a folder of HR photos (the held-out set)")
    r.add_argument("--data-root", default="../shared/data")
    r.add_argument("--out", required=True)
    r.add_argument("--methods", default=f"{EDGES_LABEL};{GENERIC_LABEL}", help="';'-separated method specs")
    r.add_argument("--device", default="auto")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--limit", type=int, default=None, help="the first N images only (dry runs)")
    p = sub.add_parser("report")
    p.add_argument("--runs", default=str(HERE / "results" / "gpu_h100_edges"))
    p.add_argument("--out", default=str(HERE / "results" / "edgeblur_table2.md"))
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
