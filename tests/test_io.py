"""Tests of zssr.io: lossless round trips, depth/alpha/ICC/orientation kept, errors, atomic writes.

Images are synthesised with numpy, Pillow and tifffile in ``tmp_path``; the one
real photo is ``skimage.data.astronaut()`` (512×512 RGB, 8-bit). Independent
checks of the hand-written 16-bit PNG codec come from Pillow, which reads 16-bit
gray exactly and 16-bit RGB(A) as the high byte of each sample.
"""

from __future__ import annotations

import errno
import io as stdlib_io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import tifffile
import torch
from PIL import Image, ImageCms, ImageOps

from zssr.errors import ImageReadError, ImageWriteError, ShapeError
from zssr.io import (
    IMAGE_SUFFIXES,
    Picture,
    collect_inputs,
    output_path_for,
    read_image,
    to_array,
    to_tensor,
    write_image,
)

LAYOUTS = {"gray": (1, False), "gray_alpha": (1, True), "rgb": (3, False), "rgba": (3, True)}


def _levels(shape: tuple[int, ...], bit_depth: int, seed: int = 0) -> np.ndarray:
    """Random integer levels of the given depth (uint16 holds both depths)."""
    return np.random.default_rng(seed).integers(0, 2**bit_depth, shape).astype(np.uint16)


