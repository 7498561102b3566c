"""Reading and writing images, and the one numpy <-> torch converter pair.

ZSSR trains on the single test image it is given (paper §3), so every bit of
that image matters: inputs are read at their full depth (8 or 16 bits per
sample) and outputs keep it where the format allows ("16-bit in, 16-bit out").

Convention:
    At this boundary an image is a numpy ``H×W×C`` float32 array in [0, 1]
    with ``C = 1`` (grayscale) or ``C = 3`` (RGB); an alpha channel travels
    as its own ``H×W`` float32 plane and is never super-resolved as colour.
    Inside the package images are torch ``N×C×H×W`` float32 tensors;
    :func:`to_tensor` and :func:`to_array` are the only converters.

Notes:
    * PNG, JPEG, BMP and WebP are read with Pillow, TIFF with tifffile
      (Pillow is the fallback for TIFF layouts tifffile cannot decode without
      optional codecs, e.g. LZW or JPEG compression, palette or CMYK TIFFs).
      16-bit PNGs are decoded here because Pillow reduces 16-bit RGB(A) and
      gray+alpha PNGs to 8 bits.
    * The format of a file read is taken from its content, the format of a
      file written from its suffix.
    * Writes are atomic: a hidden ``.<name>.<random>.tmp`` file in the output
      folder is written, fsynced and renamed over the target, so a crash
      never leaves a half-written image under the final name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Literal, NamedTuple

import numpy as np
import tifffile
import torch
from PIL import Image, UnidentifiedImageError

from zssr.errors import ImageReadError, ImageWriteError, ShapeError

__all__ = [
    "IMAGE_SUFFIXES",
    "Picture",
    "collect_inputs",
    "output_path_for",
    "read_image",
    "to_array",
    "to_tensor",
    "write_image",
]

#: Lower-case file suffixes recognised as images (input folders, output names).
IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

_Format = Literal["PNG", "JPEG", "BMP", "TIFF", "WEBP"]
_FORMAT_BY_SUFFIX: Mapping[str, _Format] = MappingProxyType(
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
_SIXTEEN_BIT_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF"})
# Pillow formats accepted on read (multi-picture camera JPEGs, "MPO", open through "JPEG").
_PILLOW_READ_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "DIB", "WEBP", "TIFF")

# Float TIFFs must already be in [0, 1]; excursions this small come from float
# round-off in whatever produced the file and are clipped, larger ones mean a
# different convention (e.g. 0..255 floats) that clipping would silently ruin.
_FLOAT_RANGE_TOLERANCE = 1e-3

# What Pillow, tifffile, zlib and struct raise for corrupt, truncated or absurdly large files.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)

_EXIF_ORIENTATION_TAG = 0x0112  # EXIF / TIFF tag 274, same meaning in both.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# PNG colour types by number of samples per pixel (gray, gray+alpha, RGB, RGBA).
_PNG_COLOR_TYPE_BY_SAMPLES: Mapping[int, int] = MappingProxyType({1: 0, 2: 4, 3: 2, 4: 6})
_PNG_SAMPLES_BY_COLOR_TYPE: Mapping[int, int] = MappingProxyType({0: 1, 4: 2, 2: 3, 6: 4})
# Adam7 passes as (first column, first row, column step, row step), PNG spec §8.2.
_ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy fields with == is ambiguous
class Picture:
    """An image as read from disk: colour, separate alpha and what is needed to write it back.

    Attributes:
        color: ``H×W×C`` float32 in [0, 1], ``C`` = 1 (gray) or 3 (RGB).
        alpha: ``H×W`` float32 in [0, 1], or ``None`` for opaque images. Kept as its
            own plane so that only colour is super-resolved.
        bit_depth: 8 or 16, the depth of the source; passing it to :func:`write_image`
            keeps a 16-bit input 16-bit.
        icc_profile: the embedded ICC colour profile, written back unchanged.
        path: the file the picture came from, if any.

    Raises:
        ShapeError: ``color`` or ``alpha`` has the wrong dtype, rank or size.
        ImageWriteError: ``bit_depth`` is not 8 or 16.
    """

    color: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    icc_profile: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        color = self.color
        if not isinstance(color, np.ndarray) or color.dtype != np.float32 or color.ndim != 3:
            raise ShapeError(f"Picture.color must be an H×W×C float32 array; got {_describe(color)}")
        if color.shape[2] not in (1, 3):
            raise ShapeError(f"Picture.color must have 1 or 3 channels; got shape {color.shape}")
        alpha = self.alpha
        if alpha is not None and (
            not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32 or alpha.shape != color.shape[:2]
        ):
            raise ShapeError(
                f"Picture.alpha must be None or an H×W float32 array with H×W = {color.shape[:2]}; "
                f"got {_describe(alpha)}"
            )
        _check_bit_depth(self.bit_depth, "Picture.bit_depth")

    @property
    def height(self) -> int:
        """Number of rows ``H``."""
        return int(self.color.shape[0])

    @property
    def width(self) -> int:
        """Number of columns ``W``."""
        return int(self.color.shape[1])

    @property
    def channels(self) -> int:
        """Number of colour channels ``C`` (1 or 3; alpha not counted)."""
        return int(self.color.shape[2])


class _Decoded(NamedTuple):
    """What a format reader hands back before orientation is applied."""

    samples: np.ndarray  # H×W×S, uint8 / uint16 / bool / float
    color_channels: int  # 1 or 3; a further sample, if any, is alpha
    premultiplied: bool  # alpha is associated (TIFF ExtraSamples = 1)
    icc_profile: bytes | None
    orientation: int  # EXIF orientation, 1 = as stored


# --------------------------------------------------------------------------- reading


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
        ImageReadError: the file is missing, a folder, unreadable, corrupt, not an
            image, in an unsupported mode, or holds NaN/inf or out-of-range floats.
    """
    source = Path(path)
    if not source.exists():
        raise ImageReadError(f"cannot read image {source}: no such file")
    if source.is_dir():
        raise ImageReadError(f"cannot read image {source}: it is a folder, expected an image file")
    if not source.is_file():
        raise ImageReadError(f"cannot read image {source}: not a regular file")
    try:
        with source.open("rb") as handle:
            head = handle.read(33)
        if _is_16bit_png(head):
            decoded = _read_png16(source)
        elif head[:4] in _TIFF_SIGNATURES:
            decoded = _read_tiff(source)
        else:
            decoded = _read_with_pillow(source)
        color, alpha, bit_depth = _split_samples(decoded)
    except _DECODE_ERRORS as exc:  # includes our own ZSSRError (a ValueError), reworded with the path
        raise ImageReadError(f"cannot read image {source}: {_one_line(exc)}") from exc
    except MemoryError as exc:
        raise ImageReadError(f"cannot read image {source}: too large to decode in memory") from exc
    color = _apply_orientation(color, decoded.orientation)
    if alpha is not None:
        alpha = _apply_orientation(alpha, decoded.orientation)
    return Picture(color=color, alpha=alpha, bit_depth=bit_depth, icc_profile=decoded.icc_profile, path=source)


