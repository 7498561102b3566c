"""Edge-profile kernel estimation: the blur measured across the image's strongest edges.

Why a third estimator: KernelGAN's 7×7 critic hardly tells a 0.6-px blur from a 2.2-px
one (``experiments/kernel_estimation/results/kernelgan_d_power.md``), and the cross-scale
estimator's (``experiments/kernel_estimation/crossscale.py``) global
lag statistics read smooth images as blurred and stripes as elongation. A step edge is
the one structure that looks the same at every scale, so its profile *is* the blur.

The measurement is the re-blur gradient ratio (Zhuo & Sim 2011, defocus maps): across a
step edge blurred by ``s``, re-blurring with a known ``σ₀`` lowers the peak gradient by
``R = sqrt(s² + σ₀²) / s``, so ``s² = σ₀² / (R² − 1)``. Here:

1. grey LR, border shaved; Gaussian-derivative gradients (``σ_d``) of it and of its
   re-blur; candidate points are gradient maxima across the edge (non-maximum
   suppression), of which only the strongest ``TOP_FRACTION`` are kept: the strongest
   edges are the cleanest steps (texture and thin lines read too sharp);
2. each point gives ``s² − σ_d²``, the blur variance along its edge normal ``n``;
3. *size*: the median over all points; *shape*: per normal-angle bin the median, fitted
   by least squares with ``nᵀΣn`` (a 2×2 covariance). Only the shape's orientation is
   kept, its elongation capped at ``MAX_ELONGATION`` (a wrongly elongated kernel is what
   made the cross-scale estimates collapse in ZSSR), scaled to the measured size;
4. LR pixels → HR pixels (× the SR factor), then ``CALIBRATION``.

Deterministic, no training, under a second per image. Parameters were chosen on
scikit-image photos only (the nine held-out photos and six texture-heavy ones, five kernel
draws each), never on Set5/Set14: ``benchmarks/results/edgeblur_tracking.md``. Set14 did
show the first version's failure (fine texture read too sharp under a wide re-blur), which
is why the texture photos joined the sweep: ``benchmarks/results/edgeblur_table2.md``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy import ndimage

from ..errors import ConfigError, StructureError
from ..kernels import gaussian_kernel
from ._common import MARGIN, KernelEstimate, check_factor, check_image, luma

__all__ = [
    "CALIBRATION", "MAX_ELONGATION", "TOP_FRACTION", "edge_blur", "edge_sharpness", "estimate_kernel_edges",
    "kernel_from_covariance",
]

DERIVATIVE_SIGMA = 0.5  # σ_d (LR px): damps 8-bit quantisation, small next to the blur
# σ₀ (LR px), small: a wider re-blur also averages the *neighbouring* edges of fine texture,
# so stripes and grain read sharp (σ₀ = 1.5 read zebra's blur 0.4× too narrow; dev sweep 0.5-1.5)
REBLUR_SIGMA = 0.6
TOP_FRACTION = 0.03  # strongest 3% of edge maxima: the cleanest steps (dev sweep 1%-10%; 10% reads texture)
ANGLE_BINS = 12  # 15° bins of the edge normal
MIN_BIN_POINTS = 5
MIN_POINTS = 30  # fewer edge points than this: no estimate (too little structure)
MAX_ELONGATION = 1.5  # major/minor σ cap of the estimate (true DIV2KRK ×2 kernels: up to ~3.8)
CALIBRATION = 0.75  # dev median ratio along the true minor axis 0.94: just below 1, the safer side
FLOOR_VARIANCE = 0.05**2  # px²: a measured variance is never below a near-delta


def _edge_points(
    gray: np.ndarray, derivative_sigma: float, reblur_sigma: float, top_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Blur variance along the normal (LR px²) and normal angle in [0, π) at the strongest edge maxima."""
    gy = ndimage.gaussian_filter(gray, derivative_sigma, order=(1, 0), mode="nearest")
    gx = ndimage.gaussian_filter(gray, derivative_sigma, order=(0, 1), mode="nearest")
    blurred = ndimage.gaussian_filter(gray, reblur_sigma, mode="nearest")
    by = ndimage.gaussian_filter(blurred, derivative_sigma, order=(1, 0), mode="nearest")
    bx = ndimage.gaussian_filter(blurred, derivative_sigma, order=(0, 1), mode="nearest")
    mag, mag_blurred = np.hypot(gy, gx), np.hypot(by, bx)
    angle = np.arctan2(gy, gx) % np.pi
    # non-maximum suppression along the normal, quantised to the 4 grid directions
    h, w = gray.shape
    padded = np.pad(mag, 1)
    sector = np.round(angle / (np.pi / 4)).astype(int) % 4
    maxima = np.zeros((h, w), dtype=bool)
    for k, (oy, ox) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead = padded[1 + oy : 1 + oy + h, 1 + ox : 1 + ox + w]
        behind = padded[1 - oy : 1 - oy + h, 1 - ox : 1 - ox + w]
        maxima |= (sector == k) & (mag >= ahead) & (mag > behind)
    edge = int(math.ceil(3 * reblur_sigma))  # the re-blur reads past the border there
    maxima[:edge], maxima[-edge:], maxima[:, :edge], maxima[:, -edge:] = False, False, False, False
    maxima &= mag > 0
    if maxima.sum() < MIN_POINTS:
        raise StructureError("image has too few edges to estimate a kernel from")
    strong = maxima & (mag >= np.quantile(mag[maxima], 1.0 - top_fraction))
    ratio = mag[strong] / np.maximum(mag_blurred[strong], 1e-12)
    keep = ratio > 1.0 + 1e-6  # a ratio ≤ 1 is no step edge (noise, or a gradient that rises on re-blur)
    if keep.sum() < MIN_POINTS:
        raise StructureError("image has too few edges to estimate a kernel from")
    variance = reblur_sigma**2 / (ratio[keep] ** 2 - 1.0) - derivative_sigma**2
    return variance, angle[strong][keep]


