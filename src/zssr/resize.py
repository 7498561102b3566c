"""MATLAB ``imresize`` semantics in torch.

Everything in ZSSR rests on this: LR sons are made by downscaling, the net learns
a residual over a bicubic upscale, back-projection resamples both ways, and the
published PSNRs are computed on MATLAB-made inputs. Ports that used another
resampler lost 0.2–2.5 dB (docs/authors_code.md §1, §7, §8; ZSSR issue #1).

Convention:
    Images are ``N×C×H×W`` (any leading dims; the last two are resized) float
    tensors on any device. Scales and sizes are ``(vertical, horizontal)``.
    Output pixel ``i`` (1-based) samples input coordinate
    ``u = i / s + 0.5 · (1 − 1/s)``: pixel centres line up (MATLAB, docs/authors_code.md §7).

The resize is separable: one 1-D pass per axis, axes in ascending order of
scale (MATLAB resizes the most-shrunk axis first; ties go rows first), each pass
a weighted sum of ``ceil(width)+2`` taps with weights normalised to sum 1 and a
half-sample-symmetric boundary.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import scale_pair
from .errors import ScaleError, ShapeError, ZSSRError

__all__ = [
    "Boundary", "Method", "InterpKernel", "INTERP_KERNELS", "MAX_TAPS", "imresize", "output_size", "resize_weights",
]

#: Widest 1-D kernel of one resize pass, in input pixels. Shrinking by ``s`` widens the
#: kernel by ``1/s`` (antialiasing), and each tap is one pass over the image: at
#: ``s = 1e-9`` that was 4·10⁹ taps (a MemoryError); 2**14 taps take about a second.
MAX_TAPS = 2**14
#: Largest output side ``size`` may name (int32 indices; far beyond any memory plan).
MAX_SIDE = 2**31 - 1

Method = Literal["cubic", "linear", "lanczos2", "lanczos3", "box"]
Boundary = Literal["symmetric", "replicate"]

_MATLAB_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class InterpKernel:
    """A 1-D interpolation kernel and the width of its support (in input pixels)."""

    fn: Callable[[np.ndarray], np.ndarray]
    width: float


def _cubic(x: np.ndarray) -> np.ndarray:
    # Keys (1981) with a = -0.5, MATLAB's 'bicubic'.
    a = np.abs(x)
    a2, a3 = a * a, a * a * a
    inner = (1.5 * a3 - 2.5 * a2 + 1.0) * (a <= 1)
    outer = (-0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2))
    return inner + outer


def _linear(x: np.ndarray) -> np.ndarray:
    return (x + 1.0) * ((x >= -1) & (x < 0)) + (1.0 - x) * ((x >= 0) & (x <= 1))


def _box(x: np.ndarray) -> np.ndarray:
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _lanczos(order: int) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        # MATLAB adds eps to numerator and denominator so that x = 0 gives 1.
        num = np.sin(np.pi * x) * np.sin(np.pi * x / order) + _MATLAB_EPS
        den = (np.pi**2 * x * x / order) + _MATLAB_EPS
        return (num / den) * (np.abs(x) < order)

    return fn


INTERP_KERNELS: dict[str, InterpKernel] = {
    "cubic": InterpKernel(_cubic, 4.0),
    "linear": InterpKernel(_linear, 2.0),
    "lanczos2": InterpKernel(_lanczos(2), 4.0),
    "lanczos3": InterpKernel(_lanczos(3), 6.0),
    "box": InterpKernel(_box, 1.0),
}


def _ceil(x: float) -> int:
    # 255 * (1/3) is 84.99999999999999 in floating point; MATLAB-made data sets
    # expect 85, so snap values within 1e-9 of an integer before ceil.
    r = round(x)
    return int(r) if abs(x - r) < 1e-9 * max(1.0, abs(x)) else math.ceil(x)


def output_size(
    in_size: tuple[int, int],
    scale: float | Sequence[float] | None = None,
    size: Sequence[int] | None = None,
) -> tuple[tuple[float, float], tuple[int, int]]:
    """Resolve the ``(scale, size)`` pair the way the authors' ``imresize`` does.

    A missing size is ``ceil(in · scale)``; a missing scale is ``out / in``.
    When both are given, the scale drives the coordinate mapping and the size
    the shape (used for net inputs forced to the father's size, docs/authors_code.md §2.3).
    """
    if scale is None and size is None:
        raise ScaleError("imresize needs a scale or a size, got neither")
    if size is not None:
        values = tuple(size.tolist()) if hasattr(size, "tolist") else size
        if (isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != 2
                or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 1 <= int(v) <= MAX_SIDE
                           for v in values)):
            raise ScaleError(f"size must be a (height, width) pair of integers from 1 to {MAX_SIDE}, got {size!r}")
        out = (int(values[0]), int(values[1]))
    if scale is None:
        sc = (out[0] / in_size[0], out[1] / in_size[1])
    else:
        sc = scale_pair(scale, "scale")
        if size is None:
            out = (_ceil(in_size[0] * sc[0]), _ceil(in_size[1] * sc[1]))
    return sc, (out[0], out[1])


def _taps(
    in_len: int, out_len: int, scale: float, kernel: InterpKernel, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Unmirrored 0-based tap positions and normalised weights, ``out_len × P`` each."""
    # STEP 1 - antialiasing: when shrinking, stretch the kernel by 1/s so it
    # low-passes at the new Nyquist rate (MATLAB: h(x) = s·k(s·x)).
    if scale < 1 and antialias:
        width = kernel.width / scale

        def h(x: np.ndarray) -> np.ndarray:
            return scale * kernel.fn(scale * x)
    else:
        width = kernel.width
        h = kernel.fn  # type: ignore[assignment]  # same signature, mypy sees a def vs a Callable
    # STEP 2 - projected grid: 1-based output i -> input coordinate u.
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    # STEP 3 - the ceil(width)+2 taps starting left of the support.
    left = np.floor(u - width / 2.0)
    if width > MAX_TAPS:
        raise ScaleError(
            f"scale {scale:g} shrinks too far in one pass: its antialiasing kernel would span {width:.3g} input "
            f"pixels (at most {MAX_TAPS}); resize in two steps, or without antialiasing"
        )
    taps = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = h(u[:, None] - ind)
    weights = weights / weights.sum(axis=1, keepdims=True)
    return ind.astype(np.int64) - 1, weights


def resize_weights(
    in_len: int, out_len: int, scale: float, kernel: InterpKernel, antialias: bool,
    boundary: Boundary = "symmetric",
) -> tuple[np.ndarray, np.ndarray]:
    """Taps and weights of one 1-D pass (MATLAB ``contributions``).

    Returns:
        ``(indices, weights)``, both ``out_len × P``: 0-based input indices
        (mirrored into range) and float64 weights that sum to 1 per row.
    """
    idx, weights = _taps(in_len, out_len, scale, kernel, antialias)
    # STEP 4 - boundary. MATLAB's is half-sample symmetric (period 2n, edge
    # pixel repeated); 'replicate' clamps to the edge pixel, which is how the
    # SelfExSR Set5/Set14 LR files were made (bit-exact, see tests).
    if boundary == "replicate":
        idx = np.clip(idx, 0, in_len - 1)
    else:
        period = 2 * in_len
        idx = np.mod(idx, period)
        idx = np.where(idx >= in_len, period - 1 - idx, idx)
    # Drop taps that are zero in every row (MATLAB does the same; saves work).
    keep = np.any(weights != 0, axis=0)
    return idx[:, keep], weights[:, keep]


def _edge_rows(in_len: int, out_len: int, scale: float, kernel: InterpKernel, antialias: bool) -> np.ndarray:
    """Output indices whose taps (with non-zero weight) reach past the input's ends."""
    idx, weights = _taps(in_len, out_len, scale, kernel, antialias)
    outside = ((idx < 0) | (idx >= in_len)) & (weights != 0)
    return np.nonzero(outside.any(axis=1))[0]


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)


