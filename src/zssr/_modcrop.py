"""MATLAB ``modcrop`` for rational SR factors, shared by the benchmark and ``zssr demo``.

One definition so that the demo's ground truth and the benchmark's are cut alike:
a side becomes a multiple of ``p`` for ``scale = p/q``, so ``side / scale`` is whole
and the LR size is exact.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._validate import scale_value
from .errors import ScaleError, ShapeError

__all__ = ["check_sr_scale", "modcrop", "modcrop_block"]


def check_sr_scale(scale: float) -> float:
    """``scale`` as a float after checking that it is a finite number > 1 (an SR factor).

    Raises:
        ScaleError: not a number, not finite, or not above 1.
    """
    return scale_value(scale, "scale", minimum=1.0)


def _scale_modulus(scale: float) -> int:
    """The side multiple that makes ``side / scale`` an integer: ``p`` for ``scale = p/q``.

    Raises:
        ScaleError: ``scale`` is not a ratio with a denominator of at most 64.
    """
    frac = Fraction(scale).limit_denominator(64)
    if abs(float(frac) - scale) > 1e-9 * scale:
        raise ScaleError(f"scale must be a ratio p/q with q ≤ 64 so that LR sizes are whole, got {scale!r}")
    return frac.numerator


def modcrop(image: np.ndarray, scale: float) -> np.ndarray:
    """Top-left crop to a side multiple of the scale (MATLAB ``modcrop``; ×1.5 crops to multiples of 3).

    Convention:
        numpy ``H×W(×C)``; returns a view.

    Raises:
        ScaleError: ``scale`` is not a finite ratio ``p/q > 1`` with ``q ≤ 64``.
        ShapeError: the image is smaller than one ``p×p`` block.
    """
    m = _scale_modulus(check_sr_scale(scale))
    h, w = image.shape[:2]
    if h < m or w < m:
        raise ShapeError(f"image of {h}×{w} is smaller than one block of the scale ({m if m < 10**9 else float(m):g} px)")
    return image[: h - h % m, : w - w % m]


def modcrop_block(scale: float) -> int:
    """The side ``modcrop`` rounds down to a multiple of (``p`` for a scale ``p/q``): 2 at ×2, 3 at ×1.5."""
    return _scale_modulus(check_sr_scale(scale))
