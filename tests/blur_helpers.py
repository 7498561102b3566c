"""Test inputs shared by the kernel-estimator tests (here and in experiments/kernel_estimation).

A real photo, the Table 2 degradation with a chosen Gaussian, and the widths of a kernel,
so that every estimator is checked on the same inputs with the same measure.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from skimage import data

from zssr.kernel_estimation import KernelEstimate
from zssr.kernels import align_kernel, downscale, gaussian_kernel


def photo(name: str = "astronaut") -> torch.Tensor:
    """A scikit-image photo as a ``1×C×H×W`` float64 tensor in [0, 1]."""
    img = getattr(data, name)().astype(np.float64) / 255.0
    return torch.from_numpy(img[..., None] if img.ndim == 2 else img).permute(2, 0, 1)[None]


def blurred_lr(hr: torch.Tensor, sigma_y: float, sigma_x: float, theta: float = 0.0) -> torch.Tensor:
    """The Table 2 degradation with a chosen Gaussian: ×2 downscale, 8-bit rounding."""
    k = align_kernel(gaussian_kernel(13, sigma_y, sigma_x, theta), 2)
    return ((downscale(hr, k, 2) * 255.0).round() / 255.0).float()


def kernel_widths(k: torch.Tensor) -> tuple[float, float]:
    """The kernel's standard deviations along its minor and major axes (px)."""
    a = k.numpy() / float(k.sum())
    y, x = np.indices(a.shape)
    dy, dx = y - (a * y).sum(), x - (a * x).sum()
    cov = np.array([[(a * dy * dy).sum(), (a * dy * dx).sum()], [(a * dy * dx).sum(), (a * dx * dx).sum()]])
    lo, hi = np.linalg.eigvalsh(cov)
    return math.sqrt(lo), math.sqrt(hi)


def assert_deterministic_normalised_even_kernel(estimator: Callable[[torch.Tensor], KernelEstimate], lr: torch.Tensor) -> KernelEstimate:
    """Two runs give the same float64 kernel: square, even-sided, non-negative, summing to 1, reliable."""
    a, b = estimator(lr), estimator(lr)
    assert isinstance(a, KernelEstimate) and torch.equal(a.kernel, b.kernel)
    k = a.kernel
    assert k.dtype == torch.float64 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 0
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-12) and float(k.min()) >= 0.0
    assert a.reliable
    return a
