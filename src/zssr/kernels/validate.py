"""What a kernel is: a finite 2-D array summing to a positive number; and what an SR factor is."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from zssr._validate import scale_pair
from zssr.errors import KernelError, ScaleError

__all__ = ["MAX_FACTOR", "MAX_SIDE", "as_array", "check_array", "factor_pair", "integer_pair", "validate_kernel"]

#: The most taps per side a kernel made or estimated here may have: ``16·⌈256⌉ + 1``, the
#: largest kernel :mod:`zssr.limits` lets a ×256 run use (a larger one cannot be used, and a
#: side of 10⁹ taps was a 490 PB allocation).
MAX_SIDE = 4097

#: The largest SR factor kernels are made or estimated for (its bound is :data:`MAX_SIDE`).
MAX_FACTOR = 256.0


def as_array(kernel: object, name: str) -> np.ndarray:
    """Any numpy/torch/nested-sequence kernel as a float64 numpy array (a copy)."""
    if torch.is_tensor(kernel):
        if kernel.is_complex():
            raise KernelError(f"{name} must be real, got a complex tensor of dtype {kernel.dtype}")
        return kernel.detach().to("cpu", torch.float64).numpy().copy()
    try:
        arr = np.asarray(kernel)
    except (TypeError, ValueError) as exc:
        raise KernelError(f"{name} must be a 2-D array of numbers, got {type(kernel).__name__} ({exc})") from exc
    if arr.dtype.kind not in "biuf":
        raise KernelError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr.astype(np.float64, copy=True)


def check_array(arr: np.ndarray, name: str) -> np.ndarray:
    """Validate a float64 array as a kernel and normalise it to sum 1."""
    if arr.ndim != 2:
        raise KernelError(f"{name} must be 2-D (kh×kw), got shape {arr.shape}")
    if arr.size == 0:
        raise KernelError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise KernelError(f"{name} must be finite, got {bad} NaN/inf tap(s) in a {arr.shape} kernel")
    with np.errstate(over="ignore", invalid="ignore"):  # taps near 1e308 overflow the sum: an error, not a warning
        total = float(arr.sum())
    if not math.isfinite(total):
        raise KernelError(f"{name} has taps so large that their sum overflows (largest {np.abs(arr).max():.3g})")
    if not total > 0:
        raise KernelError(f"{name} must sum to > 0 (it is normalised to sum 1), got sum {total:.6g}")
    return arr / total


def validate_kernel(kernel: torch.Tensor | np.ndarray, *, name: str = "kernel") -> torch.Tensor:
    """Check a kernel and return it as float64, normalised to sum 1.

    A downscaling kernel must preserve mean brightness, so it is rescaled to sum 1
    (the authors' charlie kernel sums to 0.9999, docs/authors_code.md §10). Negative taps are
    allowed (charlie has some); only the sum must be positive.

    Args:
        kernel: numpy array, torch tensor (detached; any device) or nested sequence.
        name: what to call it in error messages (e.g. the file it came from).

    Returns:
        A new ``kh×kw`` float64 CPU tensor summing to 1.

    Raises:
        KernelError: not 2-D, empty, non-finite, or sum ≤ 0.

    Shape:
        ``kh×kw`` → ``kh×kw``.
    """
    return torch.from_numpy(check_array(as_array(kernel, name), name))


def factor_pair(factor: float | Sequence[float], name: str = "factor", *, minimum: float = 1.0) -> tuple[float, float]:
    """An SR factor as a ``(vertical, horizontal)`` pair of finite floats ≥ ``minimum``."""
    return scale_pair(factor, name, minimum=minimum, strict=False, hint=" (an SR factor; 2 halves each side)")


def integer_pair(factor: float | Sequence[float], name: str) -> tuple[int, int]:
    """An integer SR factor as a ``(vertical, horizontal)`` pair (bicubic kernels need whole factors)."""
    pair = factor_pair(factor, name)
    if any(v != round(v) for v in pair):
        raise ScaleError(f"{name} must be a positive integer (or a pair of them) here, got {factor!r}")
    return int(pair[0]), int(pair[1])