def _resize_axis(
    x: torch.Tensor, dim: int, idx: np.ndarray, weights: np.ndarray
) -> torch.Tensor:
    """Weighted sum of gathered taps along ``dim`` (one index_select per tap)."""
    w = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
    ind = torch.as_tensor(idx, device=x.device)
    shape = [1] * x.dim()
    shape[dim] = w.shape[0]
    out = x.index_select(dim, ind[:, 0]) * w[:, 0].reshape(shape)
    for p in range(1, w.shape[1]):
        out = out + x.index_select(dim, ind[:, p]) * w[:, p].reshape(shape)
    return out


def imresize(
    x: torch.Tensor,
    scale: float | Sequence[float] | None = None,
    *,
    size: Sequence[int] | None = None,
    method: Method = "cubic",
    antialias: bool = True,
    quantize: bool = False,
    boundary: Boundary = "symmetric",
) -> torch.Tensor:
    """Resize like MATLAB ``imresize`` (bicubic by default, antialiased when shrinking).

    Args:
        x: float tensor ``…×H×W`` (typically ``N×C×H×W``), float32 or float64, any device.
        scale: a number or a ``(vertical, horizontal)`` pair, any positive reals.
        size: output ``(H, W)``. With ``scale`` too, the scale drives the coordinate
            mapping and the size the shape (authors' ``imresize``, docs/authors_code.md §7).
        method: interpolation kernel.
        antialias: widen the kernel on downscaled axes (decided per axis).
        quantize: MATLAB's uint8 path: ``x`` holds 8-bit values divided by 255 and
            the result is rounded to uint8 (half away from zero, saturated) after
            *each* 1-D pass, rows first. Computed in float64, returned in ``x.dtype``.
        boundary: ``'symmetric'`` (MATLAB) or ``'replicate'`` (edge clamp: reproduces
            the SelfExSR benchmark LR files exactly, including their outer frame).

    Returns:
        The resized tensor, same dtype and device. Differentiable (except quantize).

    Raises:
        ScaleError: a scale or size that is not positive and finite.
        ShapeError: an input with fewer than two dims or an empty axis.
        ZSSRError: an unknown ``method`` or a non-float input.
    """
    if method not in INTERP_KERNELS:
        raise ZSSRError(f"method must be one of {sorted(INTERP_KERNELS)}, got {method!r}")
    if boundary not in ("symmetric", "replicate"):
        raise ZSSRError(f"boundary must be 'symmetric' or 'replicate', got {boundary!r}")
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise ZSSRError(f"imresize needs a floating-point torch tensor, got {type(x).__name__}")
    if x.dim() < 2 or x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ShapeError(f"imresize needs a tensor of shape ...×H×W with H, W ≥ 1, got {tuple(x.shape)}")
    in_size = (int(x.shape[-2]), int(x.shape[-1]))
    sc, out = output_size(in_size, scale, size)
    kernel = INTERP_KERNELS[method]
    if not quantize and _fused_ok(x, in_size, sc, out, method, antialias):
        return _resize_fused(x, in_size, sc, out, method, antialias, boundary)
    plans = None if quantize else _fast_plans(x, in_size, sc, out, method, antialias)
    if plans is not None:
        return _resize_fast(x, in_size, sc, out, method, boundary, plans)
    dtype = x.dtype
    y = x.double() * 255.0 if quantize else x
    if quantize:
        y = _round_half_away(y)
    # Most-shrunk axis first; a stable sort keeps rows first on ties (MATLAB).
    for axis in sorted((0, 1), key=lambda a: sc[a]):
        if sc[axis] == 1.0 and out[axis] == in_size[axis]:
            continue  # identity pass: the authors skip it too
        idx, w = resize_weights(in_size[axis], out[axis], sc[axis], kernel, antialias, boundary)
        y = _resize_axis(y, y.dim() - 2 + axis, idx, w)
        if quantize:
            y = _round_half_away(y).clamp_(0.0, 255.0)
    if quantize:
        y = (y / 255.0).to(dtype)
    return y


