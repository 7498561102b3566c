"""Decompression bombs (issue #30, cause 2): every inflate stops at the size the header implies.

A 2 MB 16-bit PNG declaring 16×16 pixels whose data inflates to 2 GiB took 4.5 GB of memory
and 14 s before "wrong length"; tifffile (without imagecodecs) inflated deflate and LZMA strips
whole. The bombs are made on the fly (tests/bombs.py); the fuzzer's property is in
tests/test_fuzz_bombs.py.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tifffile
from bombs import png_bomb, read_in_child, tiff_bomb

from zssr.errors import ImageReadError
from zssr.io import read_image, write_image
from zssr.io.inflate import MAX_ICC_BYTES, cap_tifffile_codecs, inflate_capped
from zssr.io.volume import read_volume


def _refused_with_little_memory(path: Path, *, budget: int = 32 * 2**20) -> str:
    """read_image(path) raises ImageReadError, allocating at most ``budget`` bytes in Python/numpy."""
    tracemalloc.start()
    try:
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < budget, f"{peak / 2**20:.0f} MiB allocated refusing {path.name}"
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_256_mib_16bit_png_bomb_is_refused_in_seconds_with_under_100_mb_of_peak_rss(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(16, 16, idat_bytes=2**28))
    assert path.stat().st_size < 2**20  # a small file that once took 4.5 GB (at 2 GiB) and 14 s to refuse
    outcome, grown, seconds = read_in_child(path)
    assert outcome.startswith("refused") and "inflates past the 1,552 bytes its header implies" in outcome
    assert grown < 100e6, f"peak RSS grew by {grown / 1e6:.0f} MB"
    assert seconds < 5.0


@pytest.mark.parametrize("interlace", [0, 1])
@pytest.mark.parametrize("color_type", [0, 2, 4, 6])
def test_16bit_png_data_past_its_header_size_is_refused_for_every_colour_type_and_interlace(
    tmp_path: Path, color_type: int, interlace: int
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(5, 3, color_type=color_type, interlace=interlace, idat_bytes=2**25, idat_chunks=7))
    assert "its header implies" in _refused_with_little_memory(path)


def test_a_16bit_png_iccp_profile_is_inflated_at_most_to_the_documented_cap(tmp_path: Path) -> None:
    path = tmp_path / "icc.png"
    path.write_bytes(png_bomb(4, 4, idat_bytes=4 * (1 + 4 * 6), icc_bytes=MAX_ICC_BYTES + 1))
    assert "colour profile" in _refused_with_little_memory(path, budget=2 * MAX_ICC_BYTES)


def test_16bit_pngs_whose_data_is_exactly_their_size_still_read_with_their_icc_profile(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for shape in [(7, 5, 3), (9, 4, 1), (3, 11, 3)]:
        color = rng.integers(0, 65536, shape).astype(np.float32) / 65535
        path = write_image(tmp_path / f"ok{shape[0]}.png", color, bit_depth=16, icc_profile=b"x" * 3000)
        back = read_image(path)
        assert back.icc_profile == b"x" * 3000 and back.bit_depth == 16
        np.testing.assert_array_equal(np.round(back.color * 65535), np.round(color * 65535))
    exact = tmp_path / "zeros.png"
    exact.write_bytes(png_bomb(6, 4, color_type=6, interlace=1, idat_bytes=200))  # Adam7 of 6×4 RGBA: 200 bytes
    assert read_image(exact).color.shape == (4, 6, 3)


@pytest.mark.parametrize(("compression", "strips"), [(8, 1), (8, 4), (32946, 2), (34925, 1)])
def test_tiff_strips_that_inflate_past_their_declared_size_are_refused(
    tmp_path: Path, compression: int, strips: int
) -> None:
    path = tmp_path / "bomb.tif"
    inflated = 2**20 if compression == 34925 else 2**25  # LZMA bombs are slow to make
    path.write_bytes(tiff_bomb(16, 16, inflated=inflated, compression=compression, strips=strips))
    assert "segment inflates past" in _refused_with_little_memory(path)
    with pytest.raises(ImageReadError, match="inflates past"):
        read_volume(path)


@pytest.mark.parametrize("compression", ["zlib", "lzma"])
def test_compressed_tiffs_of_the_right_size_still_read_exactly(tmp_path: Path, compression: str) -> None:
    data = np.random.default_rng(1).integers(0, 65536, (37, 23, 3), dtype=np.uint16)
    path = tmp_path / "ok.tif"
    tifffile.imwrite(path, data, compression=compression, rowsperstrip=5, photometric="rgb")
    np.testing.assert_array_equal(np.round(read_image(path).color * 65535).astype(np.uint16), data)


def test_a_tiff_header_past_the_decompression_bomb_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    path.write_bytes(tiff_bomb(60000, 60000, inflated=1024))
    with pytest.raises(ImageReadError, match="decompression-bomb limit"):
        read_image(path)


def test_tifffile_uses_the_capped_decoders() -> None:
    assert cap_tifffile_codecs()
    with pytest.raises(ImageReadError, match="inflates past the 10 bytes"):
        tifffile.TIFF.DECOMPRESSORS[8](__import__("zlib").compress(b"\0" * 11), out=10)


def test_inflate_capped_returns_a_short_stream_whole_and_refuses_one_byte_more() -> None:
    import zlib

    data = bytes(range(256)) * 40
    packed = zlib.compress(data)
    pieces = [packed[i : i + 7] for i in range(0, len(packed), 7)]
    assert inflate_capped(pieces, len(data), "x").tobytes() == data
    assert inflate_capped(pieces, len(data) + 5, "x").tobytes() == data
    with pytest.raises(ImageReadError, match="inflates past the 10,239 bytes"):
        inflate_capped(pieces, len(data) - 1, "x")
    with pytest.raises(ImageReadError, match="corrupt"):
        inflate_capped([b"not zlib at all"], 100, "x")


def test_the_pages_upload_description_step_refuses_a_bomb_in_bounded_memory(tmp_path: Path) -> None:
    """What the page's describe step runs on an upload (zssr.web.app): the header check, then read_image."""
    from zssr.web.session import Limits, check_upload

    path = tmp_path / "upload.png"
    path.write_bytes(png_bomb(16, 16, idat_bytes=2**28))
    check_upload(path, Limits(), None, name="upload.png")  # a small file with a small header passes…
    outcome, grown, seconds = read_in_child(path)  # …and the decode stops at the header's size
    assert outcome.startswith("refused") and grown < 100e6 and seconds < 5.0