def edge_blur(
    gray: np.ndarray,
    *,
    derivative_sigma: float = DERIVATIVE_SIGMA,
    reblur_sigma: float = REBLUR_SIGMA,
    top_fraction: float = TOP_FRACTION,
    max_elongation: float = MAX_ELONGATION,
) -> np.ndarray:
    """The blur covariance (LR px², rows then columns) measured at a grey image's strongest edges.

    The keywords exist for the parameter sweep (``benchmarks/edgeblur_tracking.py``); the
    defaults are the committed choice.

    Raises:
        ConfigError: a parameter is not a finite positive number (``top_fraction`` ≤ 1,
            ``max_elongation`` ≥ 1).
        StructureError: too few edges (a flat or nearly flat image).
    """
    limits = {"derivative_sigma": (derivative_sigma, 0.0, math.inf), "reblur_sigma": (reblur_sigma, 0.0, math.inf),
              "top_fraction": (top_fraction, 0.0, 1.0), "max_elongation": (max_elongation, 1.0, math.inf)}
    for name, (value, low, high) in limits.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not (number and low <= value <= high and value > 0):
            raise ConfigError(f"{name} must be a finite number in {'[' if low else '('}{low:g}, {high:g}], got {value!r}")
    variance, angle = _edge_points(np.asarray(gray, dtype=np.float64), derivative_sigma, reblur_sigma, top_fraction)
    size, fitted = shape_fit(variance, angle)
    if fitted is None:  # fewer normal directions than covariance entries: no shape, size only
        return np.eye(2) * size
    lam, vec = fitted
    elongation = min(math.sqrt(lam[1] / lam[0]), max_elongation)
    return vec @ np.diag([size / elongation, size * elongation]) @ vec.T


