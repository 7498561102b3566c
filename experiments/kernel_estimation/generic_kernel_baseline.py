"""How much of Table 2's blind gain is image-specific? ZSSR given one fixed, generic kernel.

KernelGAN's estimates on the held-out photos all have about the same size, whatever
the true kernel (``results/kernel_seed_selection_heldout.md``: own minor/major standard
deviation 1.2/1.5 px for true kernels from 0.7 to 2.2 px). So this script runs Table 2's
blind row with *no estimation*: every image gets the same isotropic Gaussian, σ = 1.33 px
on a 14×14 grid (the median geometric-mean width of those 27 held-out estimates; not
fitted to Set14), through the harness's ``zssr+true-kernel`` method with that kernel in
place of the true one (``benchmarks/kernel_checks.generic_kernel_method``, shared with
``benchmarks/edgeblur_table2.py``; ``kernel`` preset, seed 0, data seed 0: the inputs of
every other Table 2 run). Compare its share of the bicubic-kernel → true-kernel gap with
KernelGAN's (``results/kernel_width_correction.md``).

Finished per-image results in ``--out`` are reused, so running the command again only
rewrites the report.

Usage (from the repository root; about an hour on 2 CPU cores):
    PYTHONPATH=src python experiments/kernel_estimation/generic_kernel_baseline.py --data-root ../shared/data \
        --out bench-runs/t2_generic --jobs 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))  # machine, kernel_checks, table2_safeguard

import numpy as np  # noqa: E402
from kernel_checks import GENERIC_LABEL, generic_kernel_method, own_widths  # noqa: E402
from kernel_checks import GENERIC_SIGMA as SIGMA  # noqa: E402
from kernel_seed_selection import tracking_table  # noqa: E402
from machine import read_results_csv, result_header, write_result  # noqa: E402
from table2_safeguard import KERNELGAN_LABEL, KERNELGAN_RUN, check_same_inputs, gpu_results, run_set14_table2  # noqa: E402

from zssr.bench import METHODS  # noqa: E402
from zssr.kernels import load_kernel  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--out", default="bench-runs/t2_generic")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    registry = {**METHODS, "zssr+generic-kernel": generic_kernel_method}
    run_set14_table2(args.out, ["bicubic", GENERIC_LABEL], registry, data_root=args.data_root, jobs=args.jobs)
    write_result(HERE / "results" / "generic_kernel_baseline.md", report(Path(args.out)))


def report(out: Path) -> list[str]:
    """Generic-kernel row against the GPU reference rows and the CPU KernelGAN row, per image and as gap shares."""
    gpu, mine, kgan = gpu_results(), read_results_csv(out / "results.csv"), read_results_csv(KERNELGAN_RUN / "results.csv")
    names = sorted(n for (m, n) in mine if m == GENERIC_LABEL)
    check_same_inputs(mine, names)  # the inputs of every other Table 2 run
    rows = {
        "bicubic-kernel ZSSR (GPU, reference)": {n: float(gpu[("zssr:preset=ideal", n)]["psnr"]) for n in names},
        "KernelGAN estimate, default estimator (CPU)": {n: float(kgan[(KERNELGAN_LABEL, n)]["psnr"]) for n in names},
        f"generic isotropic Gaussian σ = {SIGMA} (CPU, this run)": {n: float(mine[(GENERIC_LABEL, n)]["psnr"]) for n in names},
        "true kernel (GPU, reference)": {n: float(gpu[("zssr+true-kernel:preset=kernel", n)]["psnr"]) for n in names},
    }
    low, high = rows["bicubic-kernel ZSSR (GPU, reference)"], rows["true kernel (GPU, reference)"]
    lines = result_header("Table 2 blind row without estimation: ZSSR given one generic kernel (Set14 ×2)")
    lines += [f"Run folder: `{out}` ({len(names)} images; `kernel` preset, seed 0, data seed 0).", "",
              "| row | mean Y-PSNR | share of the gap (mean of per-image totals) |", "|---|---|---|"]
    for label, v in rows.items():
        mean = sum(v.values()) / len(v)
        share = (mean - sum(low.values()) / len(low)) / (sum(high.values()) / len(high) - sum(low.values()) / len(low))
        lines.append(f"| {label} | {mean:.2f} | {share:.0%} |")
    lines += ["", "| image | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    lines += [f"| {n} | " + " | ".join(f"{v[n]:.2f}" for v in rows.values()) + " |" for n in names]

    # Does KernelGAN's estimate follow the true kernel on Set14? (the CPU run's committed kernels)
    condition = next((out / "inputs").iterdir())
    true_w = np.array([own_widths(load_kernel(condition / f"{n}_kernel.mat").numpy()) for n in names])
    folder = KERNELGAN_RUN / "runs" / condition.name / KERNELGAN_LABEL.replace(":", "@")
    est_w = np.array([own_widths(load_kernel(folder / f"{n}_seed0_kernel.mat").numpy()) for n in names])
    title = f"Does the KernelGAN estimate follow the true kernel? (the same {len(names)} images, CPU default run)"
    lines += tracking_table(true_w, {"KernelGAN estimate": est_w}, title)
    return lines


if __name__ == "__main__":
    main()
