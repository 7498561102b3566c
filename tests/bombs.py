"""Decompression bombs made on the fly (issue #30, cause 2), for ``test_bombs.py`` and the fuzzer.

Small files whose compressed payload inflates far past what their header implies.

Zeros compress about 1000:1 with zlib and far more with LZMA, so a 256 MiB bomb is a few
hundred kB on disk and takes well under a second to make.
"""

from __future__ import annotations

import functools
import json
import lzma
import os
import resource
import select
import signal
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BLOCK = 1 << 20


def _zero_blocks(total: int, fill: bytes = b"\x00") -> Iterator[bytes]:
    block = (fill * (_BLOCK // len(fill) + 1))[:_BLOCK]
    left = total
    while left > 0:
        yield block[: min(left, _BLOCK)]
        left -= _BLOCK


def zlib_bomb(inflated: int, *, fill: bytes = b"\x00") -> bytes:
    """A valid zlib stream of ``inflated`` bytes repeating ``fill`` (a power-of-two length), made in milliseconds.

    After a full flush deflate forgets its window, so every further 1 MiB block of the same
    bytes compresses to the same segment: one block is compressed and its segment repeated,
    then the stream is closed with the Adler-32 of the whole (checked by zlib on inflate).
    """
    block = next(_zero_blocks(_BLOCK, fill))
    whole, rest = divmod(inflated, _BLOCK)
    packer = zlib.compressobj(9)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    packer = zlib.compressobj(9)
    last = packer.compress(block[:rest]) + packer.flush()
    adler = zlib.adler32(block[:rest], _adler_of_repeats(block, whole))
    tail = last[2:-4]  # the last block's deflate data, without its zlib header and checksum
    body = (first + again * (whole - 1) if whole else first[:2]) + (tail if rest or not whole else _empty_final())
    return body + struct.pack(">I", adler)


def _empty_final() -> bytes:
    """A final, empty stored deflate block (BFINAL=1, BTYPE=00, LEN=0, NLEN=0xFFFF) on a byte boundary."""
    return b"\x01\x00\x00\xff\xff"


def _adler_of_repeats(block: bytes, times: int) -> int:
    """Adler-32 of ``block * times`` without building it: a = 1 + times·Σx, b = times·n + Σ over copies."""
    if times == 0:
        return 1
    mod = 65521
    one = zlib.adler32(block)
    a1, b1 = (one & 0xFFFF) - 1, one >> 16  # Σx and Σ_i (1 + Σ_{j≤i} x_j) for one copy, minus the leading 1s
    n = len(block)
    b1 = (b1 - n) % mod  # Σ_i Σ_{j≤i} x_j for one copy
    a = (1 + times * a1) % mod
    # copy k (0-based) adds n·(1 + k·a1) + b1 to b
    b = (times * n + a1 * n * (times * (times - 1) // 2) + times * b1) % mod
    return (b << 16) | a


@functools.lru_cache(maxsize=8)
def lzma_bomb(inflated: int) -> bytes:
    """An LZMA (``.xz``) stream of ``inflated`` zero bytes (slow to make, ~5 MB/s here: kept small, cached)."""
    packer = lzma.LZMACompressor()
    out = [packer.compress(block) for block in _zero_blocks(inflated)]
    out.append(packer.flush())
    return b"".join(out)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(
    width: int = 16, height: int = 16, *, bit_depth: int = 16, color_type: int = 2, interlace: int = 0,
    idat_bytes: int = 2**28, icc_bytes: int | None = None, ztxt_bytes: int | None = None, idat_chunks: int = 1,
) -> bytes:
    """A PNG whose header says ``width×height`` but whose IDAT inflates to ``idat_bytes``.

    The rows are zeros (filter type 0), so every prefix of the data is a valid image.
    ``icc_bytes`` adds an iCCP chunk inflating to that many bytes; ``ztxt_bytes`` a zTXt chunk.
    """
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    chunks = [png_chunk(b"IHDR", header)]
    if icc_bytes is not None:
        chunks.append(png_chunk(b"iCCP", b"bomb\x00\x00" + zlib_bomb(icc_bytes)))
    if ztxt_bytes is not None:
        chunks.append(png_chunk(b"zTXt", b"Comment\x00\x00" + zlib_bomb(ztxt_bytes, fill=b"a")))
    data = zlib_bomb(idat_bytes)
    step = -(-len(data) // idat_chunks)
    chunks += [png_chunk(b"IDAT", data[i : i + step]) for i in range(0, len(data), step)]
    chunks.append(png_chunk(b"IEND", b""))
    return PNG_SIGNATURE + b"".join(chunks)


def tiff_bomb(width: int = 16, height: int = 16, *, inflated: int = 2**28, compression: int = 8, strips: int = 1,
              bits: int = 8, samples: int = 1) -> bytes:
    """A little-endian TIFF declaring ``width×height`` whose strips each inflate to ``inflated`` bytes.

    ``compression`` 8 (Adobe deflate), 32946 (old deflate) or 34925 (LZMA).
    """
    payload = lzma_bomb(inflated) if compression == 34925 else zlib_bomb(inflated)
    rows = -(-height // strips)
    n_tags = 10
    ifd_offset = 8
    ifd_size = 2 + 12 * n_tags + 4
    offsets_at = ifd_offset + ifd_size
    counts_at = offsets_at + 4 * strips
    bits_at = counts_at + 4 * strips
    data_at = bits_at + 2 * samples
    offsets = [data_at + i * len(payload) for i in range(strips)]

    def array_or_value(kind: int, values: list[int], at: int) -> tuple[int, int, int]:
        if len(values) == 1:
            return kind, 1, values[0]
        return kind, len(values), at

    tags = sorted([
        (256, 4, 1, width), (257, 4, 1, height),
        (258, *array_or_value(3, [bits] * samples, bits_at)),
        (259, 3, 1, compression), (262, 3, 1, 2 if samples >= 3 else 1),
        (273, *array_or_value(4, offsets, offsets_at)), (277, 3, 1, samples), (278, 4, 1, rows),
        (279, *array_or_value(4, [len(payload)] * strips, counts_at)), (284, 3, 1, 1),
    ])
    assert len(tags) == n_tags
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset) + struct.pack("<H", n_tags))
    for tag, kind, count, value in tags:
        field = struct.pack("<H", value) + b"\x00\x00" if kind == 3 and count == 1 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + field
    out += struct.pack("<I", 0)
    out += b"".join(struct.pack("<I", o) for o in offsets) if strips > 1 else b"\x00" * 4 * strips
    out += b"".join(struct.pack("<I", len(payload)) for _ in range(strips)) if strips > 1 else b"\x00" * 4 * strips
    out += struct.pack(f"<{samples}H", *([bits] * samples)) if samples > 1 else b"\x00" * 2 * samples
    assert len(out) == data_at
    return bytes(out) + payload * strips


def read_in_child(path: Path, *, timeout: float = 30.0) -> tuple[str, float, float]:
    """``read_image(path)`` in a forked child: (outcome, the child's peak RSS growth in bytes, seconds).

    The outcome is ``"read HxWxC"``, ``"refused: <message>"`` or ``"raised <type>: <message>"``.
    A fork starts with its peak RSS at the parent's current RSS, so the growth is the read's own,
    C allocations (Pillow, zlib) included, which tracemalloc cannot see.
    """
    from zssr.errors import ImageReadError
    from zssr.io import read_image

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, leave without running the parent's cleanup
        try:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            try:
                picture = read_image(path)
                outcome = "read " + "x".join(str(n) for n in picture.color.shape)
            except ImageReadError as exc:
                outcome = f"refused: {exc}"
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
                outcome = f"raised {type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - start
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
            os.write(writer, json.dumps([outcome, grown, seconds]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            return f"still reading after {timeout:g} s", 0.0, timeout
        with os.fdopen(reader, "rb", closefd=False) as pipe:
            report = pipe.read()
    finally:
        os.close(reader)
        os.waitpid(pid, 0)
    outcome, grown, seconds = json.loads(report)
    return outcome, grown, seconds
