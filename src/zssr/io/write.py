"""Writing images atomically, in the format named by the suffix, at the depth the format allows."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import Image

from zssr._atomic import atomic_write
from zssr.errors import ImageWriteError, ShapeError
from zssr.io._formats import (
    FORMAT_BY_SUFFIX,
    IMAGE_SUFFIXES,
    SIXTEEN_BIT_FORMATS,
    ImageFormat,
    check_bit_depth,
    is_real_numeric,
)
from zssr.io.png16 import encode_png16

__all__ = ["write_image"]


def write_image(
    path: str | Path,
    color: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    icc_profile: bytes | None = None,
    protect: Iterable[str | Path] = (),
) -> Path:
    """Write an image atomically, in the format named by the suffix.

    Convention:
        ``color`` is ``H×W×C`` (or ``H×W``) float in [0, 1] with ``C`` = 1 or 3;
        ``alpha`` is ``H×W``. Values are clipped to [0, 1] and rounded half up to
        ``2**bit_depth - 1`` levels.

    Notes:
        * PNG and TIFF keep 16 bits; JPEG, BMP and WebP cannot and are written at
          8 bits without error. 16-bit PNGs are encoded here (Pillow cannot write
          16-bit RGB), with the ICC profile in an iCCP chunk.
        * Alpha is stored as the last channel (LA / RGBA) in PNG, TIFF and WebP
          (gray WebP becomes RGB: WebP has no gray). JPEG has no alpha and BMP
          alpha is not read back by common readers (Pillow included), so both
          drop it.
        * JPEG is written at quality 95 without chroma subsampling, WebP lossless:
          a super-resolved image should not be degraded by its container.
        * The file appears under its final name only when complete (temp file in
          the same folder, fsync, ``os.replace``); on failure the target is left as
          it was and the temp file removed. The parent folder must exist.

    Args:
        path: output file; its suffix picks the format (.png, .jpg/.jpeg, .bmp,
            .tif/.tiff, .webp).
        color: the colour samples.
        alpha: optional alpha plane.
        bit_depth: 8 or 16 (use ``Picture.bit_depth`` to keep the input's depth).
        icc_profile: ICC profile bytes to embed, e.g. ``Picture.icc_profile``.
        protect: paths that must never be overwritten (the inputs).

    Returns:
        The path written.

    Raises:
        ShapeError: ``color`` or ``alpha`` has the wrong rank, channel count or size.
        ImageWriteError: unknown suffix, bad ``bit_depth``, NaN in the data, the
            target is protected or a folder, the parent folder is missing, or the
            write itself failed (the OS message is kept).
    """
    target = Path(path)
    image_format = FORMAT_BY_SUFFIX.get(target.suffix.lower())
    if image_format is None:
        raise ImageWriteError(
            f"cannot write image {target}: unknown suffix {target.suffix!r}; "
            f"expected one of {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    check_bit_depth(bit_depth, "bit_depth")
    if icc_profile is not None and not isinstance(icc_profile, bytes):
        raise ImageWriteError(f"icc_profile must be bytes or None; got {type(icc_profile).__name__}")
    samples_float = _stack_samples(target, color, alpha)
    for protected in protect:
        if _same_file(target, Path(protected)):
            raise ImageWriteError(f"refusing to write {target}: it would overwrite the input {protected}")
    if target.is_dir():
        raise ImageWriteError(f"cannot write image {target}: it is a folder")
    if not target.parent.is_dir():
        raise ImageWriteError(f"cannot write image {target}: output folder {target.parent} does not exist")

    depth = bit_depth if image_format in SIXTEEN_BIT_FORMATS else 8
    samples = _quantize(samples_float, depth)
    keep_alpha = alpha is not None and image_format not in ("JPEG", "BMP")
    if alpha is not None and not keep_alpha:
        samples = samples[..., :-1]
    atomic_write(target, lambda handle: _encode(handle, samples, image_format, icc_profile, keep_alpha), what="image")
    return target


def _stack_samples(target: Path, color: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Validate ``color``/``alpha`` and stack them into one new ``H×W×S`` float64 array."""
    color_array = np.asarray(color)
    if color_array.ndim == 2:
        color_array = color_array[..., None]
    if color_array.ndim != 3 or color_array.shape[2] not in (1, 3) or 0 in color_array.shape:
        raise ShapeError(f"color must be a non-empty H×W×C array with C = 1 or 3; got shape {color_array.shape}")
    if not is_real_numeric(color_array.dtype):
        raise ShapeError(f"color must be a real numeric array; got dtype {color_array.dtype}")
    height, width, channels = color_array.shape
    samples = np.empty((height, width, channels + int(alpha is not None)), dtype=np.float64)
    samples[..., :channels] = color_array
    if alpha is not None:
        alpha_array = np.asarray(alpha)
        if alpha_array.ndim == 3 and alpha_array.shape[2] == 1:
            alpha_array = alpha_array[..., 0]
        if alpha_array.shape != (height, width):
            raise ShapeError(f"alpha must be H×W = {(height, width)}; got shape {alpha_array.shape}")
        if not is_real_numeric(alpha_array.dtype):
            raise ShapeError(f"alpha must be a real numeric array; got dtype {alpha_array.dtype}")
        samples[..., channels] = alpha_array
    if np.isnan(samples).any():
        which = "color or alpha" if alpha is not None else "color"
        raise ImageWriteError(f"cannot write image {target}: {which} contains NaN")
    return samples


def _quantize(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """Clip to [0, 1] and round half up to ``2**bit_depth - 1`` levels (overwrites ``samples``)."""
    levels = np.clip(samples, 0.0, 1.0, out=samples)
    levels *= 2**bit_depth - 1
    levels += 0.5
    np.floor(levels, out=levels)
    return levels.astype(np.uint8 if bit_depth == 8 else np.uint16)


def _same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def _encode(handle: BinaryIO, samples: np.ndarray, image_format: ImageFormat, icc: bytes | None, has_alpha: bool) -> None:
    """Encode ``H×W×S`` uint8/uint16 samples (colour first, alpha last) to ``handle``."""
    if image_format == "TIFF":
        tifffile.imwrite(
            handle,
            samples[..., 0] if samples.shape[2] == 1 else samples,  # H×W×1 would read as H pages
            photometric="rgb" if samples.shape[2] >= 3 else "minisblack",
            extrasamples=("unassalpha",) if has_alpha else None,
            iccprofile=icc,
            compression="zlib",
            metadata=None,
        )
    elif image_format == "PNG" and samples.dtype == np.uint16:
        handle.write(encode_png16(samples, icc))
    else:
        image = Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)
        options: dict[str, object] = {"icc_profile": icc} if icc else {}
        if image_format == "JPEG":
            options.update(quality=95, subsampling=0)
        elif image_format == "WEBP":
            options.update(lossless=True, exact=True)
            if image.mode == "LA":
                image = image.convert("RGBA")
        image.save(handle, format=image_format, **options)