# The fast paths. torch's antialiased bicubic/bilinear (PIL-style) uses the same
# kernels as MATLAB (Keys a = -0.5 / triangle, stretched by 1/s when shrinking,
# weights normalised) and the same pixel-centre mapping when the scale factor is
# passed through unchanged. It differs only at the border, where it truncates
# the kernel instead of mirroring. So (1) when torch's output size is MATLAB's
# (n·s whole), resize with the fused kernel and redo the few border rows/columns
# tap by tap; (2) otherwise, for rational s, mirror-pad by P input pixels with
# P·s an integer (the output grid shifts by a whole J = P·s pixels), resize with
# the fused kernel and crop. Both equal the generic path in float64 (tests).
_FAST_MODES = {"cubic": "bicubic", "linear": "bilinear"}
_MAX_PERIOD = 64


def _axis_plan(n: int, s: float, out: int, width: float) -> tuple[int, int, int] | None:
    """``(pad_left, pad_right, shift)`` for one axis, or None if not exactly possible."""
    if s == 1.0 and out == n:
        return 0, 0, 0
    frac = Fraction(s).limit_denominator(_MAX_PERIOD)
    if abs(frac.numerator / frac.denominator - s) > 1e-12 * s:
        return None
    q = frac.denominator
    need = int(math.ceil(width / 2.0 / min(s, 1.0))) + 2
    pad_left = q * int(math.ceil(need / q))
    shift = int(round(pad_left * s))
    # The right pad must cover the taps of the last *requested* output pixel.
    pad_right = max(pad_left, int(math.ceil((shift + out) / s)) - n - pad_left + need)
    if pad_left > n or pad_right > n:
        return None  # would need more than one reflection: generic path
    return pad_left, pad_right, shift