def _split_samples(decoded: _Decoded) -> tuple[np.ndarray, np.ndarray | None, int]:
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
    if low < -_FLOAT_RANGE_TOLERANCE or high > 1 + _FLOAT_RANGE_TOLERANCE:
        raise ImageReadError(
            f"float image values must lie in [0, 1] (±{_FLOAT_RANGE_TOLERANCE:g}); found [{low:g}, {high:g}]"
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


def _read_with_pillow(source: Path) -> _Decoded:
    """Decode PNG (≤ 8 bit), JPEG, BMP, WebP (and TIFF fallback) with Pillow."""
    try:
        image_context = Image.open(source, formats=_PILLOW_READ_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageReadError("not a recognised PNG, JPEG, BMP, WebP or TIFF file") from exc
    with image_context as image:
        image.load()
        orientation = int(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
        icc = image.info.get("icc_profile") or None
        samples, color_channels = _pillow_samples(image)
    return _Decoded(samples, color_channels, False, icc, orientation)


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


def _read_tiff(source: Path) -> _Decoded:
    """Decode a TIFF with tifffile (8/16-bit, float, bilevel), else fall back to Pillow."""
    try:
        decoded = _read_tiff_with_tifffile(source)
    except ImageReadError:
        raise
    except Exception as tiff_exc:  # noqa: BLE001 - any tifffile failure means "try Pillow"
        try:
            return _read_with_pillow(source)
        except _DECODE_ERRORS as pillow_exc:
            raise ImageReadError(
                f"TIFF not decodable by tifffile ({_one_line(tiff_exc)}) nor Pillow ({_one_line(pillow_exc)})"
            ) from pillow_exc
    return _read_with_pillow(source) if decoded is None else decoded


def _read_tiff_with_tifffile(source: Path) -> _Decoded | None:
    """Decode gray/RGB TIFFs; ``None`` leaves other photometrics (palette, CMYK, Lab...) to Pillow."""
    with tifffile.TiffFile(source) as tif:
        page = tif.pages.first
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2):  # MINISWHITE, MINISBLACK, RGB
            return None
        data = page.asarray()
        axes = page.axes
        extrasamples = tuple(int(kind) for kind in page.extrasamples)
        icc = page.iccprofile or None
        orientation_tag = page.tags.get(_EXIF_ORIENTATION_TAG)
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
    return _Decoded(data, color_channels, premultiplied, icc, orientation)


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


def _is_16bit_png(head: bytes) -> bool:
    # Signature (8) + IHDR length (4) + b"IHDR" (4) + width (4) + height (4) + bit depth (1).
    return len(head) >= 25 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" and head[24] == 16


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, payload) chunks, checking lengths and CRCs."""
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(_PNG_SIGNATURE)
    while offset < len(data):
        if offset + 12 > len(data):
            raise ImageReadError("PNG file is truncated")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 8 + length
        if end + 4 > len(data):
            raise ImageReadError(f"PNG file is truncated inside a {kind!r} chunk")
        payload = data[offset + 8 : end]
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(kind + payload) != crc:
            raise ImageReadError(f"PNG {kind!r} chunk is corrupt (CRC mismatch)")
        chunks.append((kind, payload))
        offset = end + 4
        if kind == b"IEND":
            break
    return chunks


def _read_png16(source: Path) -> _Decoded:
    data = source.read_bytes()
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise ImageReadError("PNG file has no valid IHDR header")
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if color_type not in _PNG_SAMPLES_BY_COLOR_TYPE or width == 0 or height == 0 or interlace not in (0, 1):
        raise ImageReadError(f"invalid 16-bit PNG header (color type {color_type}, {width}×{height})")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > 2 * limit:
        raise ImageReadError(f"PNG of {width}×{height} pixels exceeds the decompression-bomb limit")
    idat = b"".join(payload for kind, payload in chunks if kind == b"IDAT")
    if not idat:
        raise ImageReadError("PNG file has no image data")
    samples_per_pixel = _PNG_SAMPLES_BY_COLOR_TYPE[color_type]
    raw = zlib.decompress(idat)
    if interlace:
        samples = _deinterlace_adam7(raw, height, width, samples_per_pixel)
    else:
        samples, used = _unfilter_pass(raw, 0, height, width, samples_per_pixel)
        if used != len(raw):
            raise ImageReadError("PNG image data has the wrong length")
    chunk_map = dict(chunks)  # a repeated ancillary chunk: the last one wins
    icc = _png_icc(chunk_map.get(b"iCCP"))
    orientation = _exif_orientation(chunk_map.get(b"eXIf"))
    color_channels = 1 if color_type in (0, 4) else 3
    transparency = chunk_map.get(b"tRNS")
    if transparency is not None and color_type in (0, 2):
        # A single transparent colour key (PNG spec §11.3.2.1) becomes an alpha plane.
        key = np.frombuffer(transparency[: 2 * samples_per_pixel], dtype=">u2")
        opaque = (samples != key).any(axis=2, keepdims=True)
        samples = np.concatenate([samples, np.where(opaque, 65535, 0).astype(np.uint16)], axis=2)
    return _Decoded(samples, color_channels, False, icc, orientation)


def _png_icc(payload: bytes | None) -> bytes | None:
    """ICC profile from an iCCP chunk: name, NUL, compression method 0, zlib data."""
    if payload is None:
        return None
    name_end = payload.find(b"\x00")
    if name_end < 1 or payload[name_end + 1 : name_end + 2] != b"\x00":
        raise ImageReadError("PNG iCCP chunk is malformed")
    return zlib.decompress(payload[name_end + 2 :])


def _exif_orientation(payload: bytes | None) -> int:
    if payload is None:
        return 1
    exif = Image.Exif()
    exif.load(payload)
    return int(exif.get(_EXIF_ORIENTATION_TAG, 1))


def _deinterlace_adam7(raw: bytes, height: int, width: int, samples_per_pixel: int) -> np.ndarray:
    samples = np.empty((height, width, samples_per_pixel), dtype=np.uint16)
    offset = 0
    for x0, y0, dx, dy in _ADAM7_PASSES:
        pass_width, pass_height = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if pass_width <= 0 or pass_height <= 0:
            continue  # empty passes carry no filter bytes at all
        reduced, offset = _unfilter_pass(raw, offset, pass_height, pass_width, samples_per_pixel)
        samples[y0::dy, x0::dx] = reduced
    if offset != len(raw):
        raise ImageReadError("PNG image data has the wrong length")
    return samples


def _unfilter_pass(
    raw: bytes, offset: int, height: int, width: int, samples_per_pixel: int
) -> tuple[np.ndarray, int]:
    """Undo PNG row filters (PNG spec §9) for one 16-bit image or Adam7 pass.

    Returns the ``H×W×S`` uint16 samples and the offset after the pass.
    """
    bpp = 2 * samples_per_pixel
    row_bytes = width * bpp
    end = offset + height * (row_bytes + 1)
    if end > len(raw):
        raise ImageReadError("PNG image data is truncated")
    rows = np.frombuffer(raw, dtype=np.uint8, count=end - offset, offset=offset).reshape(height, row_bytes + 1)
    out = np.empty((height, row_bytes), dtype=np.uint8)
    previous = np.zeros(row_bytes, dtype=np.uint8)
    for y in range(height):
        kind, line = int(rows[y, 0]), rows[y, 1:]
        if kind == 0:
            current = line
        elif kind == 1:  # Sub: running sum along each byte lane, modulo 256
            current = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:  # Up
            current = line + previous
        elif kind == 3:
            current = _unfilter_average(line, previous, bpp)
        elif kind == 4:
            current = _unfilter_paeth(line, previous, bpp)
        else:
            raise ImageReadError(f"PNG row {y} has unknown filter type {kind}")
        out[y] = current
        previous = out[y]
    samples = out.view(">u2").reshape(height, width, samples_per_pixel).astype(np.uint16)
    return samples, end


def _unfilter_average(line: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    # Each byte depends on the reconstructed byte to its left, so this runs byte by byte.
    current, above = bytearray(line.tobytes()), previous.tobytes()
    for i in range(len(current)):
        left = current[i - bpp] if i >= bpp else 0
        current[i] = (current[i] + ((left + above[i]) >> 1)) & 0xFF
    return np.frombuffer(bytes(current), dtype=np.uint8)


def _unfilter_paeth(line: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    current, above = bytearray(line.tobytes()), previous.tobytes()
    for i in range(len(current)):
        if i >= bpp:
            left, upper_left = current[i - bpp], above[i - bpp]
        else:
            left = upper_left = 0
        up = above[i]
        estimate = left + up - upper_left
        to_left, to_up, to_upper_left = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
        if to_left <= to_up and to_left <= to_upper_left:
            predictor = left
        elif to_up <= to_upper_left:
            predictor = up
        else:
            predictor = upper_left
        current[i] = (current[i] + predictor) & 0xFF
    return np.frombuffer(bytes(current), dtype=np.uint8)


# --------------------------------------------------------------------------- writing


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
    image_format = _FORMAT_BY_SUFFIX.get(target.suffix.lower())
    if image_format is None:
        raise ImageWriteError(
            f"cannot write image {target}: unknown suffix {target.suffix!r}; "
            f"expected one of {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    _check_bit_depth(bit_depth, "bit_depth")
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

    depth = bit_depth if image_format in _SIXTEEN_BIT_FORMATS else 8
    samples = _quantize(samples_float, depth)
    keep_alpha = alpha is not None and image_format not in ("JPEG", "BMP")
    if alpha is not None and not keep_alpha:
        samples = samples[..., :-1]
    _atomic_write(target, lambda handle: _encode(handle, samples, image_format, icc_profile, keep_alpha))
    return target


def _check_bit_depth(bit_depth: int, name: str) -> None:
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ImageWriteError(f"{name} must be 8 or 16; got {bit_depth!r}")


def _stack_samples(target: Path, color: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Validate ``color``/``alpha`` and stack them into one new ``H×W×S`` float64 array."""
    color_array = np.asarray(color)
    if color_array.ndim == 2:
        color_array = color_array[..., None]
    if color_array.ndim != 3 or color_array.shape[2] not in (1, 3) or 0 in color_array.shape:
        raise ShapeError(f"color must be a non-empty H×W×C array with C = 1 or 3; got shape {color_array.shape}")
    if not _is_real_numeric(color_array.dtype):
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
        if not _is_real_numeric(alpha_array.dtype):
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


def _atomic_write(target: Path, encode: Callable[[BinaryIO], None]) -> None:
    """Run ``encode`` into a temp file next to ``target``, then rename it over ``target``.

    The temp file is created with ``O_EXCL`` and mode 0o666 (so the umask applies,
    unlike ``tempfile.mkstemp``'s 0o600) and ends in ``.tmp``, so a file left by a
    killed process is never taken for an input image.
    """
    temp: Path | None = None
    try:
        temp = _create_temp(target)
        with temp.open("wb") as handle:  # by name: tifffile needs ``handle.name`` to be a path
            encode(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        temp = None
        _sync_folder(target.parent)
    except BaseException as exc:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
        if isinstance(exc, ImageWriteError) or not isinstance(exc, Exception):
            raise
        reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        raise ImageWriteError(f"cannot write image {target}: {_one_line(reason)}") from exc


def _create_temp(target: Path) -> Path:
    """Create an empty, uniquely named file next to ``target`` and return its path."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(temp, flags, 0o666))
        except FileExistsError:
            continue
        return temp
    raise ImageWriteError(f"cannot write image {target}: no free temporary file name in {target.parent}")


def _sync_folder(folder: Path) -> None:
    """Flush the rename to disk where the OS allows it (POSIX); best effort."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _encode(handle: BinaryIO, samples: np.ndarray, image_format: _Format, icc: bytes | None, has_alpha: bool) -> None:
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
        handle.write(_encode_png16(samples, icc))
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


def _encode_png16(samples: np.ndarray, icc: bytes | None) -> bytes:
    """A minimal 16-bit PNG (PNG spec §5, §11): IHDR, optional iCCP, IDAT, IEND.

    Rows use the filter (None, Sub or Up) with the smallest sum of absolute
    signed bytes, the heuristic the PNG spec §12.8 recommends; Average and Paeth
    are left out so that our own files also decode fast here.
    """
    height, width, samples_per_pixel = samples.shape
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOR_TYPE_BY_SAMPLES[samples_per_pixel], 0, 0, 0)
    raw = np.ascontiguousarray(samples.astype(">u2")).view(np.uint8).reshape(height, -1)
    bpp = 2 * samples_per_pixel
    # Cost of a filtered byte = |byte read as signed|, as a 256-entry lookup table.
    cost_of_byte = np.abs(np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int16)).astype(np.uint8)
    filtered = np.empty((height, raw.shape[1] + 1), dtype=np.uint8)
    block = max(1, (1 << 22) // raw.shape[1])  # ~4 MB of rows at a time bounds the memory used
    for start in range(0, height, block):
        stop = min(start + block, height)
        rows = raw[start:stop]
        left = np.zeros_like(rows)
        left[:, bpp:] = rows[:, :-bpp]
        above = np.empty_like(rows)
        above[0] = raw[start - 1] if start else 0
        above[1:] = raw[start : stop - 1]
        candidates = np.stack([rows, rows - left, rows - above])  # uint8 arithmetic wraps modulo 256
        choice = cost_of_byte[candidates].sum(axis=2, dtype=np.int64).argmin(axis=0)
        filtered[start:stop, 0] = choice
        filtered[start:stop, 1:] = candidates[choice, np.arange(stop - start)]
    chunks = [_png_chunk(b"IHDR", header)]
    if icc:
        chunks.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    chunks += [_png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6)), _png_chunk(b"IEND", b"")]
    return _PNG_SIGNATURE + b"".join(chunks)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


