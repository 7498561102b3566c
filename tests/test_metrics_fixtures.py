"""zssr.metrics on Set5/Set14 crops against scikit-image's values (no shared data needed).

Each fixture is a 32×32 crop of a SelfExSR HR file and the same crop of a bicubic upscale of
its LR file, with Y, PSNR and SSIM as scikit-image computes them under the MATLAB protocol
(rgb2ycbcr Y rounded to 8 bits, s pixels shaved, peak 255, Wang et al.'s SSIM: 11×11
Gaussian σ 1.5, population covariance). Provenance: ``tests/fixtures/README.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from zssr.metrics import evaluate, psnr, rgb_to_y, shave, ssim

FIXTURES = Path(__file__).parent / "fixtures"
SCALES = [2, 3, 4]


def _fixture(s: int) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"metric_pair_x{s}.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("s", SCALES)
def test_evaluate_gives_skimages_y_psnr_and_ssim(s: int) -> None:
    """The paper's protocol end to end; ×3 scores a Y-only (gray) SR against an RGB truth."""
    f = _fixture(s)
    m = evaluate(f["hr"] / 255.0, f["sr"] / 255.0, scale=s)
    assert m.psnr == pytest.approx(float(f["psnr"]), abs=1e-10)
    assert m.ssim == pytest.approx(float(f["ssim"]), abs=1e-10)


@pytest.mark.parametrize("s", SCALES)
def test_evaluate_round_y_false_gives_skimages_values_on_double_y(s: int) -> None:
    f = _fixture(s)
    m = evaluate(f["hr"] / 255.0, f["sr"] / 255.0, scale=s, round_y=False)
    assert m.psnr == pytest.approx(float(f["psnr_unrounded"]), abs=1e-10)
    assert m.ssim == pytest.approx(float(f["ssim_unrounded"]), abs=1e-10)


@pytest.mark.parametrize("s", SCALES)
def test_rounded_y_equals_skimage_rgb2ycbcr_rounded_half_up(s: int) -> None:
    f = _fixture(s)
    np.testing.assert_array_equal(rgb_to_y(f["hr"] / 255.0, round_y=True), f["y_hr"])
    np.testing.assert_array_equal(rgb_to_y(f["sr"] / 255.0, round_y=True), f["y_sr"])


@pytest.mark.parametrize("s", SCALES)
def test_psnr_and_ssim_of_the_shaved_y_pair(s: int) -> None:
    f = _fixture(s)
    a, b = shave(f["y_hr"].astype(np.float64), s), shave(f["y_sr"].astype(np.float64), s)
    assert a.shape == (32 - 2 * s, 32 - 2 * s)
    assert psnr(a, b) == pytest.approx(float(f["psnr"]), abs=1e-10)
    assert ssim(a, b) == pytest.approx(float(f["ssim"]), abs=1e-10)


@pytest.mark.parametrize("s", SCALES)
def test_stored_expectations_are_what_skimage_computes_now(s: int) -> None:
    """Guards the stored numbers themselves: recomputed from the stored pixels by scikit-image
    alone (no zssr code), they agree with what make_fixtures.py wrote."""
    f = _fixture(s)
    hr, sr = f["hr"].astype(np.float64), f["sr"].astype(np.float64)
    y = [rgb2ycbcr(x / 255.0)[..., 0] if x.ndim == 3 else x for x in (hr, sr)]
    y_hr, y_sr = (np.floor(v + 0.5) for v in y)
    np.testing.assert_array_equal(y_hr, f["y_hr"])
    np.testing.assert_array_equal(y_sr, f["y_sr"])
    a, b = y_hr[s:-s, s:-s], y_sr[s:-s, s:-s]
    assert peak_signal_noise_ratio(a, b, data_range=255) == pytest.approx(float(f["psnr"]), abs=1e-12)
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert expected == pytest.approx(float(f["ssim"]), abs=1e-12)
