"""Reading images at their full depth, upright, with their colour profile."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from zssr._validate import as_path
from zssr.errors import ImageReadError
from zssr.io._formats import (
    DECODE_ERRORS,
    EXIF_ORIENTATION_TAG,
    FLOAT_RANGE_TOLERANCE,
    PILLOW_READ_FORMATS,
    TIFF_SIGNATURES,
    Decoded,
    one_line,
)
from zssr.io.complaints import decoder_complaints_held_back
from zssr.io.inflate import cap_tifffile_codecs
from zssr.io.paths import read_regular
from zssr.io.picture import Picture
from zssr.io.png16 import is_16bit_png, read_png16

__all__ = ["decode_image", "read_image"]


def read_image(path: str | Path) -> Picture:
    """Read an image file at its full depth.

    The format is recognised from the content. EXIF/TIFF orientation is applied
    (as ``PIL.ImageOps.exif_transpose`` would) so the pixels are upright, and the
    ICC profile is kept so that writing the result back does not shift colours.

    Convention:
        ``Picture.color`` is ``H×W×C`` float32 in [0, 1]: 8-bit samples are divided
        by 255, 16-bit ones by 65535. Gray stays 1 channel; palette, CMYK and YCbCr
        become RGB; a palette with transparency, LA and RGBA give an alpha plane;
        1-bit images become 0/1 gray with ``bit_depth`` 8. Float TIFFs must lie in
        [0, 1] (±1e-3, clipped) and count as 16-bit so they are written back at 16 bits.
        Only the first page/frame of multi-page files is read.

    Args:
        path: the image file (PNG, JPEG, BMP, WebP or TIFF).

    Returns:
        The decoded :class:`Picture`, with ``path`` set.

    Raises:
        ImageReadError: the file is missing, not a regular file (a folder, a pipe, a
            device: refused before any read), unreadable, corrupt, not an image, in an
            unsupported mode, or holds NaN/inf or out-of-range floats.
    """
    source = as_path(path)  # str, os.PathLike or bytes (os.fsdecode)
    if source is None:
        raise ImageReadError(f"path must be a file path (str, bytes or os.PathLike), got {type(path).__name__}")
    return decode_image(read_regular(source), source)


def decode_image(data: bytes, path: str | Path) -> Picture:
    """Decode an image file's bytes, read once (:func:`read_image` without the reading).

    A caller that must know exactly what it decoded (a folder run records the hash of
    the bytes it trained on) reads the file once and hands the bytes here.

    Args:
        data: the file's content.
        path: the file's name, for messages and ``Picture.path``.

    Raises:
        ImageReadError: as :func:`read_image`.
    """
    source = as_path(path) or Path(str(path))
    try:
        with decoder_complaints_held_back():
            head = data[:33]
            if is_16bit_png(head):
                decoded = read_png16(data)
            elif head[:4] in TIFF_SIGNATURES:
                decoded = _read_tiff(data)
            else:
                decoded = _read_with_pillow(data)
            color, alpha, bit_depth = _split_samples(decoded)
    except DECODE_ERRORS as exc:  # includes our own ZSSRError (a ValueError), reworded with the path
        raise ImageReadError(f"cannot read image {source}: {one_line(exc)}") from exc
    except MemoryError as exc:
        raise ImageReadError(f"cannot read image {source}: too large to decode in memory") from exc
    color = _apply_orientation(color, decoded.orientation)
    if alpha is not None:
        alpha = _apply_orientation(alpha, decoded.orientation)
    return Picture(color=color, alpha=alpha, bit_depth=bit_depth, icc_profile=decoded.icc_profile, path=source)


def _split_samples(decoded: Decoded) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Scale integer/float samples to float32 [0, 1] and split colour from alpha."""
    samples = decoded.samples
    if samples.dtype == np.uint8:
        unit, bit_depth = samples.astype(np.float32) / np.float32(255), 8
    elif samples.dtype == np.uint16:
        unit, bit_depth = samples.astype(np.float32) / np.float32(65535), 16
    elif samples.dtype == np.bool_:
        unit, bit_depth = samples.astype(np.float32), 8
    elif np.issubdtype(samples.dtype, np.floating):
        unit, bit_depth = _checked_float(samples), 16
    else:
        raise ImageReadError(f"unsupported sample type {samples.dtype} (expected 8/16-bit unsigned or float)")
    channels = decoded.color_channels
    color = np.ascontiguousarray(unit[..., :channels])
    alpha = np.ascontiguousarray(unit[..., channels]) if unit.shape[2] > channels else None
    if alpha is not None and decoded.premultiplied:
        # Associated alpha stores colour·alpha; ZSSR works on the plain colour.
        safe = np.where(alpha > 0, alpha, np.float32(1))[..., None]
        color = np.clip(color / safe, 0, 1).astype(np.float32)
    return color, alpha, bit_depth


