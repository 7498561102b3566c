"""Typed errors for user-facing mistakes.

Every error names the parameter at fault, what was expected and what was
received, so that the CLI can print it as one line (no traceback) and exit 2.
They subclass ``ValueError`` so plain Python callers can catch them as such.
"""

from __future__ import annotations

__all__ = [
    "ZSSRError",
    "ScaleError",
    "KernelError",
    "ShapeError",
    "ImageReadError",
    "ImageWriteError",
    "ConfigError",
    "StructureError",
    "ResourceError",
]


class ZSSRError(ValueError):
    """Base class of every error raised for bad user input."""


class ScaleError(ZSSRError):
    """A scale factor (or output size) is not a finite positive number."""


class KernelError(ZSSRError):
    """A downscaling kernel is missing, malformed, not finite or sums to <= 0."""


class ShapeError(ZSSRError):
    """An image or tensor has the wrong rank, channel count or is too small."""


class ImageReadError(ZSSRError):
    """A file could not be read as an image (missing, unreadable, unsupported)."""


class ImageWriteError(ZSSRError):
    """An output could not be written (would overwrite an input, bad suffix, disk full)."""


class ConfigError(ZSSRError):
    """A configuration field or preset name is invalid."""


class StructureError(ZSSRError):
    """An image has too little structure (too few edges) to estimate a kernel from."""


class ResourceError(ZSSRError):
    """A run needs more than this machine has: memory for its output, or a device that is not there."""
