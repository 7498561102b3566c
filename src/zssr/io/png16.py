"""16-bit PNG, both ways (PNG spec §5, §8, §9, §11).

Pillow reads 16-bit gray at full depth but drops RGB(A) and gray+alpha to 8 bits and
cannot write 16-bit RGB, so every 16-bit PNG is decoded and encoded here (one code path).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

from zssr.errors import ImageReadError
from zssr.io._formats import EXIF_ORIENTATION_TAG, Decoded
from zssr.io.inflate import MAX_ICC_BYTES, inflate_capped

__all__ = ["encode_png16", "is_16bit_png", "read_png16"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types by number of samples per pixel (gray, gray+alpha, RGB, RGBA).
_PNG_COLOR_TYPE_BY_SAMPLES: Mapping[int, int] = MappingProxyType({1: 0, 2: 4, 3: 2, 4: 6})
_PNG_SAMPLES_BY_COLOR_TYPE: Mapping[int, int] = MappingProxyType({0: 1, 4: 2, 2: 3, 6: 4})
# Adam7 passes as (first column, first row, column step, row step), PNG spec §8.2.
_ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def is_16bit_png(head: bytes) -> bool:
    """Whether the file's first bytes are a PNG header declaring 16 bits per sample."""
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


def read_png16(source: Path | bytes) -> Decoded:
    """Decode a 16-bit PNG (every colour type, Adam7 included) at full depth, from its file or its bytes."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise ImageReadError("PNG file has no valid IHDR header")
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if color_type not in _PNG_SAMPLES_BY_COLOR_TYPE or width == 0 or height == 0 or interlace not in (0, 1):
        raise ImageReadError(f"invalid 16-bit PNG header (color type {color_type}, {width}×{height})")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > 2 * limit:
        raise ImageReadError(f"PNG of {width}×{height} pixels exceeds the decompression-bomb limit")
    idat = [payload for kind, payload in chunks if kind == b"IDAT"]
    if not any(idat):
        raise ImageReadError("PNG file has no image data")
    samples_per_pixel = _PNG_SAMPLES_BY_COLOR_TYPE[color_type]
    # Inflated in pieces and refused past the size the header implies (a 2 MB file once inflated to 2 GiB).
    expected = _filtered_size(height, width, samples_per_pixel, bool(interlace))
    raw = inflate_capped(idat, expected, f"PNG image data of a {width}×{height} image")
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
    return Decoded(samples, color_channels, False, icc, orientation)


def _filtered_size(height: int, width: int, samples_per_pixel: int, interlaced: bool) -> int:
    """Bytes of the filtered 16-bit image data: a filter byte per row of each (Adam7) pass, 2 bytes a sample."""
    passes = _ADAM7_PASSES if interlaced else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        pass_width, pass_height = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if pass_width > 0 and pass_height > 0:  # empty passes carry no filter bytes at all
            total += pass_height * (1 + pass_width * 2 * samples_per_pixel)
    return total


def _png_icc(payload: bytes | None) -> bytes | None:
    """ICC profile from an iCCP chunk: name, NUL, compression method 0, zlib data (at most MAX_ICC_BYTES)."""
    if payload is None:
        return None
    name_end = payload.find(b"\x00")
    if name_end < 1 or payload[name_end + 1 : name_end + 2] != b"\x00":
        raise ImageReadError("PNG iCCP chunk is malformed")
    profile = inflate_capped([payload[name_end + 2 :]], MAX_ICC_BYTES, "PNG iCCP colour profile",
                             bound="a colour profile may have")
    return profile.tobytes()


def _exif_orientation(payload: bytes | None) -> int:
    if payload is None:
        return 1
    exif = Image.Exif()
    exif.load(payload)
    return int(exif.get(EXIF_ORIENTATION_TAG, 1))


def _deinterlace_adam7(raw: np.ndarray, height: int, width: int, samples_per_pixel: int) -> np.ndarray:
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
    raw: np.ndarray, offset: int, height: int, width: int, samples_per_pixel: int
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


def encode_png16(samples: np.ndarray, icc: bytes | None) -> bytes:
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
