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
    estimate_speckle,
    noise_level_function,
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


def _speckled(img: np.ndarray, variance: float, seed: int = 0) -> np.ndarray:
    """MATLAB imnoise 'speckle' (J = I + √(12v)·I·(U − ½)), as the Table 3 benchmark draws it, saved as 8 bits."""
    u = np.random.default_rng(seed).random(img.shape)
    return np.round(np.clip(img + np.sqrt(12 * variance) * img * (u - 0.5), 0.0, 1.0) * 255) / 255


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_speckle_is_read_as_noise_proportional_to_intensity(name: str) -> None:
    """Truth: σ = √0.01 = 0.1 per unit intensity; read within 20 % (on Set5/Set14 ×2 LR it reads 0.08–0.105)."""
    additive, speckle = estimate_speckle(_speckled(_photo(name, 256), 0.01))
    found = [b for b in speckle if b > 0]
    assert found  # channels whose median is dark carry little speckle and may be read as additive
    assert all(abs(b - 0.1) <= 0.02 for b in found)
    assert all(a < 8 / 255 for a, b in zip(additive, speckle) if b > 0)  # coffee: 6/255 beside 22/255 at 1


def test_speckle_on_a_photo_whose_flattest_parts_are_dark_is_not_read_as_clean() -> None:
    """The global estimate reads the dark flat sky of 'rocket' (no speckle there) as clean; the NLF does not."""
    from zssr.degradation import read_degradation

    reading = read_degradation(_speckled(_photo("rocket", 256), 0.01))
    assert reading.speckled and reading.noisy and "speckle" in reading.describe()


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket"])
def test_clean_and_gaussian_photos_are_not_read_as_speckle(name: str) -> None:
    for img in (_photo(name, 256), _noisy(_photo(name, 256), 10 / 255)):
        assert estimate_speckle(img)[1] == (0.0,) * 3


def test_the_noise_level_function_of_additive_noise_is_mostly_constant() -> None:
    a, b = noise_level_function(_noisy(_photo("chelsea", 256), 10 / 255)[..., 1])
    assert abs(a * 255 - 10) < 1.5 and b * 0.5 < a / 2  # the proportional part stays under the speckle rule's bar


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