# --------------------------------------------------------------------------- converters


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """Numpy image -> torch batch of one: the package's way into torch.

    Shape:
        ``H×W×C`` or ``H×W`` -> ``1×C×H×W`` float32, contiguous, on the CPU. The
        tensor owns a copy, so editing it never changes ``array``.

    Raises:
        ShapeError: ``array`` is not a 2-D or 3-D real numeric numpy array.
    """
    if not isinstance(array, np.ndarray):
        raise ShapeError(f"array must be a numpy H×W×C or H×W array; got {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ShapeError(f"array must be H×W×C or H×W; got shape {array.shape}")
    if not _is_real_numeric(array.dtype):
        raise ShapeError(f"array must be real numeric; got dtype {array.dtype}")
    planes = array[..., None] if array.ndim == 2 else array
    chw = np.array(planes.transpose(2, 0, 1)[None], dtype=np.float32, order="C", copy=True)
    return torch.from_numpy(chw)


def to_array(tensor: torch.Tensor) -> np.ndarray:
    """Torch image -> numpy ``H×W×C``: the package's way out of torch.

    Shape:
        ``1×C×H×W`` or ``C×H×W`` -> ``H×W×C`` float32 numpy (detached, on the CPU,
        an independent copy).

    Raises:
        ShapeError: ``tensor`` is not 3-D, or 4-D with a batch of one.
    """
    if not isinstance(tensor, torch.Tensor):
        raise ShapeError(f"tensor must be a torch 1×C×H×W or C×H×W tensor; got {type(tensor).__name__}")
    if tensor.dim() == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    elif tensor.dim() != 3:
        raise ShapeError(f"tensor must be 1×C×H×W or C×H×W; got shape {tuple(tensor.shape)}")
    hwc = tensor.detach().to(device="cpu", dtype=torch.float32).permute(1, 2, 0)
    return np.array(hwc.numpy(), dtype=np.float32, order="C", copy=True)


# --------------------------------------------------------------------------- paths


def collect_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Expand command-line inputs into image files.

    A file is taken as given (its content decides the format); a folder gives its
    image files by suffix (:data:`IMAGE_SUFFIXES`), sorted by name, not
    recursively, skipping hidden files (e.g. macOS ``._*`` or leftover temp files).
    A file named twice is kept once, in its first position.

    Raises:
        ImageReadError: no paths, a path that does not exist, or a folder with no images.
    """
    if isinstance(paths, (str, Path)) or len(paths) == 0:
        raise ImageReadError(f"paths must be a non-empty list of files or folders; got {paths!r}")
    found: list[Path] = []
    seen: set[Path] = set()
    for entry in paths:
        location = Path(entry)
        if location.is_dir():
            images = sorted(
                (
                    child
                    for child in location.iterdir()
                    if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES and not child.name.startswith(".")
                ),
                key=lambda child: child.name,
            )
            if not images:
                raise ImageReadError(
                    f"input folder {location} contains no images (suffixes {', '.join(sorted(IMAGE_SUFFIXES))})"
                )
        elif location.exists():
            images = [location]
        else:
            raise ImageReadError(f"input path {location} does not exist")
        for image in images:
            key = image.resolve()
            if key not in seen:
                seen.add(key)
                found.append(image)
    return found


def output_path_for(input_path: str | Path, out_dir: str | Path, suffix: str | None = None) -> Path:
    """Where the result for ``input_path`` goes in ``out_dir``: same name, optional new suffix.

    Args:
        input_path: the input image.
        out_dir: the output folder (not created here).
        suffix: new suffix such as ``".png"`` or ``"png"``; ``None`` keeps the input's.

    Raises:
        ImageWriteError: the resulting suffix is not a writable image suffix.
    """
    source = Path(input_path)
    if suffix is None:
        new_suffix = source.suffix
    else:
        new_suffix = suffix if suffix.startswith(".") else f".{suffix}"
    if new_suffix.lower() not in IMAGE_SUFFIXES:
        raise ImageWriteError(
            f"suffix must be one of {', '.join(sorted(IMAGE_SUFFIXES))}; got {new_suffix!r} for {source.name}"
        )
    return Path(out_dir) / f"{source.stem}{new_suffix}"


# --------------------------------------------------------------------------- helpers


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def _is_real_numeric(dtype: np.dtype) -> bool:
    return dtype == np.bool_ or np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())
