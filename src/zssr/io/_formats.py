"""What the io package shares: formats, limits and small checks (public to its modules only)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

import numpy as np
from PIL import Image

from zssr._atomic import one_line
from zssr.errors import ImageWriteError

__all__ = [
    "DECODE_ERRORS",
    "EXIF_ORIENTATION_TAG",
    "FLOAT_RANGE_TOLERANCE",
    "FORMAT_BY_SUFFIX",
    "IMAGE_SUFFIXES",
    "PILLOW_READ_FORMATS",
    "SIXTEEN_BIT_FORMATS",
    "TIFF_SIGNATURES",
    "Decoded",
    "ImageFormat",
    "check_bit_depth",
    "describe",
    "is_real_numeric",
    "one_line",
]


#: Lower-case file suffixes recognised as images (input folders, output names).
IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

ImageFormat = Literal["PNG", "JPEG", "BMP", "TIFF", "WEBP"]
FORMAT_BY_SUFFIX: Mapping[str, ImageFormat] = MappingProxyType(
    {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".webp": "WEBP",
    }
)
# Formats whose files can carry 16 bits per sample; the others are written at 8 bits.
SIXTEEN_BIT_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF"})
# Pillow formats accepted on read (multi-picture camera JPEGs, "MPO", open through "JPEG").
PILLOW_READ_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "DIB", "WEBP", "TIFF")

# Float TIFFs must already be in [0, 1]; excursions this small come from float
# round-off in whatever produced the file and are clipped, larger ones mean a
# different convention (e.g. 0..255 floats) that clipping would silently ruin.
FLOAT_RANGE_TOLERANCE = 1e-3

# What Pillow, tifffile, zlib and struct raise for corrupt, truncated or absurdly large files.
# TypeError and ArithmeticError: Pillow 12 decoding a TIFF whose tags have the wrong types
# ("'IFDRational' object cannot be interpreted as an integer", found by the long fuzz run).
DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    TypeError,
    ArithmeticError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)

EXIF_ORIENTATION_TAG = 0x0112  # EXIF / TIFF tag 274, same meaning in both.
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


class Decoded(NamedTuple):
    """What a format reader hands back before orientation is applied."""

    samples: np.ndarray  # H×W×S, uint8 / uint16 / bool / float
    color_channels: int  # 1 or 3; a further sample, if any, is alpha
    premultiplied: bool  # alpha is associated (TIFF ExtraSamples = 1)
    icc_profile: bytes | None
    orientation: int  # EXIF orientation, 1 = as stored



def check_bit_depth(bit_depth: int, name: str) -> None:
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ImageWriteError(f"{name} must be 8 or 16; got {bit_depth!r}")



def describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def is_real_numeric(dtype: np.dtype) -> bool:
    return dtype == np.bool_ or np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)

