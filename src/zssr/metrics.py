"""PSNR and SSIM under the MATLAB protocol behind the paper's tables.

ZSSR's numbers come from "the common MATLAB script by Kim et al." (VDSR-style,
ZSSR issue #2; docs/authors_code.md §8): luminance ``Y`` of MATLAB ``rgb2ycbcr``, ``scale``
pixels shaved from every border, PSNR with peak 255 and Wang et al.'s
``ssim_index.m``. Other conventions move the numbers by tenths of a dB (OpenCV
YCrCb gave 37.03 instead of 37.37 on Set5 ×2, issue #2), so every step here
follows the MATLAB code. Check: SRCNN's bicubic protocol run through
``evaluate`` gives Set5 33.66/0.9299, 30.39/0.8682, 28.42/0.8104 (×2/×3/×4),
the published digits exactly (tests/test_metrics.py).

Convention:
    ``evaluate`` takes two images as numpy ``H×W`` or ``H×W×C`` float arrays in
    [0, 1] (the package boundary; torch ``C×H×W`` / ``1×C×H×W`` tensors are
    accepted too). ``psnr`` and ``ssim`` take images already brought to the
    [0, 255] scale (``rgb_to_y`` output, or ``255·rgb``), ``H×W`` or ``H×W×C``.
    All computation is float64.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ._validate import scale_pair
from .errors import ShapeError, ZSSRError

__all__ = [
    "Metrics",
    "SizeMismatchWarning",
    "evaluate",
    "psnr",
    "rgb_to_y",
    "shave",
    "ssim",
]

ImageLike = np.ndarray | torch.Tensor

# ITU-R BT.601 luma row of MATLAB rgb2ycbcr (``origT(1,:)``) and its offset,
# for R, G, B in [0, 1] and Y in [0, 255] ("studio swing", Y in [16, 235]).
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)
_Y_OFFSET = 16.0
# Wang et al. ssim_index.m defaults: fspecial('gaussian', 11, 1.5), K = [0.01 0.03].
_SSIM_WIN = 11
_SSIM_SIGMA = 1.5
_SSIM_K = (0.01, 0.03)


class SizeMismatchWarning(UserWarning):
    """Reference and test differ in size by a few pixels and were cropped to agree.

    SR outputs are often ``ceil(scale · lr)`` while the ground truth was
    modcropped, so off-by-a-few sizes are expected; larger gaps mean a wrong pair.
    """


@dataclass(frozen=True)
class Metrics:
    """PSNR (dB, ``inf`` for identical images) and SSIM (mean of the SSIM map)."""

    psnr: float
    ssim: float


# ----------------------------------------------------------------------------- helpers


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # MATLAB round() and uint8() conversion: halves go away from zero.
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _matlab_round(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _as_hwc(image: ImageLike, name: str) -> np.ndarray:
    """Float64 ``H×W×C`` copy of a [0, 1] image; torch tensors are ``(1×)C×H×W``."""
    if torch.is_tensor(image):
        t = image.detach()
        if t.dim() == 4:
            if t.shape[0] != 1:
                raise ShapeError(f"{name} must be a single image (batch size 1), got shape {tuple(t.shape)}")
            t = t[0]
        if t.dim() == 2:
            t = t[None]
        if t.dim() != 3:
            raise ShapeError(f"{name} must be a tensor C×H×W or 1×C×H×W, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise ZSSRError(f"{name} must hold floats in [0, 1], got dtype {t.dtype}")
        arr = t.to(device="cpu", dtype=torch.float64).numpy().transpose(1, 2, 0)
    else:
        arr = np.asarray(image)
        if not np.issubdtype(arr.dtype, np.floating):
            raise ZSSRError(
                f"{name} must be a float array in [0, 1], got dtype {arr.dtype} (divide 8-bit images by 255)"
            )
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ShapeError(f"{name} must be H×W or H×W×C, got shape {arr.shape}")
        arr = arr.astype(np.float64)
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] not in (1, 3):
        raise ShapeError(f"{name} must be H×W×1 or H×W×3 with H, W ≥ 1, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ZSSRError(f"{name} must be finite, got NaN or inf values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ZSSRError(f"{name} must lie in [0, 1] (clip it first), got values in [{lo:.6g}, {hi:.6g}]")
    return arr


def _as_prepared(image: np.ndarray, name: str) -> np.ndarray:
    """Float64 ``H×W×C`` view of an image already on the [0, 255] scale."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ShapeError(f"{name} must be H×W or H×W×C with H, W, C ≥ 1, got shape {np.shape(image)}")
    if not np.all(np.isfinite(arr)):
        raise ZSSRError(f"{name} must be finite, got NaN or inf values")
    return arr


