"""The do-no-harm check of ``--kernel auto`` (issue #19): :mod:`zssr.kernel_estimation.harm`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data

from zssr.kernel_estimation import (
    OVERAMPLIFIED_GAIN,
    OVERSHARP_SIGMA,
    OutputReading,
    high_frequency_gain,
    kernel_harm,
    read_output,
)
from zssr.resize import imresize


def _camera_hr_and_lr() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-image's camera, top-left 256×256, and its MATLAB-bicubic ×2 downscale (1×1×H×W)."""
    hr = torch.from_numpy(data.camera()[:256, :256] / 255.0).float()[None, None]
    return hr, imresize(hr, 0.5)


def test_bicubic_interpolation_has_exactly_the_gain_of_itself() -> None:
    """The reference of the gain is bicubic interpolation of the same LR: it reads 1."""
    _, lr = _camera_hr_and_lr()
    assert high_frequency_gain(imresize(lr, 2), lr) == pytest.approx(1.0, abs=1e-12)


def test_a_photos_own_detail_is_under_the_limit_and_grain_amplified_past_it_is_not() -> None:
    """camera's true HR restores 6.5× the detail of bicubic interpolation (measured with this code);
    the same HR with N(0, 0.04²) grain (what a too-wide kernel's deblurring makes of an LR's
    grain, as on Set14 pepper) reads 38× and is refused for its gain, its edges still plausible."""
    hr, lr = _camera_hr_and_lr()
    clean = read_output(hr, lr)
    assert clean.gain is not None and 3.0 < clean.gain < OVERAMPLIFIED_GAIN / 2
    assert clean.trace is None and kernel_harm(hr, lr) is None
    grain = (hr + 0.04 * torch.randn(hr.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    noisy = read_output(grain, lr)
    assert noisy.gain is not None and noisy.gain > 1.5 * OVERAMPLIFIED_GAIN
    assert noisy.sharpness is not None and noisy.sharpness > OVERSHARP_SIGMA
    assert noisy.trace == "gain"
    reason = kernel_harm(grain, lr)
    assert reason is not None and "fine detail of bicubic interpolation" in reason and f"{OVERAMPLIFIED_GAIN:.0f}×" in reason


def test_an_output_with_ringing_edges_is_refused_for_its_edges_first() -> None:
    """Edges narrower than a sampled step (the first trace) are named even when the gain is high too."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:768, 0:768] / 4
    fine = np.full(yy.shape, 0.5)
    for _ in range(80):
        cy, cx, r = *rng.uniform(0, 192, 2), rng.uniform(4, 20)
        fine[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.1, 0.9)
    sampled = fine.reshape(192, 4, 192, 4).mean(axis=(1, 3))
    ringing = np.clip(sampled + 2.0 * (sampled - ndimage.gaussian_filter(sampled, 0.7)), 0, 1)
    out = torch.from_numpy(ringing).float()[None, None]
    lr = imresize(torch.from_numpy(sampled).float()[None, None], 0.5)
    reading = read_output(out, lr)
    assert reading.trace == "edges"
    reason = kernel_harm(out, lr)
    assert reason is not None and "narrower than a sampled step" in reason


def test_nothing_to_read_is_no_harm() -> None:
    """A flat output (no detail in the interpolation either, no edges) or one too small to shave is not refused."""
    flat = torch.full((1, 3, 64, 64), 0.5)
    assert high_frequency_gain(flat, torch.full((1, 3, 32, 32), 0.5)) is None
    assert high_frequency_gain(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 8, 8)) is None
    assert read_output(flat, torch.full((1, 3, 32, 32), 0.5)) == OutputReading(None, None)
    assert kernel_harm(flat, torch.full((1, 3, 32, 32), 0.5)) is None
