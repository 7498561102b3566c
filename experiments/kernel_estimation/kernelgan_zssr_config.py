"""Pilot: Table 2 with the ZSSR configuration KernelGAN's authors used (fathers as-is, no augmentation).

KernelGAN's repository runs ZSSR with its own config (``ZSSRforKernelGAN/zssr_configs.py``):
every father is the LR image as it is (``augment_leave_as_is_probability = 1``, "changed
from 0.05"; no rescaling, shear or rotation), no geometric ensemble, 2 back-projection
iterations, plus a gradient-weighted L1 loss map that zssr does not implement. Our Table 2
rows use the ZSSR authors' ``X2_GIVEN_KERNEL_CONF`` (the ``kernel`` preset): half of the
fathers are rescaled copies of the image, whose blur is *not* the kernel's.

This pilot runs, on a few Set14 images (Table 2 inputs, data seed 0), the ``kernel`` preset
with fathers as-is for both the true kernel and KernelGAN's saved estimate (the CPU
Table 2 run's kernels, ``benchmarks/results/cpu_table2_kernelgan/default``, so no KernelGAN is
retrained), and sets them beside the ``kernel``-preset rows of the earlier runs.

Finished per-image results in ``--out`` are reused, so running the command again only
rewrites the report.

Usage (from the repository root; about 25 minutes per image on 2 CPU cores):
    PYTHONPATH=src python experiments/kernel_estimation/kernelgan_zssr_config.py --images baboon,barbara \
        --data-root ../shared/data --out bench-runs/kgan_zssr_config --jobs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))  # machine, table2_safeguard

from machine import read_results_csv, result_header, write_result  # noqa: E402
from table2_safeguard import KERNELGAN_LABEL, KERNELGAN_RUN, check_same_inputs, gpu_results, run_set14_table2  # noqa: E402

from zssr.bench import METHODS, MethodInput, MethodOutput  # noqa: E402
from zssr.kernels import load_kernel  # noqa: E402

AS_IS = "augment_as_is_probability=1.0,augment_no_interpolate_probability=0.0,preset=kernel"
TRUE_LABEL = f"zssr+true-kernel:{AS_IS}"
SAVED_LABEL = f"zssr+saved-kernelgan:{AS_IS}"


def saved_kernelgan_method(request: MethodInput) -> MethodOutput:
    """``zssr+true-kernel`` given the CPU Table 2 run's KernelGAN estimate for this image."""
    run = KERNELGAN_RUN / "runs" / "Set14_x2_gaussian-kernel-div2krk_seed0" / "zssr+estimated-kernel@iterations=3000,preset=kernel"
    kernel = load_kernel(run / f"{request.image}_seed0_kernel.mat").numpy()
    out = METHODS["zssr+true-kernel"](dataclasses.replace(request, kernel=kernel))
    return dataclasses.replace(out, kernel=kernel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="baboon,barbara", help="comma-separated Set14 names")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--out", default="bench-runs/kgan_zssr_config")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    registry = {**METHODS, "zssr+saved-kernelgan": saved_kernelgan_method}
    run_set14_table2(args.out, ["bicubic", TRUE_LABEL, SAVED_LABEL], registry, data_root=args.data_root,
                     jobs=args.jobs, images=args.images.split(","))
    write_result(HERE / "results" / "kernelgan_zssr_config.md", report(Path(args.out)))


def report(out: Path) -> list[str]:
    """Per image and mean: bicubic-kernel ZSSR, KernelGAN and true kernel, with the kernel preset and with fathers as-is."""
    gpu, mine, kgan = gpu_results(), read_results_csv(out / "results.csv"), read_results_csv(KERNELGAN_RUN / "results.csv")
    names = sorted(n for (m, n) in mine if m == SAVED_LABEL and (TRUE_LABEL, n) in mine)
    check_same_inputs(mine, names)  # the inputs of every other Table 2 run
    cols = {
        "bicubic-kernel ZSSR, `ideal` (GPU ref.)": {n: float(gpu[("zssr:preset=ideal", n)]["psnr"]) for n in names},
        "KernelGAN, `kernel` (CPU)": {n: float(kgan[(KERNELGAN_LABEL, n)]["psnr"]) for n in names},
        "true, `kernel` (GPU ref.)": {n: float(gpu[("zssr+true-kernel:preset=kernel", n)]["psnr"]) for n in names},
        "KernelGAN, as-is (CPU, this run)": {n: float(mine[(SAVED_LABEL, n)]["psnr"]) for n in names},
        "true, as-is (CPU, this run)": {n: float(mine[(TRUE_LABEL, n)]["psnr"]) for n in names},
    }
    mean = {c: statistics.mean(v.values()) for c, v in cols.items()}
    base = mean["bicubic-kernel ZSSR, `ideal` (GPU ref.)"]
    lines = result_header("Pilot: ZSSR with fathers as-is (KernelGAN's ZSSR config), Set14 ×2 Table 2 inputs")
    lines += [
        f"Images: {', '.join(names)} (data seed 0, ZSSR seed 0). `kernel` = the ZSSR authors' X2_GIVEN_KERNEL_CONF "
        f"preset; as-is = the same with `{AS_IS}` (every father is the LR image itself). KernelGAN kernels: the "
        "CPU Table 2 run's saved estimates.", "",
        "| image | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols),
    ]
    lines += [f"| {n} | " + " | ".join(f"{cols[c][n]:.2f}" for c in cols) + " |" for n in names]
    lines.append("| **mean** | " + " | ".join(f"**{mean[c]:.2f}**" for c in cols) + " |")
    share = {
        "kernel": (mean["KernelGAN, `kernel` (CPU)"] - base) / (mean["true, `kernel` (GPU ref.)"] - base),
        "as-is": (mean["KernelGAN, as-is (CPU, this run)"] - base) / (mean["true, as-is (CPU, this run)"] - base),
    }
    lines += ["", "Share of the gap from bicubic-kernel ZSSR to true-kernel ZSSR recovered by KernelGAN's estimate, "
              f"on these images: `kernel` preset {share['kernel']:.0%}; fathers as-is {share['as-is']:.0%} "
              "(both against the same bicubic-kernel ZSSR row; each against the true-kernel row of its own config)."]
    return lines


if __name__ == "__main__":
    main()
