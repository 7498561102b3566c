"""Reading noise and JPEG quality from the image (issue #17, item 1), on synthetic truth.

Reference values: the IJG table is ITU-T T.81 Annex K (libjpeg's ``std_luminance_quant_tbl``);
qualities are those Pillow (libjpeg) wrote; noise is drawn here with a fixed seed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from zssr.degradation import (
    CLEAN_SIGMA,
    IJG_LUMA,
    estimate_noise,
    ijg_table,
    jpeg_quality,
    jpeg_quality_from_pixels,
    quality_from_table,
)
from zssr.errors import ShapeError


def _photo(name: str = "astronaut", side: int = 192) -> np.ndarray:
    img = getattr(data, name)()
    top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
    return img[top : top + side, left : left + side].astype(np.float64) / 255.0


def _noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noisy = img + np.random.default_rng(seed).normal(0.0, sigma, img.shape)
    return np.round(np.clip(noisy, 0.0, 1.0) * 255) / 255  # saved as 8 bits, as a photo would be


def _jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket"])
def test_clean_photos_read_as_clean(name: str) -> None:
    assert estimate_noise(_photo(name)).max() < CLEAN_SIGMA


@pytest.mark.parametrize("sigma255", [5, 10, 20])
@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_added_gaussian_noise_is_read_within_15_percent(name: str, sigma255: int) -> None:
    """The bound stated in benchmarks/results/degradation_estimates.md for σ in 5–20/255."""
    estimate = estimate_noise(_noisy(_photo(name), sigma255 / 255)).mean() * 255
    assert abs(estimate - sigma255) <= 0.15 * sigma255 + 0.5


def test_each_channel_gets_its_own_level() -> None:
    img = _photo("coffee")
    rng = np.random.default_rng(3)
    noisy = np.clip(img + rng.normal(0, 1, img.shape) * np.array([2, 8, 16]) / 255, 0, 1)
    estimate = estimate_noise(noisy) * 255
    assert estimate[0] < estimate[1] < estimate[2]
    assert abs(estimate[2] - 16) < 0.3 * 16  # clipping at 1 in the bright cup lowers the blue level


def test_gray_images_and_tiny_images() -> None:
    gray = _noisy(_photo("camera"), 10 / 255)
    assert estimate_noise(gray).shape == (1,)
    with pytest.raises(ShapeError, match="at least 16×16"):
        estimate_noise(np.zeros((8, 40)))


def test_the_ijg_table_at_quality_50_is_the_standard_table() -> None:
    assert np.array_equal(ijg_table(50), IJG_LUMA)
    assert ijg_table(100).max() == 1 and ijg_table(1).max() == 255


@pytest.mark.parametrize("quality", [10, 20, 33, 45, 50, 62, 75, 88, 95, 100])
def test_a_jpeg_files_quality_is_read_exactly_from_its_tables(quality: int, tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(_jpeg(_photo(), quality))
    estimate = jpeg_quality(path)
    assert estimate.compressed and estimate.source == "tables" and estimate.confidence == 1.0
    assert estimate.quality == quality or (quality >= 99 and estimate.quality >= 98)  # 98–100 share all-1 tables
    with Image.open(path) as im:
        assert quality_from_table(np.asarray(im.quantization[0]))[1] == 0.0


@pytest.mark.parametrize("quality", [20, 45, 75, 90])
def test_a_decoded_jpegs_quality_is_found_from_its_pixels(quality: int, tmp_path: Path) -> None:
    decoded = np.asarray(Image.open(io.BytesIO(_jpeg(_photo("chelsea", 128), quality))), dtype=np.float64) / 255
    estimate = jpeg_quality_from_pixels(decoded)
    assert estimate.compressed and estimate.source == "pixels"
    assert abs(int(estimate.quality or 0) - quality) <= 2
    path = tmp_path / "decoded.png"  # a PNG saved from a JPEG: no tables, the pixels tell
    Image.fromarray(np.round(decoded * 255).astype(np.uint8)).save(path)
    assert jpeg_quality(path).quality == estimate.quality


@pytest.mark.parametrize("sigma255", [0, 10])
def test_clean_and_noisy_pictures_are_not_called_jpeg(sigma255: int) -> None:
    estimate = jpeg_quality_from_pixels(_noisy(_photo("rocket", 128), sigma255 / 255))
    assert not estimate.compressed and estimate.quality is None
