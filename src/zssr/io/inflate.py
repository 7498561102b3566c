"""Every inflate capped at the size the file's header implies (issue #30, cause 2: decompression bombs).

A 2 MB PNG declaring 16×16 pixels can hold a zlib stream that inflates to 2 GiB; inflating it
whole (``zlib.decompress``) took 4.5 GB of memory before the length check refused it. Here the
stream is inflated piece by piece into a buffer of the size the header implies, and refused as
soon as it passes that size: memory is bounded by what the header declares (itself bounded by
Pillow's decompression-bomb limit), and a bomb costs milliseconds. docs/LIMITS.md, "Compressed data".

tifffile without the optional ``imagecodecs`` package inflates deflate and LZMA strips with a
plain ``zlib.decompress``/``lzma.decompress`` and ignores the segment size it passes as ``out``;
:func:`cap_tifffile_codecs` puts capped decoders in its codec table (imagecodecs itself honours
``out``, so it is left alone).
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np
import tifffile
from PIL import Image

from zssr.errors import ImageReadError

__all__ = ["MAX_ICC_BYTES", "cap_tifffile_codecs", "inflate_capped", "max_image_bytes"]

#: Largest ICC profile inflated from a 16-bit PNG's iCCP chunk. Real profiles are a few kB (matrix
#: profiles) to a few MB (CMYK or device-link LUTs); 16 MiB leaves room for every real one.
#: (Pillow's 8-bit PNG reader caps the same chunk at ``PngImagePlugin.MAX_TEXT_CHUNK``, 1 MiB.)
MAX_ICC_BYTES = 16 * 2**20

#: Bytes inflated per call: bounds the transient buffer zlib/lzma hand back.
_PIECE = 4 * 2**20


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


def max_image_bytes() -> int:
    """The most bytes any image within Pillow's decompression-bomb limit can inflate to.

    ``2 × Image.MAX_IMAGE_PIXELS`` pixels (where Pillow refuses) × 4 samples × 2 bytes, plus a
    filter byte per row: the cap for a stream whose header gives no size.
    """
    limit = Image.MAX_IMAGE_PIXELS or 2**30
    return 2 * int(limit) * 8 + 2 * int(limit)


def inflate_capped(
    pieces: Iterable[bytes], limit: int, what: str, *, kind: str = "zlib", bound: str = "its header implies"
) -> np.ndarray:
    """Inflate a compressed stream given in pieces, refusing it once it passes ``limit`` bytes.

    Args:
        pieces: the compressed stream, in order (e.g. a PNG's IDAT payloads).
        limit: the size the header implies; one byte more is an error.
        what: the data's name, for the message.
        kind: ``"zlib"`` (zlib header), ``"deflate"`` (raw) or ``"lzma"`` (``.xz``/``.lzma``).
        bound: where ``limit`` comes from, for the message.

    Returns:
        The inflated bytes as a 1-D uint8 array (at most ``limit`` long; shorter when the
        stream ends early: the caller's length check says "truncated").

    Raises:
        ImageReadError: the stream inflates past ``limit``, or is corrupt.
    """
    inflater: _Decompressor
    if kind == "lzma":
        inflater = lzma.LZMADecompressor()
    else:
        inflater = zlib.decompressobj(zlib.MAX_WBITS if kind == "zlib" else -zlib.MAX_WBITS)
    out = np.empty(limit, dtype=np.uint8)
    used = 0
    try:
        for piece in pieces:
            data = piece
            while True:
                room = limit + 1 - used
                chunk = inflater.decompress(data, min(room, _PIECE))
                if len(chunk) >= room:
                    raise ImageReadError(f"{what} inflates past the {limit:,} bytes {bound} (a decompression bomb?)")
                out[used : used + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                used += len(chunk)
                data = _pending(inflater)
                if not data and len(chunk) < min(room, _PIECE):
                    break  # this piece is used up and nothing more comes out without more input
            if getattr(inflater, "eof", False):
                break
    except (zlib.error, lzma.LZMAError, EOFError) as exc:
        raise ImageReadError(f"{what} is corrupt ({exc})") from None
    return out[:used]


def _pending(inflater: Any) -> bytes:
    """Input the inflater kept back because its output was full (zlib and lzma name it differently)."""
    tail = getattr(inflater, "unconsumed_tail", None)
    if tail is not None:
        return bytes(tail)
    return b""  # LZMADecompressor keeps its unconsumed input inside; decompress(b"") drains it


def _capped_codec(kind: str, name: str) -> Callable[..., bytes]:
    def decode(data: bytes, /, *, out: Any = None, **_: Any) -> bytes:
        # tifffile passes the segment's decoded size as ``out``; without one, the largest image allowed.
        limit = int(out) if isinstance(out, (int, np.integer)) and not isinstance(out, bool) else max_image_bytes()
        return inflate_capped([bytes(data)], limit, f"TIFF {name} segment", kind=kind).tobytes()

    return decode


#: tifffile compression codes inflated with zlib (Adobe deflate, old deflate, PKZIP deflate) and LZMA.
_TIFF_CODECS = {8: "zlib", 32946: "zlib", 50013: "zlib", 34925: "lzma"}


def cap_tifffile_codecs() -> bool:
    """Make tifffile's fallback deflate/LZMA decoders stop at the segment size (idempotent).

    Returns:
        Whether tifffile decodes with the capped decoders now (True too where ``imagecodecs``
        is installed: its decoders write into a buffer of the segment's size).
    """
    backend = getattr(tifffile.tifffile, "imagecodecs", None)
    if backend is not None and not getattr(backend, "__name__", "").endswith("_imagecodecs"):
        return True  # the real imagecodecs honours ``out``
    codecs = getattr(tifffile.TIFF.DECOMPRESSORS, "_codecs", None)
    if not isinstance(codecs, dict):
        return False
    for code, kind in _TIFF_CODECS.items():
        codecs[code] = _capped_codec(kind, "LZMA" if kind == "lzma" else "deflate")
    return True