_Plan = tuple[int, int, int]


def _fused_ok(
    x: torch.Tensor, in_size: tuple[int, int], sc: tuple[float, float], out: tuple[int, int],
    method: str, antialias: bool,
) -> bool:
    """The fused kernel alone gives MATLAB's interior when its output size is MATLAB's.

    torch sizes the output ``floor(n·s)``, MATLAB ``ceil(n·s)``: equal when ``n·s`` is whole.
    Outputs of 8 pixels or fewer are mostly border, so the padded path serves them.
    """
    if method not in _FAST_MODES or x.dtype not in (torch.float32, torch.float64):
        return False
    if not antialias and min(sc) < 1:
        return False  # torch's non-antialiased bicubic uses a = -0.75
    return all(math.floor(in_size[a] * sc[a]) == out[a] and out[a] > 8 for a in (0, 1))


@functools.lru_cache(maxsize=256)
def _edge_plan(
    in_len: int, out_len: int, scale: float, method: str, antialias: bool, boundary: Boundary
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights of one axis and its border outputs, memoised.

    A pure function of its arguments, and training calls it with the same few
    sizes thousands of times.
    """
    kernel = INTERP_KERNELS[method]
    idx, w = resize_weights(in_len, out_len, scale, kernel, antialias, boundary)
    return idx, w, _edge_rows(in_len, out_len, scale, kernel, antialias)


def _gathered_pass(x: torch.Tensor, dim: int, idx: np.ndarray, weights: np.ndarray) -> torch.Tensor:
    """``_resize_axis`` for a few outputs: gather the input lines they touch once, then sum taps."""
    needed, local = np.unique(idx, return_inverse=True)
    sub = x.index_select(dim, torch.as_tensor(needed, device=x.device))
    return _resize_axis(sub, dim, local.reshape(idx.shape), weights)


def _resize_fused(
    x: torch.Tensor, in_size: tuple[int, int], sc: tuple[float, float], out: tuple[int, int],
    method: str, antialias: bool, boundary: Boundary,
) -> torch.Tensor:
    """Fused resize of the whole image, then the few border rows/columns redone exactly.

    Only outputs whose taps leave the image differ (torch truncates the kernel there,
    MATLAB mirrors); the resize is separable, so those rows are ``R_h[rows]·X·R_wᵀ`` and
    those columns ``R_h·X·R_w[cols]ᵀ``, each a thin strip computed tap by tap.
    """
    lead = x.shape[:-2]
    x4 = x.reshape(-1, 1, *in_size) if x.dim() != 4 else x
    y = F.interpolate(
        x4, scale_factor=sc, mode=_FAST_MODES[method], antialias=True, recompute_scale_factor=False,
        align_corners=False,
    )
    ih, wh, rows = _edge_plan(in_size[0], out[0], sc[0], method, antialias, boundary)
    iw, ww, cols = _edge_plan(in_size[1], out[1], sc[1], method, antialias, boundary)
    if rows.size:
        strip = _resize_axis(_gathered_pass(x4, 2, ih[rows], wh[rows]), 3, iw, ww)
        y.index_copy_(2, torch.as_tensor(rows, device=y.device), strip)
    if cols.size:
        strip = _resize_axis(_gathered_pass(x4, 3, iw[cols], ww[cols]), 2, ih, wh)
        y.index_copy_(3, torch.as_tensor(cols, device=y.device), strip)
    return y.reshape(*lead, *out) if x.dim() != 4 else y


def _fast_plans(
    x: torch.Tensor, in_size: tuple[int, int], sc: tuple[float, float], out: tuple[int, int],
    method: str, antialias: bool,
) -> tuple[_Plan, _Plan] | None:
    """Per-axis ``(pad_left, pad_right, shift)`` when the fused kernel is exact, else None."""
    if method not in _FAST_MODES or x.dtype not in (torch.float32, torch.float64):
        return None
    if not antialias and min(sc) < 1:
        return None  # torch's non-antialiased bicubic uses a = -0.75
    width = INTERP_KERNELS[method].width
    rows, cols = (_axis_plan(in_size[a], sc[a], out[a], width) for a in (0, 1))
    return None if rows is None or cols is None else (rows, cols)


def _pad(x: torch.Tensor, dim: int, left: int, right: int, boundary: Boundary) -> torch.Tensor:
    if left == 0 and right == 0:
        return x
    n = x.shape[dim]
    if boundary == "replicate":
        lo = x.narrow(dim, 0, 1).expand(*[left if d == dim else -1 for d in range(x.dim())])
        hi = x.narrow(dim, n - 1, 1).expand(*[right if d == dim else -1 for d in range(x.dim())])
    else:
        lo, hi = x.narrow(dim, 0, left).flip(dim), x.narrow(dim, n - right, right).flip(dim)
    return torch.cat([lo, x, hi], dim)


def _resize_fast(
    x: torch.Tensor, in_size: tuple[int, int], sc: tuple[float, float], out: tuple[int, int], method: str,
    boundary: Boundary, plans: tuple[_Plan, _Plan],
) -> torch.Tensor:
    lead = x.shape[:-2]
    y = x.reshape(-1, 1, *in_size) if x.dim() != 4 else x
    for axis, (left, right, _) in enumerate(plans):
        y = _pad(y, 2 + axis, left, right, boundary)
    y = F.interpolate(
        y, scale_factor=sc, mode=_FAST_MODES[method], antialias=True, recompute_scale_factor=False,
        align_corners=False,
    )
    (_, _, sh), (_, _, sw) = plans
    y = y[..., sh : sh + out[0], sw : sw + out[1]]
    return y.reshape(*lead, *out) if x.dim() != 4 else y