def _checked_float(samples: np.ndarray) -> np.ndarray:
    """Float samples as float32, refusing non-finite or clearly out-of-range values."""
    if not np.isfinite(samples).all():
        raise ImageReadError("image contains NaN or infinite values")
    low, high = float(samples.min()), float(samples.max())
    if low < -FLOAT_RANGE_TOLERANCE or high > 1 + FLOAT_RANGE_TOLERANCE:
        raise ImageReadError(
            f"float image values must lie in [0, 1] (±{FLOAT_RANGE_TOLERANCE:g}); found [{low:g}, {high:g}]"
        )
    return np.clip(samples, 0, 1).astype(np.float32)


def _apply_orientation(plane: np.ndarray, orientation: int) -> np.ndarray:
    """Make pixels upright from an EXIF/TIFF orientation value (EXIF 2.3 tag 0x0112).

    Same eight transposes as ``PIL.ImageOps.exif_transpose``; unknown values are
    ignored as Pillow does.
    """
    transforms: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda a: a[:, ::-1],  # mirrored horizontally
        3: lambda a: a[::-1, ::-1],  # rotated 180°
        4: lambda a: a[::-1],  # mirrored vertically
        5: lambda a: a.swapaxes(0, 1),  # transpose (main diagonal)
        6: lambda a: np.rot90(a, -1),  # stored rotated 90° counter-clockwise: turn clockwise
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transverse (anti-diagonal)
        8: lambda a: np.rot90(a, 1),  # stored rotated 90° clockwise: turn counter-clockwise
    }
    transform = transforms.get(orientation)
    return plane if transform is None else np.ascontiguousarray(transform(plane))


def _read_with_pillow(data: bytes) -> Decoded:
    """Decode PNG (≤ 8 bit), JPEG, BMP, WebP (and TIFF fallback) with Pillow."""
    try:
        image_context = Image.open(io.BytesIO(data), formats=PILLOW_READ_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageReadError("not a recognised PNG, JPEG, BMP, WebP or TIFF file") from exc
    with image_context as image:
        image.load()
        orientation = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
        icc = image.info.get("icc_profile") or None
        samples, color_channels = _pillow_samples(image)
    return Decoded(samples, color_channels, False, icc, orientation)


def _pillow_samples(image: Image.Image) -> tuple[np.ndarray, int]:
    """Pillow image -> (``H×W×S`` samples, number of colour channels)."""
    mode = image.mode
    transparent = image.info.get("transparency") is not None
    if mode in ("P", "PA"):
        palette_alpha = image.palette is not None and image.palette.mode == "RGBA"
        image = image.convert("RGBA" if mode == "PA" or transparent or palette_alpha else "RGB")
    elif mode in ("1", "L") and transparent:
        image = image.convert("LA")
    elif mode == "1":
        image = image.convert("L")
    elif mode == "RGB" and transparent:
        image = image.convert("RGBA")
    elif mode == "La":
        image = image.convert("LA")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    elif mode in ("RGBX", "CMYK", "YCbCr"):
        image = image.convert("RGB")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16)[..., None], 1
    elif mode == "I":
        wide = np.asarray(image)
        if wide.size and (wide.min() < 0 or wide.max() > 65535):
            raise ImageReadError("32-bit integer images are not supported (values exceed the 16-bit range)")
        return wide.astype(np.uint16)[..., None], 1
    elif mode == "F":
        return np.asarray(image)[..., None], 1
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise ImageReadError(f"unsupported image mode {mode!r}")
    samples = np.asarray(image)
    if samples.ndim == 2:
        samples = samples[..., None]
    return samples, 1 if image.mode in ("L", "LA") else 3


