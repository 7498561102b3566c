"""Controlled check: does KernelGAN tell a sharp blur from a wide one on the same photo?

The held-out and Set14 runs (``results/kernel_seed_selection_heldout.md``,
``results/generic_kernel_baseline.md``) found KernelGAN's estimates nearly independent
of the true kernel. This is the cleanest form of that question: three scikit-image
photos, each degraded ×2 by three *isotropic* Gaussians (σ = 0.6, 1.3, 2.2 px on a
13×13 grid; ``downscale(HR, align_kernel(k, 2), 2)``, rounded to 8 bits), and KernelGAN
(seed 0, 3000 iterations, no restarts) on each LR. A working estimator must return
estimates whose size grows with σ; KernelGAN's √3/2 theory predicts own σ ≈ 0.52, 1.13
and 1.91 px.

``--variants`` reruns it with parts of KernelGAN switched off, through
``zssr.kernel_estimation.KernelGANConfig`` fields (diagnostics, not options of the tool):
``no-lr-decay`` (no ÷10 every 750 iterations), ``no-noise`` (no noise on D's inputs),
``no-priors`` (bicubic, sparsity and centralized weights 0; sum-to-1 and boundaries stay),
``noise-accumulates`` (the authors' in-place D noise, which piles up in the image:
``KernelGANConfig.noise_accumulates``). The committed reports name the fields in upper
case (``LR_STEP``), as when they were module constants of ``zssr.estimate``.

Usage (from the repository root; about 5 minutes per variant on 2 CPU cores):
    PYTHONPATH=src python experiments/kernel_estimation/kernelgan_ab.py
    PYTHONPATH=src python experiments/kernel_estimation/kernelgan_ab.py --variants no-lr-decay,no-noise,no-priors \
        --photos astronaut,coffee --out experiments/kernel_estimation/results/kernelgan_ab_variants.md
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))  # machine, kernel_checks

from kernel_checks import PHOTOS, SIGMAS, blurred_lr, own_widths  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.kernel_estimation import KernelGANConfig, estimate_kernel  # noqa: E402

#: Variant → the KernelGANConfig fields it changes (the rest keep the authors' values).
VARIANTS = {
    "default": {},
    "no-lr-decay": {"lr_step": 10**9},
    "no-noise": {"noise_real": 0.0, "noise_fake": 0.0},
    "no-priors": {"lambda_bicubic_start": 0.0, "lambda_sparse": 0.0, "lambda_centralized": 0.0},
    "noise-accumulates": {"noise_accumulates": True},
}


def _one(job: tuple[str, float, str]) -> tuple[str, float, str, float, float]:
    name, sigma, variant = job
    torch.set_num_threads(1)
    est = estimate_kernel(blurred_lr(name, sigma), 2, iterations=3000, seed=0, restarts=0,
                          config=KernelGANConfig(**VARIANTS[variant]))
    lo, hi = own_widths(est.kernel.numpy())
    return name, sigma, variant, lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", default="default", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--photos", default=",".join(PHOTOS))
    parser.add_argument("--out", default=str(HERE / "results" / "kernelgan_ab.md"))
    args = parser.parse_args()
    variants, photos = args.variants.split(","), args.photos.split(",")
    jobs = [(n, s, v) for v in variants for n in photos for s in SIGMAS]
    # One fresh process per estimate, as when the variants were module constants set per worker.
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        rows = {(n, s, v): (lo, hi) for n, s, v, lo, hi in pool.map(_one, jobs)}
    lines = result_header("KernelGAN A/B: sharp vs wide isotropic blur on the same photo (×2)")
    lines += [
        "Each cell: the estimate's own minor / major σ (px). √3/2 theory: "
        + ", ".join(f"σ {s} → {math.sqrt(3) / 2 * s:.2f}" for s in SIGMAS) + ".",
    ]
    for v in variants:
        settings = ", ".join(f"{c.upper()} = {x:g}" for c, x in VARIANTS[v].items()) or "the authors' settings"
        lines += ["", f"Variant: **{v}** ({settings})", "",
                  "| photo | " + " | ".join(f"true σ = {s}" for s in SIGMAS) + " |", "|---|" + "---|" * len(SIGMAS)]
        for n in photos:
            lines.append(f"| {n} | " + " | ".join(f"{rows[(n, s, v)][0]:.2f} / {rows[(n, s, v)][1]:.2f}" for s in SIGMAS)
                         + " |")
    write_result(Path(args.out), lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
