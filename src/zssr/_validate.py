"""The one set of rules for scale factors and seeds, shared by every stage and entry point.

Seven validators with drifting rules (one accepted ``True`` as a scale) are
replaced by these functions, so the API, the CLI and the harness refuse the
same values with the same words and name the parameter at fault.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeGuard

from zssr.errors import ConfigError, ScaleError, ZSSRError

__all__ = ["SEED_LIMIT", "as_path", "is_number", "real_float", "scale_pair", "scale_value", "seed_value"]

#: Seeds are integers in ``[0, SEED_LIMIT)``: what numpy, torch and the noise
#: generator (seeded with ``seed + 1``) all take without overflow.
SEED_LIMIT = 2**63


def is_number(value: object) -> TypeGuard[float]:
    """A real number that is not a bool (``True`` is an ``int`` to Python, never a scale)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def as_path(value: object) -> Path | None:
    """``value`` as a file path, or None when it is not one (an array, a tensor, a number…).

    ``str``, ``os.PathLike`` and ``bytes``/``bytearray`` (decoded with :func:`os.fsdecode`, as
    ``open`` does) are paths: ``b"photo.png"`` was once read as a 1-D array of bytes.
    """
    if isinstance(value, bytearray):
        value = bytes(value)
    if isinstance(value, (str, bytes, os.PathLike)):
        try:
            return Path(os.fsdecode(value))
        except (TypeError, ValueError):  # a PathLike whose __fspath__ returns neither str nor bytes
            return None
    return None


def real_float(value: float, name: str, error: type[ZSSRError] = ScaleError) -> float:
    """``float(value)``, refusing integers too large for a float (``float(10**400)`` raises OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        digits = len(str(abs(int(value)))) if isinstance(value, numbers.Integral) else 0
        raise error(f"{name} must be a number below 1.8e308 (a float), got an integer of {digits} digits") from None


def _bound(value: float, name: str, given: object, minimum: float, strict: bool, hint: str) -> float:
    value = real_float(value, name)
    ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok:
        relation = ">" if strict else "≥"
        raise ScaleError(f"{name} must be finite and {relation} {minimum:g}{hint}, got {given!r}")
    return value


def scale_value(
    value: object, name: str = "scale", *, minimum: float = 0.0, strict: bool = True, hint: str = ""
) -> float:
    """One finite factor above ``minimum`` (``≥`` when ``strict`` is false), as a float.

    Raises:
        ScaleError: not a number (bools included), not finite, or out of range.
    """
    if not is_number(value):
        raise ScaleError(f"{name} must be a single number, got {value!r}")
    return _bound(value, name, value, minimum, strict, hint)


def scale_pair(
    value: float | Sequence[float] | object,
    name: str = "scale",
    *,
    minimum: float = 0.0,
    strict: bool = True,
    hint: str = "",
) -> tuple[float, float]:
    """A factor as a ``(vertical, horizontal)`` pair: one number is used for both axes.

    Args:
        value: a number, or a sequence of exactly two numbers.
        name: the parameter's name, for the message.
        minimum: the bound each factor must pass.
        strict: ``>`` minimum when true, ``≥`` when false.
        hint: a short reason appended to the range message.

    Raises:
        ScaleError: not a number or a pair of numbers (bools, strings and other
            lengths included), a factor not finite, or out of range.
    """
    if is_number(value):
        items: tuple[object, ...] = (value, value)
    elif _is_sized_pair(value):
        items = tuple(value.tolist())  # type: ignore[union-attr]
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = tuple(value)
    else:
        items = ()
    if len(items) != 2 or not all(is_number(v) for v in items):
        raise ScaleError(f"{name} must be a number or a (vertical, horizontal) pair of numbers, got {value!r}")
    first = _bound(items[0], name, value, minimum, strict, hint)  # type: ignore[arg-type]
    second = _bound(items[1], name, value, minimum, strict, hint)  # type: ignore[arg-type]
    return first, second


def _is_sized_pair(value: object) -> bool:
    """Numpy arrays and tensors holding two numbers count as pairs."""
    shape = getattr(value, "shape", None)
    return shape is not None and tuple(shape) == (2,) and hasattr(value, "tolist")


def seed_value(value: object, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**63)`` (numpy integers too; bools, floats and strings refused).

    ``1.5`` is never rounded: two different seeds giving the same output would
    break the promise "same seed, same output" in the other direction.

    Raises:
        ConfigError: not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer in [0, 2**63), got {value!r} ({type(value).__name__})")
    seed = int(value)
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"{name} must be an integer in [0, 2**63), got {seed}")
    return seed
