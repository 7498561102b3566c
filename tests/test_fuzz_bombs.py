"""Fuzzing with compressed-size bombs (issue #30): refused quickly, in bounded memory.

Files whose compressed payload inflates far past what their header implies are refused (or
read at their header's size) in seconds.

Drawn: 16-bit PNGs (every colour type, Adam7 or not, the data split over IDAT chunks), 8-bit
PNGs (Pillow's decoder), the iCCP profile of both, a zTXt chunk, and TIFFs with deflate (Adobe
and old) or LZMA strips of 8/16-bit gray or RGB. Each is read in a forked child whose peak RSS
growth and time are measured: the formats decoded here (16-bit PNG, TIFF) must refuse with one
``ImageReadError`` line; Pillow's 8-bit PNG decoder stops once the image is full and may return it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bombs import png_bomb, read_in_child, tiff_bomb
from fuzzing import fresh_root
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zssr.io.inflate import MAX_ICC_BYTES

#: Peak RSS a refused bomb may add (the ICC cap's buffer is the largest legitimate allocation).
RSS_BUDGET = 48e6
ICC_RSS_BUDGET = 3 * MAX_ICC_BYTES + 16e6
SECONDS = 3.0
MiB = 2**20


def _samples(color_type: int) -> int:
    return {0: 1, 2: 3, 4: 2, 6: 4}[color_type]


@st.composite
def bombs(draw: Any) -> tuple[str, bytes, bool]:
    """(label, file bytes, whether it must be refused)."""
    kind = draw(st.sampled_from(["png16", "png16", "png16-icc", "png8", "png8-icc", "png8-ztxt", "tiff", "tiff", "tiff-lzma"]))
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    inflated = draw(st.sampled_from([4 * MiB, 32 * MiB, 256 * MiB]))
    if kind.startswith("png"):
        depth = 16 if kind.startswith("png16") else 8
        color_type = draw(st.sampled_from([0, 2, 4, 6]))
        interlace = draw(st.integers(0, 1)) if depth == 16 else 0
        row = 1 + width * _samples(color_type) * depth // 8
        if kind.endswith("-icc"):
            icc = draw(st.sampled_from([MAX_ICC_BYTES + 1, 64 * MiB, 256 * MiB]))
            data = png_bomb(width, height, bit_depth=depth, color_type=color_type, idat_bytes=height * row, icc_bytes=icc)
            return f"{kind} icc {icc // MiB} MiB", data, depth == 16
        if kind.endswith("-ztxt"):
            data = png_bomb(width, height, bit_depth=depth, color_type=color_type, idat_bytes=height * row,
                            ztxt_bytes=inflated)
            return f"{kind} {inflated // MiB} MiB", data, False
        chunks = draw(st.integers(1, 5))
        data = png_bomb(width, height, bit_depth=depth, color_type=color_type, interlace=interlace,
                        idat_bytes=inflated, idat_chunks=chunks)
        return f"{kind} type {color_type} interlace {interlace} {inflated // MiB} MiB", data, depth == 16
    compression = 34925 if kind == "tiff-lzma" else draw(st.sampled_from([8, 32946]))
    bits, samples = draw(st.sampled_from([8, 16])), draw(st.sampled_from([1, 3]))
    strips = draw(st.integers(1, min(4, height)))
    data = tiff_bomb(width, height, inflated=MiB if compression == 34925 else inflated, compression=compression,
                     strips=strips, bits=bits, samples=samples)
    return f"{kind} {compression} {bits}-bit×{samples} {strips} strips", data, True


@settings(max_examples=max(30, settings.default.max_examples * 3 // 10), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bomb=bombs())
def test_compressed_size_bombs_are_refused_quickly_with_bounded_memory(bomb: tuple[str, bytes, bool]) -> None:
    label, data, must_refuse = bomb
    with fresh_root() as root:
        path = Path(root) / "bomb"
        path.write_bytes(data)
        outcome, grown, seconds = read_in_child(path, timeout=60.0)
    event(outcome.split(":")[0].split(" ")[0])
    assert not outcome.startswith(("raised", "still")), f"{label}: {outcome}"
    if must_refuse:
        assert outcome.startswith("refused"), f"{label}: {outcome}"
    if outcome.startswith("refused"):
        assert "\n" not in outcome
    else:
        assert outcome.startswith("read"), f"{label}: {outcome}"
    budget = ICC_RSS_BUDGET if "icc" in label else RSS_BUDGET
    assert grown < budget, f"{label}: peak RSS grew by {grown / 1e6:.0f} MB"
    assert seconds < SECONDS, f"{label}: {seconds:.1f} s"