def _check_same_shape(reference: np.ndarray, test: np.ndarray) -> None:
    if reference.shape != test.shape:
        raise ShapeError(
            f"reference and test must have the same shape, got {reference.shape} and {test.shape}"
        )


def _check_data_range(data_range: float) -> float:
    value = float(data_range)
    if not math.isfinite(value) or value <= 0:
        raise ZSSRError(f"data_range must be finite and > 0, got {data_range!r}")
    return value


def _pair_shave(n: int | Sequence[int]) -> tuple[int, int]:
    def is_count(v: object) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v >= 0)

    items = (n, n) if not isinstance(n, (tuple, list)) else tuple(n)
    if len(items) != 2 or not all(is_count(v) for v in items):
        raise ShapeError(f"shave must be an integer ≥ 0 or a (vertical, horizontal) pair of them, got {n!r}")
    return int(items[0]), int(items[1])


def _valid_filter(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(w, x, 'valid')`` for a separable window ``w = outer(window, window)``.

    filter2 is correlation; the Gaussian is symmetric and separable, so two
    1-D passes over the valid region give the 2-D result (to float rounding).
    """
    k = window.shape[0]
    rows = np.lib.stride_tricks.sliding_window_view(x, k, axis=0) @ window  # (H-k+1)×W
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=1) @ window


def _gaussian_window() -> np.ndarray:
    """1-D factor of ``fspecial('gaussian', 11, 1.5)`` normalised to sum 1."""
    r = (_SSIM_WIN - 1) / 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * _SSIM_SIGMA**2))
    return g / g.sum()


# ----------------------------------------------------------------------------- public API


def rgb_to_y(image: ImageLike, *, round_y: bool = False) -> np.ndarray:
    """Luminance ``Y`` of MATLAB ``rgb2ycbcr``, on the [0, 255] scale.

    ``Y = 16 + 65.481·R + 128.553·G + 24.966·B`` for R, G, B in [0, 1]
    (ITU-R BT.601, MATLAB's double path times 255), so white → 235 and
    black → 16. A gray image is its own luminance: the MATLAB scripts use it
    directly, so it is returned as ``255·x``.

    Args:
        image: numpy ``H×W`` / ``H×W×1`` / ``H×W×3`` or torch ``C×H×W`` /
            ``1×C×H×W``, float in [0, 1].
        round_y: round to integers (half away from zero) and clip to [0, 255],
            as MATLAB ``rgb2ycbcr`` does for uint8 input: the VDSR/SRCNN scripts
            read 8-bit PNGs, so their Y is uint8.

    Returns:
        ``H×W`` float64 array in [0, 255].

    Raises:
        ShapeError: wrong rank or channel count (1 or 3 channels).
        ZSSRError: a non-float input, NaN/inf, or values outside [0, 1].

    Shape:
        ``H×W×C`` (numpy) or ``(1×)C×H×W`` (torch) → ``H×W``.
    """
    arr = _as_hwc(image, "image")
    if arr.shape[2] == 1:
        y = 255.0 * arr[:, :, 0]
    else:
        y = _Y_OFFSET + arr @ _Y_WEIGHTS
    if round_y:
        y = np.clip(_round_half_away(y), 0.0, 255.0)
    return y


def shave(image: np.ndarray, n: int | Sequence[int]) -> np.ndarray:
    """Crop ``n`` pixels from every border (the benchmarks' ``shave``, n = scale).

    Border pixels of an upscaled image depend on the resizer's boundary rule
    rather than on the method, so the protocol leaves them out.

    Args:
        image: ``H×W`` or ``H×W×C`` array.
        n: pixels to remove per side, one integer or a ``(vertical, horizontal)`` pair.

    Returns:
        A view ``image[n:H-n, n:W-n]``.

    Raises:
        ShapeError: a negative ``n`` or one that leaves no pixels.

    Shape:
        ``H×W(×C)`` → ``(H-2n)×(W-2n)(×C)``.
    """
    nv, nh = _pair_shave(n)
    h, w = image.shape[0], image.shape[1]
    if h - 2 * nv < 1 or w - 2 * nh < 1:
        shown = tuple(v if v < 10**9 else float(v) for v in (nv, nh))  # -s 1e308 is not a 309-digit message
        raise ShapeError(f"shave of {shown} pixels leaves nothing of an image of size {(h, w)}")
    return image[nv : h - nv, nh : w - nh]


_shave = shave  # ``evaluate`` has a parameter of the same name


def _prepared_pair(reference: np.ndarray, test: np.ndarray, data_range: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The checked data range and both images as float64 arrays of one shape (psnr and ssim)."""
    peak = _check_data_range(data_range)
    ref = _as_prepared(reference, "reference")
    tst = _as_prepared(test, "test")
    _check_same_shape(ref, tst)
    return peak, ref, tst


def psnr(reference: np.ndarray, test: np.ndarray, *, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio ``10·log10(data_range² / MSE)`` in dB.

    The MSE is over every value (all channels), as in the MATLAB ``compute_psnr``.
    Identical images give ``math.inf``: no hidden epsilon or cap (piq's silent
    80 dB makes averages over a set meaningless).

    Args:
        reference: ground truth on the [0, data_range] scale, ``H×W`` or ``H×W×C``.
        test: image to score, same shape.
        data_range: peak value (255 for the MATLAB protocol).

    Returns:
        PSNR in dB, possibly ``inf``.

    Raises:
        ShapeError: shapes differ or are empty.
        ZSSRError: NaN/inf values or a non-positive ``data_range``.

    Shape:
        ``H×W(×C)`` and ``H×W(×C)`` → scalar.
    """
    peak, ref, tst = _prepared_pair(reference, test, data_range)
    mse = float(np.mean((ref - tst) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def ssim(reference: np.ndarray, test: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean SSIM exactly as Wang et al.'s ``ssim_index.m`` (the VDSR/SRCNN scripts).

    11×11 Gaussian window (σ = 1.5, normalised), ``K = (0.01, 0.03)``,
    ``L = data_range``; local statistics by ``filter2(..., 'valid')`` (no
    padding, so the map is ``(H-10)×(W-10)``), biased (population) variances,
    and the plain mean of the SSIM map. No automatic downsampling (that was
    added only in the later ``ssim.m``). A multi-channel image gives the mean of
    the per-channel SSIMs.

    Args:
        reference: ground truth on the [0, data_range] scale, ``H×W`` or ``H×W×C``.
        test: image to score, same shape.
        data_range: dynamic range ``L`` (255 for the MATLAB protocol).

    Returns:
        Mean SSIM (1.0 for identical images).

    Raises:
        ShapeError: shapes differ, or an image is smaller than the 11×11 window.
        ZSSRError: NaN/inf values or a non-positive ``data_range``.

    Shape:
        ``H×W(×C)`` and ``H×W(×C)`` → scalar.
    """
    L, ref, tst = _prepared_pair(reference, test, data_range)
    if ref.shape[0] < _SSIM_WIN or ref.shape[1] < _SSIM_WIN:
        raise ShapeError(
            f"ssim needs images of at least {_SSIM_WIN}×{_SSIM_WIN} (its window), got {ref.shape[:2]}"
        )
    c1 = (_SSIM_K[0] * L) ** 2
    c2 = (_SSIM_K[1] * L) ** 2
    window = _gaussian_window()
    scores = []
    for c in range(ref.shape[2]):
        x, y = ref[:, :, c], tst[:, :, c]
        mu_x = _valid_filter(x, window)
        mu_y = _valid_filter(y, window)
        mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
        sigma_xx = _valid_filter(x * x, window) - mu_xx
        sigma_yy = _valid_filter(y * y, window) - mu_yy
        sigma_xy = _valid_filter(x * y, window) - mu_xy
        ssim_map = ((2.0 * mu_xy + c1) * (2.0 * sigma_xy + c2)) / (
            (mu_xx + mu_yy + c1) * (sigma_xx + sigma_yy + c2)
        )
        scores.append(float(np.mean(ssim_map)))
    return float(np.mean(scores))


def _luminance_pair(ref: np.ndarray, tst: np.ndarray, round_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """Y of both images on the reference's luminance scale (see ``evaluate``)."""
    ref_y = rgb_to_y(ref, round_y=round_y)
    if ref.shape[2] == 1 and tst.shape[2] == 3:
        # Gray truth: its own luminance is full-range, so score the test's
        # full-range luma (Y - 16)·255/219 = 255·(0.299 R + 0.587 G + 0.114 B),
        # which is exactly the gray value when the channels are equal.
        tst_y = (rgb_to_y(tst) - _Y_OFFSET) * (255.0 / 219.0)
        if round_y:
            tst_y = np.clip(_round_half_away(tst_y), 0.0, 255.0)
    else:
        tst_y = rgb_to_y(tst, round_y=round_y)
    return ref_y, tst_y


def evaluate(
    reference: ImageLike,
    test: ImageLike,
    *,
    scale: float | Sequence[float] | None = None,
    shave: int | Sequence[int] | None = None,
    channel: Literal["y", "rgb"] = "y",
    round_y: bool = True,
) -> Metrics:
    """PSNR and SSIM of ``test`` against ``reference`` under the VDSR/SRCNN MATLAB protocol.

    Steps: (1) crop both to their common top-left region when sizes differ by
    at most ``max(1, ceil(scale))`` pixels per axis (with a
    ``SizeMismatchWarning``); (2) take luminance ``Y`` (``channel='y'``) or
    ``255·RGB`` (``channel='rgb'``); (3) shave the borders; (4) ``psnr`` and
    ``ssim`` with peak 255.

    Luminance: RGB images go through ``rgb_to_y``; a gray image is used
    directly as Y (``255·x``, as the MATLAB scripts do), so a gray test is taken
    to be a Y channel divided by 255. A gray reference with an RGB test scores
    the test's full-range luma ``255·(0.299 R + 0.587 G + 0.114 B)``, which
    equals the gray value for a gray image replicated into three channels.

    ``round_y=True`` (default) rounds Y to integers: the scripts read 8-bit
    PNGs, and MATLAB ``rgb2ycbcr`` on uint8 returns uint8, so both Ys are
    rounded there. Pass ``round_y=False`` for the double-precision variant
    (e.g. scripts that call ``rgb2ycbcr(im2double(x))``). It has no effect with
    ``channel='rgb'``.

    Args:
        reference: ground truth, ``H×W`` or ``H×W×C`` float in [0, 1] (C = 1 or 3).
        test: image to score, same convention.
        scale: SR factor (number or ``(vertical, horizontal)``); sets the default
            shave and the size-mismatch tolerance.
        shave: border pixels to drop per side; default ``round(scale)`` (the
            benchmarks' convention, half away from zero) or 0 without a scale.
        channel: ``'y'`` (paper protocol) or ``'rgb'`` (all channels, 255·x).
        round_y: round Y to 8-bit levels (see above).

    Returns:
        ``Metrics(psnr, ssim)``; ``psnr`` is ``inf`` for identical images.

    Raises:
        ShapeError: sizes differ by more than the tolerance, channel counts
            differ with ``channel='rgb'``, or too little is left after shaving.
        ScaleError: a scale that is not finite and > 0.
        ZSSRError: non-float input, NaN/inf, values outside [0, 1], or an
            unknown ``channel``.

    Convention:
        numpy ``H×W(×C)`` or torch ``(1×)C×H×W``, float in [0, 1].
    """
    if channel not in ("y", "rgb"):
        raise ZSSRError(f"channel must be 'y' or 'rgb', got {channel!r}")
    scales = scale_pair(scale, "scale") if scale is not None else None
    if shave is None:
        border = (_matlab_round(scales[0]), _matlab_round(scales[1])) if scales else (0, 0)
    else:
        border = _pair_shave(shave)
    ref = _as_hwc(reference, "reference")
    tst = _as_hwc(test, "test")

    # STEP 1 - sizes: SR outputs may be ceil(s·lr) while the truth was modcropped.
    tol = tuple(max(1, math.ceil(s)) for s in scales) if scales else (1, 1)
    ref_hw, tst_hw = ref.shape[:2], tst.shape[:2]
    if ref_hw != tst_hw:
        if any(abs(a - b) > t for a, b, t in zip(ref_hw, tst_hw, tol)):
            raise ShapeError(
                f"reference is {ref_hw[0]}×{ref_hw[1]} but test is {tst_hw[0]}×{tst_hw[1]}: "
                f"more than {tol} pixels apart (H, W); is this the right pair and scale?"
            )
        h, w = min(ref_hw[0], tst_hw[0]), min(ref_hw[1], tst_hw[1])
        warnings.warn(
            f"reference is {ref_hw[0]}×{ref_hw[1]} but test is {tst_hw[0]}×{tst_hw[1]}; "
            f"both cropped to the top-left {h}×{w}",
            SizeMismatchWarning,
            stacklevel=2,
        )
        ref, tst = ref[:h, :w], tst[:h, :w]

    # STEP 2 - channels: Y of each (paper protocol) or all of RGB.
    if channel == "y":
        ref_c, tst_c = _luminance_pair(ref, tst, round_y)
    else:
        if ref.shape[2] != tst.shape[2]:
            raise ShapeError(
                f"channel='rgb' needs equal channel counts, got reference {ref.shape[2]} and test {tst.shape[2]}"
            )
        ref_c, tst_c = 255.0 * ref, 255.0 * tst

    # STEP 3 - shave the borders, whose values depend on the resizer's boundary rule.
    ref_c, tst_c = _shave(ref_c, border), _shave(tst_c, border)
    return Metrics(psnr=psnr(ref_c, tst_c), ssim=ssim(ref_c, tst_c))

