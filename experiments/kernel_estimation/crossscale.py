"""Cross-scale kernel estimation: the Gaussian blur under which the image looks like itself.

KernelGAN's principle (Bell-Kligler et al. 2019, §3) without the GAN: the right ×2
downscaling kernel ``k`` makes ``LR↓k`` look like ``LR`` patch-for-patch, because
natural images recur across scales. KernelGAN asks a learned 7×7 patch critic
whether the two look alike; on our images that critic hardly tells a 0.6-px blur
from a 2.2-px one, so its estimates barely depend on the true kernel
(``results/kernelgan_ab.md``). Here the critic is fixed and explicit:

- the *statistic*: along four directions (rows, columns, both diagonals) the mean
  absolute difference of pixels ``L`` apart, for lags ``L = 1, 2, 3``, as the ratios
  ``m₂/m₁`` and ``m₃/m₁`` (8 numbers). They measure how fast the image decorrelates
  along each direction, i.e. its blur there, and are blind to contrast and mean;
- the *model*: an anisotropic Gaussian ``k`` (σ_y, σ_x, θ), the DIV2KRK / paper §4.2
  kernel family;
- the *fit*: Nelder-Mead on the squared difference between the statistic of the
  image and of ``downscale(image, k, 2)``, from six starting kernels (deterministic).

Like KernelGAN's G, ``k`` is the blur that maps LR to LR↓. For a Gaussian blur of a
sharp scene that is √3/2 as wide as the blur that made LR from HR
(``zssr.kernel_estimation.WIDTH_CORRECTION``); ``width_correction`` undoes that.

It measures the *blur*, so it is only as good as the assumptions: sharp underlying
edges, little noise (noise flattens the lag ratios: the fit then reads a sharp
kernel), and a blur close to Gaussian. Held-out check:
``results/crossscale_tracking.md``; Table 2 with it: ``results/crossscale_table2.md``
(runs in ``benchmarks/results/gpu_h100_crossscale/``): −5% of the bicubic-kernel →
true-kernel gap, so it left the package for this folder (#12); the harness option
``estimator=crossscale`` that made those runs is gone with it.

Import it with this folder on the path (the scripts here run from it; tests:
``PYTHONPATH=src python -m pytest experiments/kernel_estimation``).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import optimize

from zssr.errors import ConfigError, ZSSRError
from zssr.kernel_estimation import (
    MARGIN,
    WIDTH_CORRECTION,
    KernelEstimate,
    check_factor,
    check_image,
    kernel_for_factor,
    luma,
    trim_zero_border,
)
from zssr.kernels import downscale, gaussian_kernel

if TYPE_CHECKING:
    from zssr.bench import MethodInput, MethodOutput

__all__ = ["SIGMA_RANGE", "estimate_kernel_crossscale", "estimated_kernel_method", "lag_statistics"]

DIRECTIONS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (1, -1))
LAGS: tuple[int, ...] = (1, 2, 3)
#: Kernel σ searched, in LR pixels: below 0.25 a Gaussian is a delta on the pixel grid;
#: 4.5 px is past DIV2KRK's widest ×2 kernel (variance 5 px², σ 2.24 px, in HR pixels).
SIGMA_RANGE = (0.25, 4.5)
STARTS: tuple[tuple[float, float, float], ...] = tuple(
    (s, 1.3 * s, t) for s in (0.6, 1.0, 1.6) for t in (0.0, math.pi / 4)
)
FIT_SHAVE = 4  # rows/columns of LR↓ dropped at each side: boundary handling, not the kernel
MAX_EVALUATIONS = 300  # per start; Nelder-Mead on 3 parameters settles in ~100-200


def lag_statistics(gray: np.ndarray) -> np.ndarray:
    """The 8 lag ratios ``m₂/m₁, m₃/m₁`` per direction (rows, columns, two diagonals).

    ``m_L`` is the mean ``|I(p + L·d) − I(p)|`` over the image. Contrast and mean
    cancel in the ratios; blur raises them towards ``L`` (a smooth ramp), sharp
    detail lowers them towards 1.

    Raises:
        ZSSRError: the image is flat along a direction (nothing to measure).
    """
    h, w = gray.shape
    out = []
    for dy, dx in DIRECTIONS:
        m = []
        for lag in LAGS:
            oy, ox = lag * dy, lag * dx
            a = gray[max(0, oy) : h + min(0, oy), max(0, ox) : w + min(0, ox)]
            b = gray[max(0, -oy) : h + min(0, -oy), max(0, -ox) : w + min(0, -ox)]
            m.append(float(np.abs(a - b).mean()))
        if not m[0] > 0:
            raise ZSSRError("image is flat: no structure to estimate a kernel from")
        out += [v / m[0] for v in m[1:]]
    return np.asarray(out)


def _sigmas(params: np.ndarray) -> tuple[float, float]:
    """(log σ_y, log σ_x, …) → (σ_y, σ_x) clipped to ``SIGMA_RANGE``."""
    lo, hi = math.log(SIGMA_RANGE[0]), math.log(SIGMA_RANGE[1])
    sy, sx = (math.exp(min(max(float(p), lo), hi)) for p in params[:2])
    return sy, sx


def _kernel(params: np.ndarray) -> torch.Tensor:
    """(log σ_y, log σ_x, θ) → a Gaussian on an odd grid reaching 3σ (σ clipped to ``SIGMA_RANGE``)."""
    sy, sx = _sigmas(params)
    size = 2 * math.ceil(3.0 * max(sy, sx)) + 1
    return gaussian_kernel(size, sy, sx, float(params[2]))


def _fit(gray: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Best (log σ_y, log σ_x, θ), its mismatch and the number of evaluations."""
    target = lag_statistics(gray)
    image = torch.as_tensor(gray)[None, None]
    count = 0

    def mismatch(params: np.ndarray) -> float:
        nonlocal count
        count += 1
        small = downscale(image, _kernel(params), 2)[0, 0, FIT_SHAVE:-FIT_SHAVE, FIT_SHAVE:-FIT_SHAVE]
        return float(((lag_statistics(small.numpy()) - target) ** 2).sum())

    best = None
    for sy, sx, theta in STARTS:
        res = optimize.minimize(
            mismatch, np.array([math.log(sy), math.log(sx), theta]), method="Nelder-Mead",
            options={"xatol": 1e-3, "fatol": 1e-9, "maxfev": MAX_EVALUATIONS},
        )
        if best is None or res.fun < best.fun:
            best = res
    return best.x, float(best.fun), count