def _read_tiff(data: bytes) -> Decoded:
    """Decode a TIFF with tifffile (8/16-bit, float, bilevel), else fall back to Pillow."""
    try:
        decoded = _read_tiff_with_tifffile(data)
    except ImageReadError:
        raise
    except Exception as tiff_exc:  # noqa: BLE001 - any tifffile failure means "try Pillow"
        try:
            return _read_with_pillow(data)
        except DECODE_ERRORS as pillow_exc:
            raise ImageReadError(
                f"TIFF not decodable by tifffile ({one_line(tiff_exc)}) nor Pillow ({one_line(pillow_exc)})"
            ) from pillow_exc
    return _read_with_pillow(data) if decoded is None else decoded


def _read_tiff_with_tifffile(content: bytes) -> Decoded | None:
    """Decode gray/RGB TIFFs; ``None`` leaves other photometrics (palette, CMYK, Lab...) to Pillow."""
    cap_tifffile_codecs()
    with tifffile.TiffFile(io.BytesIO(content)) as tif:
        page = tif.pages.first
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2):  # MINISWHITE, MINISBLACK, RGB
            return None
        _check_pixels(int(page.imagelength), int(page.imagewidth))
        data = page.asarray()
        axes = page.axes
        extrasamples = tuple(int(kind) for kind in page.extrasamples)
        icc = page.iccprofile or None
        orientation_tag = page.tags.get(EXIF_ORIENTATION_TAG)
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
    if axes == "SYX":  # planar configuration "separate"
        data = np.moveaxis(data, 0, -1)
    elif axes == "YX":
        data = data[..., None]
    elif axes != "YXS":
        raise ImageReadError(f"unsupported TIFF layout (axes {axes!r}, shape {data.shape}); expected a 2-D image")
    color_channels = 3 if photometric == 2 else 1
    if data.shape[2] < color_channels:
        raise ImageReadError(f"TIFF RGB image has only {data.shape[2]} samples per pixel")
    # ExtraSamples 1 = associated (premultiplied) alpha, 2 = unassociated alpha, 0 = unspecified data.
    has_alpha = bool(extrasamples) and extrasamples[0] in (1, 2) and data.shape[2] > color_channels
    data = data[..., : color_channels + int(has_alpha)]
    if photometric == 0:  # MINISWHITE: 0 is white
        data = _invert_gray(data)
    premultiplied = has_alpha and extrasamples[0] == 1
    return Decoded(data, color_channels, premultiplied, icc, orientation)


def _check_pixels(height: int, width: int) -> None:
    """Refuse a header past Pillow's decompression-bomb limit, as Pillow and the 16-bit PNG reader do."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and height * width > 2 * limit:
        raise ImageReadError(f"TIFF of {width}×{height} pixels exceeds the decompression-bomb limit")


def _invert_gray(data: np.ndarray) -> np.ndarray:
    """Turn a MINISWHITE gray(+alpha) TIFF into the usual 0 = black convention."""
    gray = data[..., :1]
    if data.dtype == np.bool_:
        inverted = ~gray
    elif np.issubdtype(data.dtype, np.unsignedinteger):
        inverted = np.iinfo(data.dtype).max - gray
    else:
        inverted = 1 - gray
    return np.concatenate([inverted.astype(data.dtype), data[..., 1:]], axis=2)


# 16-bit PNG decoder. Pillow reads 16-bit gray at full depth but drops RGB(A) and
# gray+alpha to 8 bits, so all 16-bit PNGs are decoded here (one code path).
