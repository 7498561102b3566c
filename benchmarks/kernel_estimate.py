"""KernelGAN kernel quality and speed, measured by re-synthesising the LR image.

For each image of a data set degraded with a random Gaussian kernel (the harness's
`gaussian-kernel` inputs, Table 2 protocol), estimate the ×2 kernel from the LR alone,
then re-make the LR from the HR with (a) MATLAB bicubic, (b) the estimate, (c) the true
kernel, and report the PSNR of each against the real LR (RGB, 8-pixel border ignored).
A kernel that re-synthesises the LR better is closer to the truth where it matters.
Snapshots of G's kernel during training show how quality depends on the iteration count.

Usage: python benchmarks/kernel_estimate.py [--dataset Set14] [--limit 6] [--iterations 3000]
Writes benchmarks/results/kernel_estimate.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from machine import result_header, write_result

from zssr.bench import prepare_inputs, resolve_dataset
from zssr.io import read_image, to_array, to_tensor
from zssr.kernel_estimation import estimate_kernel, trim_zero_border
from zssr.kernel_estimation.kernelgan import x2_kernel
from zssr.kernels import align_kernel, downscale, load_kernel
from zssr.metrics import psnr, shave
from zssr.resize import imresize

SNAPSHOTS = (250, 500, 750, 1000, 1500, 2000, 3000)


def _psnr(a: torch.Tensor, b: torch.Tensor, border: int = 8) -> float:
    """RGB PSNR of two [0, 1] images as 8-bit values, ``border`` pixels ignored."""
    a8, b8 = (np.round(np.clip(to_array(t), 0, 1) * 255) for t in (a, b))
    return psnr(shave(a8, border), shave(b8, border))


def _resynth(hr: torch.Tensor, kernel: torch.Tensor | None, size) -> torch.Tensor:
    if kernel is None:
        return imresize(hr.double(), 0.5, size=size)
    return downscale(hr.double(), align_kernel(kernel, 2), 2, size=size)


def _postprocess(raw: np.ndarray) -> torch.Tensor:
    """The estimator's own post-processing of G's raw 13×13 kernel (filter, centre, trim)."""
    return torch.as_tensor(trim_zero_border(x2_kernel(raw)), dtype=torch.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="Set14")
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache", type=Path, default=Path("bench-runs/kernel-inputs"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "kernel_estimate.md")
    args = parser.parse_args()
    _, inputs = prepare_inputs(
        resolve_dataset(args.dataset), scale=2.0, degradation="gaussian-kernel", cache_root=args.cache,
        limit=args.limit,
    )
    snaps = [s for s in SNAPSHOTS if s <= args.iterations]
    rows, times = [], []
    for item in inputs:
        hr = to_tensor(read_image(item.hr).color)
        lr = to_tensor(read_image(item.lr).color).double()
        size = tuple(lr.shape[-2:])
        true_k = load_kernel(item.kernel)
        raw: dict[int, np.ndarray] = {}

        def keep(done: int, kernel: torch.Tensor) -> None:
            if done in snaps:
                raw[done] = kernel.detach().double().cpu().numpy()

        t0 = time.perf_counter()
        est = estimate_kernel(to_tensor(read_image(item.lr).color), 2, iterations=args.iterations, seed=0,
                              device=args.device, callback=keep)
        times.append(time.perf_counter() - t0)
        scores = {s: _psnr(_resynth(hr, _postprocess(raw[s]), size), lr) for s in snaps}
        scores["final"] = _psnr(_resynth(hr, est.kernel, size), lr)
        rows.append((item.name, _psnr(_resynth(hr, None, size), lr), scores, _psnr(_resynth(hr, true_k, size), lr)))
        print(item.name, f"{times[-1]:.1f}s", rows[-1][1], scores, rows[-1][3], flush=True)

    head = " | ".join(f"est@{s}" for s in snaps)
    lines = [
        *result_header("KernelGAN: re-synthesis PSNR of the LR image (dB) and estimation time"),
        f"{args.dataset} ×2, harness `gaussian-kernel` inputs (data seed 0), estimator seed 0, device {args.device}.",
        "PSNR of the real LR against the LR re-made from the HR with each kernel (RGB, 8-bit, 8-px border off).",
        "`est@N`: G's kernel after N iterations with the estimator's post-processing; `final` is what",
        "`estimate_kernel` returns.",
        "",
        f"| image | bicubic | {head} | final | true kernel |",
        "|---|---|" + "---|" * len(snaps) + "---|---|",
    ]
    for name, bic, sc, tru in rows:
        lines.append(f"| {name} | {bic:.2f} | " + " | ".join(f"{sc[s]:.2f}" for s in snaps) + f" | {sc['final']:.2f} | {tru:.2f} |")
    mean = lambda xs: statistics.fmean(xs)  # noqa: E731
    lines.append(
        f"| **mean** | {mean([r[1] for r in rows]):.2f} | "
        + " | ".join(f"{mean([r[2][s] for r in rows]):.2f}" for s in snaps)
        + f" | {mean([r[2]['final'] for r in rows]):.2f} | {mean([r[3] for r in rows]):.2f} |"
    )
    lines += ["", f"Estimation time per image ({args.iterations} iterations): median {statistics.median(times):.1f} s, "
              f"max {max(times):.1f} s."]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
