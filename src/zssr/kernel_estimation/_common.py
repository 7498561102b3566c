"""What every kernel estimator shares: the result type, input checks, luma, and kernel reshaping.

Kept apart from the estimators so that each of them (and the experimental ones outside the
package) builds on one definition of "a valid input" and of the kernel convention.

Convention:
    Kernels are **correlation** kernels, as everywhere in ``zssr.kernels``, returned
    *unaligned*: the centre of mass sits at the geometric centre of the grid (an even grid
    for ×2, as ``bicubic_kernel(2)``). Pass a kernel through ``zssr.kernels.align_kernel(k,
    factor)`` before ``downscale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage

from .._validate import scale_value
from ..errors import ScaleError, ShapeError, ZSSRError
from ..kernels import compose_x4
from ..kernels.validate import MAX_FACTOR

__all__ = [
    "CROP",
    "DEGENERATE_SPREAD",
    "MARGIN",
    "MIN_SIZE",
    "SPREAD_RADIUS",
    "WIDTH_CORRECTION",
    "KernelEstimate",
    "check_factor",
    "check_image",
    "kernel_for_factor",
    "luma",
    "rescale_kernel",
    "spread_mass",
    "trim_zero_border",
]

CROP = 64  # KernelGAN's G input crop (authors' default); it sets the smallest usable image
MARGIN = 10  # border shaved first: synthetic LR images carry boundary artefacts there
# One minimum for every estimator, so ``--kernel auto`` has a single rule whichever runs.
MIN_SIZE = CROP + 2 * MARGIN  # 84
# *ours*: an estimate with more than this share of its mass over 4.5 px (Chebyshev) from
# its centre of mass is degenerate. Measured on 42 Set14 estimates: every healthy kernel
# had <= 0.006, every failure >= 0.2 (benchmarks/results/gpu_h200/table2_safeguard.md).
DEGENERATE_SPREAD = 0.2
SPREAD_RADIUS = 4.5
# *ours*, opt-in: a cross-scale estimator learns the blur that makes LR↓ look like LR, not
# the blur that made LR from HR. For Gaussian blurs of a sharp image those differ by a
# factor √3/2 in width (LR's blur σ/2 in its own pixels; σ'² + σ²/4 = 4·σ²/4 ⇒ σ' = (√3/2)·σ),
# so the ×2 estimate can be stretched by 2/√3 (covariance × 4/3). That brings KernelGAN's
# kernel closer to the true degradation (LR re-synthesis +3.5 dB on Set14) but makes *ZSSR*
# worse: KernelGAN under-estimates anisotropy, the stretch over-widens the true minor axis,
# and ZSSR given a too-wide kernel over-sharpens
# (experiments/kernel_estimation/results/kernel_width_correction.md).
WIDTH_CORRECTION = 2.0 / math.sqrt(3.0)


@dataclass(frozen=True)
class KernelEstimate:
    """The result of a kernel estimator.

    Attributes:
        kernel: 2-D float64 CPU correlation kernel summing to 1 (see module Convention).
        factor: the SR factor the kernel is for.
        iterations: training iterations run (KernelGAN: G and D step each; 0 for estimators
            that do not train).
        seconds: wall-clock time of the estimate.
        losses: per-iteration values of each loss term (unweighted), keyed by loss name.
        spread: :func:`spread_mass` of the ×2 kernel (before any width correction); above
            ``DEGENERATE_SPREAD`` the estimate is a known KernelGAN failure (see :attr:`reliable`).
        seeds: the seeds trained, in order; more than one when a degenerate estimate was
            retried (``restarts``). ``kernel``, ``losses`` and ``spread`` are the last one's;
            ``iterations`` and ``seconds`` count all of them.
    """

    kernel: torch.Tensor
    factor: float
    iterations: int
    seconds: float
    losses: dict[str, list[float]] = field(default_factory=dict)
    spread: float = 0.0
    seeds: tuple[int, ...] = ()

    @property
    def reliable(self) -> bool:
        """False for a multi-modal kernel whose mass sits far from its centre of mass.

        On periodic or strongly repetitive content (Set14's zebra, bridge, pepper) KernelGAN
        can settle on a sum of shifted copies of the blur: patches across scales match up to
        a period, so D cannot object, and a kernel split between opposite corners even
        satisfies the centralized loss. ZSSR given such a kernel falls 5–14 dB *below*
        bicubic (benchmarks/results/gpu_h200). Callers fall back to the bicubic kernel.
        """
        return self.spread <= DEGENERATE_SPREAD


# ----------------------------------------------------------------------------- validation


def check_factor(factor: object) -> float:
    """The SR factor as a float in ``[1, 256]``, or a ``ScaleError`` naming ``factor``."""
    f = scale_value(factor, "factor", minimum=1.0, strict=False)
    if f > MAX_FACTOR:
        raise ScaleError(f"factor must be at most {MAX_FACTOR:g} to estimate a kernel (larger kernels are never "
                         f"usable), got {factor!r}")
    return f


def check_image(image: object) -> torch.Tensor:
    """The LR image if it is a finite float ``1×C×H×W`` tensor (C = 1 or 3) of at least ``MIN_SIZE``.

    Raises:
        ShapeError: wrong type, shape, size or dtype.
        ZSSRError: NaN or Inf values.
    """
    if not torch.is_tensor(image):
        raise ShapeError(f"image must be a 1×C×H×W torch tensor, got {type(image).__name__}")
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise ShapeError(f"image must be 1×C×H×W with C in (1, 3), got shape {tuple(image.shape)}")
    h, w = int(image.shape[-2]), int(image.shape[-1])
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ShapeError(
            f"image must be at least {MIN_SIZE}×{MIN_SIZE} (a {CROP}-px crop plus a {MARGIN}-px "
            f"border on each side), got {h}×{w}"
        )
    if not image.is_floating_point():
        raise ShapeError(f"image must be a floating-point tensor in [0, 1], got dtype {image.dtype}")
    if not bool(torch.isfinite(image).all()):
        raise ZSSRError("image must hold finite values, got NaN or Inf")
    return image


# ----------------------------------------------------------------------------- images


def luma(image: torch.Tensor) -> np.ndarray:
    """Grey version of a 1×C×H×W image (BT.601 luma for RGB, as KernelGAN's ``rgb2gray``).

    Shape: ``(1, C, H, W)`` tensor → ``(H, W)`` float64 array.
    """
    x = image[0].detach().to("cpu", torch.float64).numpy()
    if x.shape[0] == 3:
        return np.tensordot(np.array([0.299, 0.587, 0.114]), x, axes=1)
    return x[0]


# ----------------------------------------------------------------------------- kernels


def spread_mass(kernel: np.ndarray | torch.Tensor, radius: float = SPREAD_RADIUS) -> float:
    """Share of a kernel's mass farther than ``radius`` px (Chebyshev) from its centre of mass.

    A ×2 camera blur from KernelGAN's 13×13 support is compact around its centre; a
    failed estimate spreads over the support's edges and corners.
    """
    k = np.abs(np.asarray(kernel, dtype=np.float64))
    total = k.sum()
    if total <= 0:
        return 1.0
    ys, xs = np.indices(k.shape)
    cy, cx = (k * ys).sum() / total, (k * xs).sum() / total
    far = np.maximum(np.abs(ys - cy), np.abs(xs - cx)) > radius
    return float(k[far].sum() / total)


def trim_zero_border(k: np.ndarray) -> np.ndarray:
    """Drop all-zero rows/columns in equal numbers from opposite sides (lossless, keeps the centre)."""
    nz_r, nz_c = np.flatnonzero(k.any(axis=1)), np.flatnonzero(k.any(axis=0))
    if nz_r.size == 0:
        return k
    m = min(nz_r[0], k.shape[0] - 1 - nz_r[-1], nz_c[0], k.shape[1] - 1 - nz_c[-1])
    return k[m : k.shape[0] - m, m : k.shape[1] - m]


def rescale_kernel(k: np.ndarray, s: float, *, even: bool = False) -> np.ndarray:
    """Stretch a kernel spatially by ``s`` about its centre of mass.

    The centre of mass lands on the centre of an odd grid, or with ``even`` (``s ≥ 1``
    only) on the geometric centre of an even grid: the unaligned ×2 convention. ``s ≥ 1``:
    bilinear pull-back sampling. ``s < 1``: bilinear splatting (keeps the mass where
    sampling would miss it). Negative taps are clipped, the result sums to 1.
    """
    n0, n1 = k.shape
    ci, cj = ndimage.center_of_mass(k)
    reach = max(ci, cj, n0 - 1 - ci, n1 - 1 - cj)
    half = int(math.ceil(s * reach)) + 1
    m = 2 * half + (0 if even and s >= 1.0 else 1)
    if s >= 1.0:
        p = np.arange(m, dtype=np.float64) - (m - 1) / 2.0
        rows, cols = np.meshgrid(ci + p / s, cj + p / s, indexing="ij")
        out = ndimage.map_coordinates(k, [rows, cols], order=1, mode="constant", cval=0.0)
    else:
        out = np.zeros((m, m))
        ii, jj = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
        y = half + (ii - ci) * s
        x = half + (jj - cj) * s
        y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
        fy, fx = y - y0, x - x0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                np.add.at(out, (y0 + dy, x0 + dx), k * wy * wx)
    out = np.clip(out, 0.0, None)
    return out / out.sum()


def kernel_for_factor(k2: np.ndarray, factor: float) -> np.ndarray:
    """Turn a ×2 estimate into the kernel for ``factor``.

    ×4 composes the ×2 kernel with itself dilated by 2 (exact if the ×4 degradation is two
    ×2 steps, KernelGAN's way); any other factor stretches it by ``sqrt((f² − 1)/3)``, the
    covariance of that ×2 cascade extended to any ``f`` (1 at ×2, √5 at ×4).
    """
    if factor == 2:
        return k2
    if factor == 4:
        return np.asarray(compose_x4(torch.as_tensor(k2)), dtype=np.float64)
    return rescale_kernel(k2, math.sqrt((factor * factor - 1.0) / 3.0))