def shape_fit(variance: np.ndarray, angle: np.ndarray) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """The median blur variance (size) and the per-angle least-squares covariance's (eigenvalues, eigenvectors).

    Per normal-angle bin the median variance, fitted with ``nᵀΣn`` weighted by √count; the
    eigenvalues floored at :data:`FLOOR_VARIANCE`. None for the shape with fewer than three bins.
    """
    size = max(float(np.median(variance)), FLOOR_VARIANCE)
    rows, values, weights = [], [], []
    which = np.minimum((angle / np.pi * ANGLE_BINS).astype(int), ANGLE_BINS - 1)
    for b in range(ANGLE_BINS):
        v = variance[which == b]
        if v.size >= MIN_BIN_POINTS:
            phi = (b + 0.5) * np.pi / ANGLE_BINS
            ny, nx = math.sin(phi), math.cos(phi)
            rows.append([ny * ny, 2 * ny * nx, nx * nx])
            values.append(float(np.median(v)))
            weights.append(math.sqrt(v.size))
    if len(rows) < 3:
        return size, None
    wts = np.asarray(weights)
    cyy, cyx, cxx = np.linalg.lstsq(np.asarray(rows) * wts[:, None], np.asarray(values) * wts, rcond=None)[0]
    lam, vec = np.linalg.eigh(np.array([[cyy, cyx], [cyx, cxx]]))
    return size, (np.maximum(lam, FLOOR_VARIANCE), vec)


def edge_sharpness(image: torch.Tensor) -> float | None:
    """The minor-axis blur σ (px) across an image's strongest edges, border shaved; None with too few edges.

    Used on an SR *output* (any size): :func:`~zssr.kernel_estimation.oversharpened` reads it.
    """
    x = image[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
    if min(x.shape[-2:]) < 16:
        return None
    try:
        cov = edge_blur(luma(x))
    except StructureError:
        return None
    return math.sqrt(max(float(np.linalg.eigvalsh(cov)[0]), 0.0))


def kernel_from_covariance(cov: np.ndarray) -> torch.Tensor:
    """A Gaussian correlation kernel with covariance ``cov`` (px², rows then columns).

    Even grid reaching 3.5σ with its centre between taps, as KernelGAN's 14×14 kernels
    (the unaligned ×2 convention of :mod:`zssr.kernel_estimation`); sums to 1.
    """
    lam, vec = np.linalg.eigh(cov)
    # gaussian_kernel's σ_x axis points along (cos θ, −sin θ) in (x, y-down): put it on the major axis
    theta = math.atan2(-float(vec[0, 1]), float(vec[1, 1]))
    size = max(8, 2 * math.ceil(3.5 * math.sqrt(float(lam[1]))))
    return gaussian_kernel(size, math.sqrt(float(lam[0])), math.sqrt(float(lam[1])), theta)


def estimate_kernel_edges(image: torch.Tensor, factor: float = 2) -> KernelEstimate:
    """Estimate the SR kernel from the blur across the LR image's strongest edges.

    Deterministic; well under a second per image on one CPU core. Any factor ``f ≥ 1``
    (×3 and non-integer too) directly: the blur measured in LR pixels is the kernel's width
    over ``f``, so the kernel's covariance is ``(f · CALIBRATION)² · Σ_LR`` in HR pixels.
    (KernelGAN composes its ×2 kernel for ×4 because its generator *is* a ×2 downscaler;
    here nothing is ×2-specific.) Only ×2 is benchmarked (``edgeblur_table2.md``).

    Args:
        image: the LR image, ``1×C×H×W`` float in [0, 1], C = 1 or 3, at least 84×84.
        factor: the SR factor (≥ 1) the kernel is wanted for.

    Returns:
        A :class:`~zssr.kernel_estimation.KernelEstimate` (``iterations`` 0, ``spread`` 0: a single
        Gaussian is never the multi-modal failure ``reliable`` screens KernelGAN for).

    Raises:
        ShapeError: ``image`` is not 1×C×H×W with C in (1, 3), or smaller than 84×84.
        ScaleError: ``factor`` is not a finite number >= 1.
        StructureError: too few edges to measure (a flat or nearly flat image).
    """
    f = check_factor(factor)
    image = check_image(image)
    start = time.perf_counter()
    if f == 1.0:
        identity = torch.ones(1, 1, dtype=torch.float64)
        return KernelEstimate(identity, f, 0, time.perf_counter() - start, {}, spread=0.0)
    cov_lr = edge_blur(luma(image[..., MARGIN:-MARGIN, MARGIN:-MARGIN]))
    kernel = kernel_from_covariance(cov_lr * (f * CALIBRATION) ** 2)
    return KernelEstimate(kernel, f, 0, time.perf_counter() - start, {}, spread=0.0)