def _layout_arrays(layout: str, bit_depth: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(color, alpha, all levels) for a layout, as exact multiples of 1 / (2**depth - 1)."""
    channels, has_alpha = LAYOUTS[layout]
    levels = _levels((13, 17, channels + int(has_alpha)), bit_depth, seed)
    unit = levels / (2**bit_depth - 1)
    return unit[..., :channels], (unit[..., channels] if has_alpha else None), levels


def _as_levels(values: np.ndarray, bit_depth: int) -> np.ndarray:
    return np.round(values.astype(np.float64) * (2**bit_depth - 1)).astype(np.int64)


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _assert_one_line_naming(error: pytest.ExceptionInfo[Exception], path: Path) -> None:
    message = str(error.value)
    assert str(path) in message
    assert "\n" not in message


def _files_in(folder: Path) -> list[str]:
    return sorted(child.name for child in folder.iterdir())


# An independent 16-bit PNG encoder for tests: every filter type and Adam7 interlacing,
# which the package's own encoder never emits (it uses None/Sub/Up only).


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _filter_rows(raw: np.ndarray, bpp: int, filters: tuple[int, ...]) -> bytes:
    """Apply PNG filter ``filters[y % len]`` to each row of ``raw`` (PNG spec §9.2)."""
    out = bytearray()
    above = np.zeros(raw.shape[1], dtype=np.int32)
    for y, row in enumerate(raw.astype(np.int32)):
        left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        upper_left = np.concatenate([np.zeros(bpp, np.int32), above[:-bpp]])
        kind = filters[y % len(filters)]
        if kind == 0:
            predictor = np.zeros_like(row)
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = above
        elif kind == 3:
            predictor = (left + above) // 2
        else:
            estimate = left + above - upper_left
            pa, pb, pc = abs(estimate - left), abs(estimate - above), abs(estimate - upper_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, upper_left))
        out.append(kind)
        out += ((row - predictor) % 256).astype(np.uint8).tobytes()
        above = row
    return bytes(out)


def _png16_bytes(
    levels: np.ndarray, *, filters: tuple[int, ...] = (0,), interlace: bool = False, extra: bytes = b""
) -> bytes:
    height, width, samples = levels.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[samples]
    bpp = 2 * samples
    raw = levels.astype(">u2").view(np.uint8).reshape(height, width * bpp)
    if interlace:
        passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
        reduced = [levels[y0::dy, x0::dx] for x0, y0, dx, dy in passes]
        data = b"".join(
            _filter_rows(part.astype(">u2").view(np.uint8).reshape(part.shape[0], -1), bpp, filters)
            for part in reduced
            if part.size
        )
    else:
        data = _filter_rows(raw, bpp, filters)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, int(interlace))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(data))
        + _chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff", ".bmp", ".webp"])
def test_lossless_formats_round_trip_8bit_exactly(tmp_path: Path, suffix: str, layout: str) -> None:
    color, alpha, _ = _layout_arrays(layout, 8)
    path = write_image(tmp_path / f"image{suffix}", color, alpha=alpha)
    picture = read_image(path)
    assert picture.bit_depth == 8
    assert picture.path == path
    assert picture.color.dtype == np.float32
    expected_color = color
    if suffix == ".webp" and color.shape[2] == 1:  # WebP has no gray: read back as RGB
        expected_color = np.repeat(color, 3, axis=2)
    np.testing.assert_array_equal(_as_levels(picture.color, 8), _as_levels(expected_color, 8))
    if alpha is None or suffix == ".bmp":  # BMP alpha is dropped on write (documented)
        assert picture.alpha is None
    else:
        assert picture.alpha is not None
        np.testing.assert_array_equal(_as_levels(picture.alpha, 8), _as_levels(alpha, 8))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_png_and_tiff_round_trip_16bit_exactly(tmp_path: Path, suffix: str, layout: str) -> None:
    color, alpha, levels = _layout_arrays(layout, 16)
    path = write_image(tmp_path / f"image{suffix}", color, alpha=alpha, bit_depth=16)
    picture = read_image(path)
    assert picture.bit_depth == 16
    planes = picture.color if picture.alpha is None else np.dstack([picture.color, picture.alpha])
    np.testing.assert_array_equal(_as_levels(planes, 16), levels)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_our_16bit_png_agrees_with_pillow(tmp_path: Path, layout: str) -> None:
    """Pillow decodes the file independently: 16-bit gray exactly, RGB(A)/LA as high bytes."""
    color, alpha, levels = _layout_arrays(layout, 16, seed=1)
    path = write_image(tmp_path / "image.png", color, alpha=alpha, bit_depth=16)
    with Image.open(path) as image:
        decoded = np.asarray(image)
    if layout == "gray":
        np.testing.assert_array_equal(decoded, levels[..., 0])
    elif layout == "gray_alpha":  # Pillow turns 16-bit LA into 8-bit RGBA
        np.testing.assert_array_equal(decoded[..., 0], levels[..., 0] >> 8)
        np.testing.assert_array_equal(decoded[..., 3], levels[..., 1] >> 8)
    else:
        np.testing.assert_array_equal(decoded, levels >> 8)


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("samples", [1, 2, 3, 4])
def test_16bit_png_decoder_undoes_every_filter_type(tmp_path: Path, samples: int, interlace: bool) -> None:
    """Rows cycle through filters None, Sub, Up, Average, Paeth; Pillow confirms the test file is valid."""
    levels = _levels((11, 10, samples), 16, seed=samples)
    path = tmp_path / "filters.png"
    path.write_bytes(_png16_bytes(levels, filters=(0, 1, 2, 3, 4), interlace=interlace))
    with Image.open(path) as image:
        pillow = np.asarray(image).astype(np.int64)
    if samples == 1:  # Pillow keeps 16-bit gray, reduces the rest to high bytes (LA to RGBA)
        expected_pillow = levels[..., 0]
    elif samples == 2:
        expected_pillow = levels[..., [0, 0, 0, 1]] >> 8
    else:
        expected_pillow = levels >> 8
    np.testing.assert_array_equal(pillow, expected_pillow)
    picture = read_image(path)
    planes = picture.color if picture.alpha is None else np.dstack([picture.color, picture.alpha])
    np.testing.assert_array_equal(_as_levels(planes, 16), levels)


def test_16bit_png_transparency_key_becomes_alpha(tmp_path: Path) -> None:
    levels = _levels((6, 7, 3), 16, seed=3)
    key = levels[2, 3]
    path = tmp_path / "key.png"
    path.write_bytes(_png16_bytes(levels, extra=_chunk(b"tRNS", key.astype(">u2").tobytes())))
    picture = read_image(path)
    assert picture.alpha is not None
    np.testing.assert_array_equal(picture.alpha == 0, (levels == key).all(axis=2))


def test_astronaut_photo_round_trips_exactly_at_8_and_16_bits(tmp_path: Path) -> None:
    photo = skimage.data.astronaut()
    write_path = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(write_path)
    picture = read_image(write_path)
    assert (picture.height, picture.width, picture.channels) == (512, 512, 3)
    np.testing.assert_array_equal(_as_levels(picture.color, 8), photo)
    sixteen = write_image(tmp_path / "astronaut16.png", picture.color, bit_depth=16)
    again = read_image(sixteen)
    assert again.bit_depth == 16
    np.testing.assert_array_equal(_as_levels(again.color, 8), photo)


def test_jpeg_keeps_astronaut_close_and_drops_alpha(tmp_path: Path) -> None:
    photo = skimage.data.astronaut() / 255.0
    path = write_image(tmp_path / "astronaut.jpg", photo, alpha=np.ones(photo.shape[:2]), bit_depth=16)
    picture = read_image(path)
    assert picture.alpha is None and picture.bit_depth == 8
    # Quality 95 without chroma subsampling gives 41.2 dB here (Pillow 13, libjpeg-turbo);
    # with 4:2:0 subsampling it would be 38.3 dB.
    psnr = 10 * np.log10(1.0 / np.mean((picture.color - photo) ** 2))
    assert psnr > 40


@pytest.mark.parametrize("suffix", [".bmp", ".webp"])
def test_formats_without_16bit_write_8bit_without_error(tmp_path: Path, suffix: str) -> None:
    color, _, _ = _layout_arrays("rgb", 16, seed=4)
    picture = read_image(write_image(tmp_path / f"image{suffix}", color, bit_depth=16))
    assert picture.bit_depth == 8
    np.testing.assert_array_equal(_as_levels(picture.color, 8), _as_levels(color, 8))


def test_write_rounds_half_up_and_clips(tmp_path: Path) -> None:
    values = np.array([[-0.5, 0.0, 0.5 / 255, 1.49 / 255, 1.5 / 255, 1.0, 7.0]])
    picture = read_image(write_image(tmp_path / "levels.png", values))
    np.testing.assert_array_equal(_as_levels(picture.color[..., 0], 8), [[0, 0, 1, 1, 2, 255, 255]])


# --------------------------------------------------------------------------- reading other modes


def test_palette_image_is_read_as_rgb(tmp_path: Path) -> None:
    palette_image = Image.fromarray(skimage.data.astronaut()[:64, :64]).quantize(16)
    palette_image.save(tmp_path / "palette.png")
    picture = read_image(tmp_path / "palette.png")
    assert picture.channels == 3 and picture.alpha is None and picture.bit_depth == 8
    np.testing.assert_array_equal(_as_levels(picture.color, 8), np.asarray(palette_image.convert("RGB")))


def test_palette_with_transparency_gives_alpha(tmp_path: Path) -> None:
    indices = np.arange(20, dtype=np.uint8).reshape(4, 5) % 4
    palette_image = Image.new("P", (5, 4))
    palette_image.putdata(indices.ravel().tolist())
    palette_image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    palette_image.save(tmp_path / "palette_alpha.png", transparency=2)
    picture = read_image(tmp_path / "palette_alpha.png")
    assert picture.channels == 3 and picture.alpha is not None
    np.testing.assert_array_equal(picture.alpha == 0, indices == 2)


def test_rgb_transparency_key_in_8bit_png_gives_alpha(tmp_path: Path) -> None:
    levels = _levels((4, 5, 3), 8, seed=5).astype(np.uint8)
    levels[0, 0] = (1, 2, 3)
    Image.fromarray(levels).save(tmp_path / "key.png", transparency=(1, 2, 3))
    picture = read_image(tmp_path / "key.png")
    assert picture.alpha is not None
    np.testing.assert_array_equal(picture.alpha == 0, (levels == (1, 2, 3)).all(axis=2))


def test_one_bit_image_is_read_as_gray_zero_one(tmp_path: Path) -> None:
    bits = np.random.default_rng(6).random((9, 8)) > 0.5
    Image.fromarray(bits).save(tmp_path / "bits.png")
    picture = read_image(tmp_path / "bits.png")
    assert picture.channels == 1 and picture.bit_depth == 8
    np.testing.assert_array_equal(picture.color[..., 0], bits.astype(np.float32))


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    Image.fromarray(skimage.data.astronaut()[:32, :32]).convert("CMYK").save(tmp_path / "cmyk.jpg")
    picture = read_image(tmp_path / "cmyk.jpg")
    with Image.open(tmp_path / "cmyk.jpg") as image:
        assert image.mode == "CMYK"
        expected = np.asarray(image.convert("RGB"))
    assert picture.channels == 3
    np.testing.assert_array_equal(_as_levels(picture.color, 8), expected)


def test_pillow_16bit_gray_png_is_read_at_16_bits(tmp_path: Path) -> None:
    levels = _levels((7, 9), 16, seed=7)
    Image.fromarray(levels).save(tmp_path / "gray16.png")
    picture = read_image(tmp_path / "gray16.png")
    assert picture.bit_depth == 16
    np.testing.assert_array_equal(_as_levels(picture.color[..., 0], 16), levels)


def test_tifffile_16bit_rgb_planar_and_miniswhite_are_read(tmp_path: Path) -> None:
    levels = _levels((3, 3, 5), 16, seed=8)
    tifffile.imwrite(tmp_path / "planar.tif", levels, photometric="rgb", planarconfig="separate")
    planar = read_image(tmp_path / "planar.tif")
    np.testing.assert_array_equal(_as_levels(planar.color, 16), np.moveaxis(levels, 0, -1))
    gray = _levels((4, 6), 8, seed=9).astype(np.uint8)
    tifffile.imwrite(tmp_path / "white.tif", gray, photometric="miniswhite")
    np.testing.assert_array_equal(_as_levels(read_image(tmp_path / "white.tif").color[..., 0], 8), 255 - gray)


def test_lzw_tiff_falls_back_to_pillow(tmp_path: Path) -> None:
    """LZW needs the optional imagecodecs package in tifffile; Pillow (libtiff) reads it."""
    levels = _levels((6, 5, 3), 8, seed=10).astype(np.uint8)
    Image.fromarray(levels).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(_as_levels(read_image(tmp_path / "lzw.tif").color, 8), levels)


def test_float_tiff_is_accepted_in_unit_range_and_written_back_at_16_bits(tmp_path: Path) -> None:
    values = np.random.default_rng(11).random((5, 6, 3)).astype(np.float32)
    values[0, 0, 0], values[0, 1, 0] = 1.0004, -0.0004  # float round-off: clipped
    tifffile.imwrite(tmp_path / "float.tif", values, photometric="rgb")
    picture = read_image(tmp_path / "float.tif")
    assert picture.bit_depth == 16
    np.testing.assert_array_equal(picture.color, np.clip(values, 0, 1))
    out = write_image(tmp_path / "out.tif", picture.color, bit_depth=picture.bit_depth)
    assert tifffile.imread(out).dtype == np.uint16


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1.5, -0.2])
def test_float_tiff_with_nan_inf_or_out_of_range_is_refused(tmp_path: Path, bad: float) -> None:
    values = np.full((4, 4), 0.5, dtype=np.float32)
    values[1, 2] = bad
    path = tmp_path / "bad_float.tif"
    tifffile.imwrite(path, values)
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    _assert_one_line_naming(error, path)


# --------------------------------------------------------------------------- orientation and ICC


def test_exif_orientation_6_jpeg_is_rotated_upright(tmp_path: Path) -> None:
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:10, :10] = 255  # bright block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    picture = read_image(tmp_path / "rotated.jpg")
    assert picture.color.shape == (40, 20, 3)
    assert picture.color[:10, -10:].mean() > 0.9  # top-left went to the top-right
    assert picture.color[:10, :10].mean() < 0.1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_exif_transpose(tmp_path: Path, orientation: int) -> None:
    stored = _levels((3, 5, 4), 8, seed=12).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "oriented.png", exif=exif.tobytes())
    with Image.open(tmp_path / "oriented.png") as image:
        expected = np.asarray(ImageOps.exif_transpose(image))
    picture = read_image(tmp_path / "oriented.png")
    assert picture.alpha is not None
    np.testing.assert_array_equal(_as_levels(np.dstack([picture.color, picture.alpha]), 8), expected)


def test_16bit_png_exif_orientation_is_applied(tmp_path: Path) -> None:
    levels = _levels((3, 5, 3), 16, seed=17)
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90° counter-clockwise to display"
    path = tmp_path / "oriented16.png"
    path.write_bytes(_png16_bytes(levels, extra=_chunk(b"eXIf", exif.tobytes()[len(b"Exif\x00\x00") :])))
    np.testing.assert_array_equal(_as_levels(read_image(path).color, 16), np.rot90(levels, 1))


def test_tiff_orientation_tag_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((2, 3), dtype=np.uint8)
    stored[0, 0] = 255
    tifffile.imwrite(tmp_path / "oriented.tif", stored, extratags=[(274, "H", 1, 6, True)])
    color = read_image(tmp_path / "oriented.tif").color[..., 0]
    np.testing.assert_array_equal(color, [[0, 1], [0, 0], [0, 0]])


@pytest.mark.parametrize(("suffix", "bit_depth"), [(".png", 8), (".png", 16), (".jpg", 8), (".webp", 8), (".tif", 16)])
def test_icc_profile_is_written_and_read_back(tmp_path: Path, suffix: str, bit_depth: int) -> None:
    profile = _srgb_profile()
    color, _, _ = _layout_arrays("rgb", 8, seed=13)
    path = write_image(tmp_path / f"icc{suffix}", color, bit_depth=bit_depth, icc_profile=profile)
    assert read_image(path).icc_profile == profile
    if suffix != ".tif":
        with Image.open(path) as image:  # readable by other software too
            assert image.info.get("icc_profile") == profile


def test_icc_profile_of_a_pillow_png_is_kept(tmp_path: Path) -> None:
    profile = _srgb_profile()
    Image.new("RGB", (4, 3)).save(tmp_path / "icc.png", icc_profile=profile)
    assert read_image(tmp_path / "icc.png").icc_profile == profile
    assert read_image(write_image(tmp_path / "plain.png", np.zeros((3, 4, 3)))).icc_profile is None


# --------------------------------------------------------------------------- read errors


def test_reading_a_missing_file_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.png"
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    _assert_one_line_naming(error, path)


def test_reading_a_folder_fails_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError) as error:
        read_image(tmp_path)
    _assert_one_line_naming(error, tmp_path)


def test_reading_a_text_file_named_png_fails(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image\nat all\n")
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    _assert_one_line_naming(error, path)


@pytest.mark.parametrize("kind", ["png8", "png16", "png16_bad_crc", "jpeg"])
def test_reading_a_truncated_or_corrupt_file_fails(tmp_path: Path, kind: str) -> None:
    noise = _levels((64, 64, 3), 8, seed=14).astype(np.uint8)
    buffer = stdlib_io.BytesIO()
    if kind == "png8":
        Image.fromarray(noise).save(buffer, format="PNG")
    elif kind == "jpeg":
        Image.fromarray(noise).save(buffer, format="JPEG")
    else:
        buffer.write(_png16_bytes(noise.astype(np.uint16) * 257))
    data = buffer.getvalue()
    if kind == "png16_bad_crc":
        corrupt = bytearray(data)
        corrupt[40] ^= 0xFF  # inside the IDAT payload
        data = bytes(corrupt)
    else:
        data = data[: len(data) // 2]
    path = tmp_path / ("broken.jpg" if kind == "jpeg" else "broken.png")
    path.write_bytes(data)
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    _assert_one_line_naming(error, path)


def test_a_tiff_cut_anywhere_fails_with_its_error_alone_no_decoder_warnings_or_log_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """Found by the fuzzer (tests/test_fuzz_files.py): before the error, Pillow warned ("Truncated
    File Read", "Tag data larger than file") and tifffile logged "<TiffTag.fromfile> raised …",
    which the CLI printed as extra stderr lines (the log record raw, without ``zssr:``)."""
    import logging
    import warnings

    buffer = stdlib_io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((8, 9, 3), np.uint16), photometric="rgb", description="x" * 200)
    data = buffer.getvalue()
    path = tmp_path / "cut.tif"
    failures = 0
    caplog.set_level(logging.WARNING)  # what Python prints when no logging is configured
    for cut in range(8, len(data)):
        path.write_bytes(data[:cut])
        caplog.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                read_image(path)
            except ImageReadError:
                failures += 1
                assert not caught, (cut, [str(w.message) for w in caught])
                assert not caplog.records, (cut, [r.getMessage() for r in caplog.records])
    assert failures > 0


def test_unsupported_modes_and_sample_types_are_refused(tmp_path: Path) -> None:
    Image.new("LAB", (4, 4)).save(tmp_path / "lab.tif")  # CIELab TIFF: Pillow mode "LAB"
    tifffile.imwrite(tmp_path / "signed.tif", np.zeros((3, 3), np.int16))
    for name, reason in [("lab.tif", "mode 'LAB'"), ("signed.tif", "int16")]:
        with pytest.raises(ImageReadError, match=reason) as error:
            read_image(tmp_path / name)
        _assert_one_line_naming(error, tmp_path / name)


# --------------------------------------------------------------------------- write errors


def test_unknown_suffix_on_write_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match=r"\.gif"):
        write_image(tmp_path / "out.gif", np.zeros((2, 2, 3)))
    assert _files_in(tmp_path) == []


def test_nan_on_write_is_refused(tmp_path: Path) -> None:
    color = np.zeros((3, 3, 3))
    color[1, 1, 1] = np.nan
    path = tmp_path / "nan.png"
    with pytest.raises(ImageWriteError) as error:
        write_image(path, color)
    _assert_one_line_naming(error, path)
    assert _files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("color", "alpha"),
    [(np.zeros((2, 2, 2)), None), (np.zeros((2, 2, 4)), None), (np.zeros((2, 2, 3, 1)), None),
     (np.zeros((0, 2, 3)), None), (np.zeros((2, 2, 3)), np.zeros((3, 2)))],
)
def test_wrong_shapes_on_write_are_refused(tmp_path: Path, color: np.ndarray, alpha: np.ndarray | None) -> None:
    with pytest.raises(ShapeError):
        write_image(tmp_path / "out.png", color, alpha=alpha)


def test_bit_depth_other_than_8_or_16_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="bit_depth"):
        write_image(tmp_path / "out.png", np.zeros((2, 2, 3)), bit_depth=12)


def test_missing_parent_folder_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "out.png"
    with pytest.raises(ImageWriteError) as error:
        write_image(path, np.zeros((2, 2, 3)))
    _assert_one_line_naming(error, path)
    assert not path.parent.exists()


def test_overwriting_a_protected_input_is_refused_and_input_untouched(tmp_path: Path) -> None:
    source = write_image(tmp_path / "input.png", np.full((4, 4, 3), 0.25))
    before = source.read_bytes()
    other_spelling = tmp_path / "sub" / ".." / "input.png"
    (tmp_path / "sub").mkdir()
    for protect in ([source], [str(other_spelling)]):
        with pytest.raises(ImageWriteError, match="overwrite"):
            write_image(source, np.zeros((4, 4, 3)), protect=protect)
    with pytest.raises(ImageWriteError, match="overwrite"):  # same file through a different name
        write_image(other_spelling, np.zeros((4, 4, 3)), protect=[source])
    assert source.read_bytes() == before
    assert _files_in(tmp_path) == ["input.png", "sub"]


def test_protecting_a_not_yet_existing_path_also_refuses(tmp_path: Path) -> None:
    target = tmp_path / "new.png"
    with pytest.raises(ImageWriteError, match="overwrite"):
        write_image(target, np.zeros((2, 2, 3)), protect=[tmp_path / "." / "new.png"])
    assert not target.exists()


def _fail_pillow_save(monkeypatch: pytest.MonkeyPatch) -> None:
    def save(self: Image.Image, fp: stdlib_io.BufferedWriter, *args: object, **kwargs: object) -> None:
        fp.write(b"partial image data")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)


def _fail_tifffile(monkeypatch: pytest.MonkeyPatch) -> None:
    def imwrite(handle: stdlib_io.BufferedWriter, *args: object, **kwargs: object) -> None:
        handle.write(b"II*\x00partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tifffile, "imwrite", imwrite)


def _fail_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    def compress(*args: object, **kwargs: object) -> bytes:
        raise MemoryError("zlib ran out of memory")

    monkeypatch.setattr(zlib, "compress", compress)


def _fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)


def _fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(source: object, destination: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize(
    ("suffix", "bit_depth", "inject", "reason"),
    [
        (".png", 8, _fail_pillow_save, "No space left on device"),
        (".jpg", 8, _fail_pillow_save, "No space left on device"),
        (".tif", 16, _fail_tifffile, "No space left on device"),
        (".png", 16, _fail_zlib, "zlib ran out of memory"),
        (".png", 8, _fail_fsync, "Input/output error"),
        (".png", 16, _fail_replace, "Invalid cross-device link"),
    ],
)
@pytest.mark.parametrize("target_exists", [False, True])
def test_failed_write_leaves_target_intact_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, bit_depth: int,
    inject: Callable[[pytest.MonkeyPatch], None], reason: str, target_exists: bool,
) -> None:
    target = tmp_path / f"out{suffix}"
    if target_exists:
        target.write_bytes(b"previous content")
    inject(monkeypatch)
    with pytest.raises(ImageWriteError, match=reason) as error:
        write_image(target, np.full((4, 4, 3), 0.5), bit_depth=bit_depth)
    monkeypatch.undo()
    _assert_one_line_naming(error, target)
    assert _files_in(tmp_path) == ([target.name] if target_exists else [])
    if target_exists:
        assert target.read_bytes() == b"previous content"


def test_successful_write_replaces_target_and_respects_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous content")
    written = write_image(target, np.full((4, 4, 3), 0.5))
    assert written == target and _files_in(tmp_path) == ["out.png"]
    assert read_image(target).color.shape == (4, 4, 3)
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------------------- converters


def test_to_tensor_gives_contiguous_float32_batch_of_one() -> None:
    array = np.random.default_rng(15).random((5, 7, 3))
    tensor = to_tensor(array)
    assert tensor.shape == (1, 3, 5, 7) and tensor.dtype == torch.float32 and tensor.is_contiguous()
    np.testing.assert_array_equal(tensor[0, 2].numpy(), array[..., 2].astype(np.float32))
    assert to_tensor(array[..., 0]).shape == (1, 1, 5, 7)


def test_to_array_inverts_to_tensor_and_owns_its_memory() -> None:
    array = np.random.default_rng(16).random((5, 7, 1)).astype(np.float32)
    tensor = to_tensor(array)
    tensor += 1  # the tensor is a copy: the input is untouched
    np.testing.assert_array_equal(to_array(to_tensor(array)), array)
    assert array.max() < 1
    back = to_array(tensor.requires_grad_(True)[0].double())
    assert back.shape == (5, 7, 1) and back.dtype == np.float32 and back.flags.c_contiguous


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((1, 2, 3, 4)), [[0.0]], np.zeros((2, 2), dtype=complex)])
def test_to_tensor_refuses_non_images(bad: object) -> None:
    with pytest.raises(ShapeError, match="array"):
        to_tensor(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 4, 5), torch.zeros(4, 5), np.zeros((3, 4, 5))])
def test_to_array_refuses_batches_and_wrong_ranks(bad: object) -> None:
    with pytest.raises(ShapeError, match="tensor"):
        to_array(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Picture and paths


def test_picture_exposes_size_and_validates_fields() -> None:
    picture = Picture(color=np.zeros((4, 6, 3), np.float32), alpha=np.ones((4, 6), np.float32), bit_depth=16)
    assert (picture.height, picture.width, picture.channels) == (4, 6, 3)
    with pytest.raises(ShapeError, match="color"):
        Picture(color=np.zeros((4, 6, 3)))  # float64
    with pytest.raises(ShapeError, match="alpha"):
        Picture(color=np.zeros((4, 6, 1), np.float32), alpha=np.ones((6, 4), np.float32))
    with pytest.raises(ImageWriteError, match="bit_depth"):
        Picture(color=np.zeros((4, 6, 1), np.float32), bit_depth=12)


def test_collect_inputs_lists_folder_images_sorted_non_recursively(tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    (folder / "nested").mkdir(parents=True)
    for name in ["b.PNG", "a.jpg", "c.tiff", "notes.txt", ".hidden.png", "nested/d.png"]:
        (folder / name).write_bytes(b"")
    loose = tmp_path / "loose.bmp"
    loose.write_bytes(b"")
    found = collect_inputs([loose, str(folder), folder / "a.jpg"])
    assert [p.name for p in found] == ["loose.bmp", "a.jpg", "b.PNG", "c.tiff"]
    assert IMAGE_SUFFIXES >= {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def test_collect_inputs_refuses_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="absent"):
        collect_inputs([tmp_path / "absent.png"])
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ImageReadError, match="no images"):
        collect_inputs([tmp_path])
    with pytest.raises(ImageReadError):
        collect_inputs([])


def test_output_path_for_keeps_the_name(tmp_path: Path) -> None:
    assert output_path_for("in/baby.png", tmp_path) == tmp_path / "baby.png"
    assert output_path_for(Path("in/baby.bmp"), tmp_path, ".png") == tmp_path / "baby.png"
    assert output_path_for("in/x.y.tif", tmp_path, "tiff") == tmp_path / "x.y.tiff"
    with pytest.raises(ImageWriteError, match="suffix"):
        output_path_for("in/baby.png", tmp_path, ".gif")


def test_a_tiff_whose_strip_offsets_are_rationals_is_an_image_read_error(tmp_path: Path) -> None:
    """Found by the long fuzz run (benchmarks/results/fuzz_long.md): Pillow 12 raised a TypeError
    ("'IFDRational' object cannot be interpreted as an integer") for a TIFF tag of the wrong type."""
    buf = stdlib_io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "CMYK").save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 0x0111:  # StripOffsets: LONG -> RATIONAL
            data[entry + 2 : entry + 4] = struct.pack("<H", 5)
    path = tmp_path / "bad.tif"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="cannot read image"):
        read_image(path)
