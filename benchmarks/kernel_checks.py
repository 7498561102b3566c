"""Shared by the kernel-estimation scripts here and in ``experiments/kernel_estimation``.

The development photos, the controlled blur check's inputs, kernel width measures, and the
generic-kernel Table 2 method. They live here, not in an experiment script, because the
edge-estimator benchmarks (``edgeblur_table2.py``, ``edgeblur_tracking.py``) use them too
and a benchmark must not depend on a one-off experiment.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch

from zssr.bench import METHODS, MethodInput, MethodOutput
from zssr.io import write_image
from zssr.kernels import align_kernel, downscale, gaussian_kernel

#: The held-out scikit-image photos: no design choice was made on them before they were used.
HELDOUT = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "coins", "clock", "moon")

#: The controlled check: each photo blurred ×2 by each isotropic σ (px); see :func:`blurred_lr`.
PHOTOS = ("astronaut", "coffee", "camera")
SIGMAS = (0.6, 1.3, 2.2)

GENERIC_LABEL = "zssr+generic-kernel:preset=kernel"
GENERIC_SIGMA = 1.33  # px; median sqrt(minor·major) of the held-out KernelGAN estimates
GENERIC_SIZE = 14  # even grid, centre at 6.5: the convention of KernelGAN's ×2 kernels


def covariance(kernel: np.ndarray) -> np.ndarray:
    """The 2×2 covariance (px², rows then columns) of a kernel read as a distribution."""
    k = kernel / kernel.sum()
    y, x = np.indices(k.shape)
    dy, dx = y - (k * y).sum(), x - (k * x).sum()
    return np.array([[(k * dy * dy).sum(), (k * dy * dx).sum()], [(k * dy * dx).sum(), (k * dx * dx).sum()]])


def own_widths(kernel: np.ndarray) -> tuple[float, float]:
    """The kernel's own minor and major standard deviations (px): sqrt of its covariance eigenvalues."""
    lo, hi = np.linalg.eigvalsh(covariance(kernel))
    return math.sqrt(max(lo, 0.0)), math.sqrt(max(hi, 0.0))


def axis_ratios(kernel: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """The estimate's std along the true kernel's minor and major axes, over the true std there."""
    w, v = np.linalg.eigh(covariance(true))
    c = covariance(kernel)
    minor, major = (math.sqrt(float(v[:, i] @ c @ v[:, i]) / float(w[i])) for i in range(2))
    return minor, major


def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as float64 in [0, 1] (H×W or H×W×3)."""
    import skimage.data

    return getattr(skimage.data, name)().astype(np.float64) / 255.0


def heldout_folder(folder: Path) -> Path:
    """``folder`` with the :data:`HELDOUT` photos written into it as PNGs (a ``zssr bench`` data set)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in HELDOUT:
        write_image(folder / f"{name}.png", photo(name).astype(np.float32))
    return folder


def blurred_lr(name: str, sigma: float) -> torch.Tensor:
    """The controlled check's input: photo ``name`` blurred by an isotropic σ, ×2 down, 8-bit; 1×C×H×W float32."""
    img = photo(name)
    hr = torch.from_numpy(img[..., None] if img.ndim == 2 else img).permute(2, 0, 1)[None]
    lr = (downscale(hr, align_kernel(gaussian_kernel(13, sigma, sigma), 2), 2) * 255.0).round() / 255.0
    return lr.float()


def generic_kernel_method(request: MethodInput) -> MethodOutput:
    """``zssr+true-kernel`` with one fixed generic kernel instead of the image's true one.

    The bar an estimator must clear: a kernel that ignores the image (isotropic Gaussian,
    σ = :data:`GENERIC_SIGMA`). Register it as ``zssr+generic-kernel``.
    """
    kernel = gaussian_kernel(GENERIC_SIZE, GENERIC_SIGMA, GENERIC_SIGMA).numpy()
    out = METHODS["zssr+true-kernel"](dataclasses.replace(request, kernel=kernel))
    return dataclasses.replace(out, kernel=kernel, info={**out.info, "generic_sigma": GENERIC_SIGMA})