def estimate_kernel_crossscale(
    image: torch.Tensor,
    factor: float = 2,
    *,
    width_correction: bool = False,
) -> KernelEstimate:
    """Estimate the SR kernel as the Gaussian that best preserves lag statistics across scales.

    Deterministic (no seed, no training); a few seconds per image on one CPU core.
    Factors other than 2 are derived from the ×2 kernel exactly as in
    :func:`zssr.kernel_estimation.estimate_kernel` (×4 by composition, others by stretching).

    Args:
        image: the LR image, ``1×C×H×W`` float in [0, 1], C = 1 or 3, at least 84×84.
        factor: the SR factor (≥ 1) the kernel is wanted for.
        width_correction: widen the fitted blur by 2/√3 (covariance × 4/3): from "the
            blur that maps LR to LR↓" to "the blur that made LR from a sharp HR".

    Returns:
        A :class:`~zssr.kernel_estimation.KernelEstimate`: a correlation kernel on an even grid with
        its centre at the grid centre (the unaligned ×2 convention, as KernelGAN's);
        ``iterations`` counts mismatch evaluations; ``losses["mismatch"]`` holds the
        best fit's mismatch.

    Raises:
        ShapeError: ``image`` is not 1×C×H×W with C in (1, 3), or smaller than 84×84.
        ScaleError: ``factor`` is not a finite number >= 1.
        ConfigError: ``width_correction`` is not a bool.
        ZSSRError: the image is flat (nothing to measure).
    """
    f = check_factor(factor)
    image = check_image(image)
    if not isinstance(width_correction, bool):
        raise ConfigError(f"width_correction must be true or false, got {width_correction!r}")
    start = time.perf_counter()
    if f == 1.0:
        identity = torch.ones(1, 1, dtype=torch.float64)
        return KernelEstimate(identity, f, 0, time.perf_counter() - start, {"mismatch": []})
    gray = luma(image[..., MARGIN:-MARGIN, MARGIN:-MARGIN])
    params, mismatch, count = _fit(gray)
    sy, sx = _sigmas(params)
    if width_correction:
        sy, sx = sy * WIDTH_CORRECTION, sx * WIDTH_CORRECTION
    size = max(8, 2 * math.ceil(3.5 * max(sy, sx)))  # even grid: centre between taps, as KernelGAN's 14×14
    k2 = gaussian_kernel(size, sy, sx, float(params[2])).numpy()
    kernel = torch.as_tensor(trim_zero_border(kernel_for_factor(k2, f)), dtype=torch.float64)
    # spread 0: one Gaussian cannot be the multi-modal failure ``reliable`` screens KernelGAN for.
    return KernelEstimate(kernel, f, count, time.perf_counter() - start, {"mismatch": [mismatch]}, spread=0.0)


def estimated_kernel_method(request: MethodInput) -> MethodOutput:
    """The harness's ``zssr+estimated-kernel`` with ``estimator=crossscale`` (the harness option it had until #12).

    Register it under that name (``{**METHODS, "zssr+estimated-kernel": estimated_kernel_method}``,
    as ``crossscale_table2.py run`` does) so run folders keep their method labels; any other
    estimator goes to the harness's own method. Options for ``crossscale``:
    ``width_correction=`` (bool), then as ``zssr`` (default preset ``kernel``). The kernel
    reaches ZSSR as a given kernel does (``zssr+true-kernel``), which is what the harness
    did with a reliable estimate; a single Gaussian is always reliable.

    Raises:
        ConfigError: ``width_correction`` not a bool, or a KernelGAN-only option given.
    """
    import dataclasses

    from zssr.bench import METHODS
    from zssr.io import to_tensor

    opts = dict(request.options)
    if opts.get("estimator") != "crossscale":
        return METHODS["zssr+estimated-kernel"](request)
    del opts["estimator"]
    width_correction = opts.pop("width_correction", False)
    if not isinstance(width_correction, bool):
        raise ConfigError(f"option width_correction must be true or false, got {width_correction!r}")
    unused = sorted({"iterations", "restarts"} & set(opts))
    if unused:
        raise ConfigError(f"option(s) {', '.join(unused)} do not apply to estimator=crossscale: it does not train")
    estimate = estimate_kernel_crossscale(to_tensor(request.lr), request.scale, width_correction=width_correction)
    kernel = estimate.kernel.numpy()
    out = METHODS["zssr+true-kernel"](dataclasses.replace(request, kernel=kernel, options=opts))
    info = {
        **out.info, "kernel_iterations": estimate.iterations, "kernel_seconds": estimate.seconds,
        "kernel_spread": estimate.spread, "kernel_fallback": not estimate.reliable,
        "kernel_seeds": list(estimate.seeds),
    }
    return dataclasses.replace(out, kernel=kernel, info=info)
