"""zssr.pipeline: the whole method end to end, on real photos with short budgets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from skimage import data

import zssr
from zssr.config import PRESETS, Config, resolve_config
from zssr.errors import ConfigError, ScaleError, ShapeError
from zssr.metrics import evaluate
from zssr.pipeline import MIN_INPUT_SIDE, parse_scale, plan_steps, upscale_tensor
from zssr.resize import imresize

TINY = dict(max_iterations=4, test_every=2, lr_slope_range=6)


def _lr_of(hr: np.ndarray, s: float = 2.0) -> np.ndarray:
    t = torch.from_numpy(hr).permute(2, 0, 1)[None].double()
    return imresize(t, 1 / s)[0].permute(1, 2, 0).clamp(0, 1).numpy().astype(np.float32)


@pytest.mark.slow
def test_zssr_beats_bicubic_by_half_a_db_on_a_real_photo():
    """Acceptance (engine issue): ×2 on a real photo with a short CPU budget gains ≥ 0.5 dB Y-PSNR.
    HR: a 192² crop of scikit-image's astronaut; LR by MATLAB bicubic."""
    hr = data.astronaut()[100:292, 150:342].astype(np.float32) / 255.0
    lr = _lr_of(hr)
    bicubic = imresize(torch.from_numpy(lr).permute(2, 0, 1)[None], 2.0).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    sr = zssr.upscale(lr, 2, preset="fast", max_iterations=120, seed=0)
    gain = evaluate(hr, sr, scale=2).psnr - evaluate(hr, bicubic, scale=2).psnr
    assert gain >= 0.5, f"ZSSR gained only {gain:.2f} dB over bicubic"


def test_same_seed_same_output_and_another_seed_differs():
    lr = data.chelsea()[:48, :64].astype(np.float32) / 255.0
    a = zssr.upscale(lr, 2, seed=3, **TINY)
    b = zssr.upscale(lr, 2, seed=3, **TINY)
    c = zssr.upscale(lr, 2, seed=4, **TINY)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_grayscale_input_works_and_stays_single_channel():
    """The authors' code crashes on Set14's grayscale image (#15); ours runs a 1-channel net."""
    gray = data.camera()[:40, :40].astype(np.float32) / 255.0
    out = zssr.upscale(gray, 2, **TINY)
    assert out.shape == (80, 80, 1)


def test_rgba_alpha_is_upscaled_bicubically():
    rgb = data.coffee()[:32, :40].astype(np.float32) / 255.0
    alpha = np.linspace(0, 1, 32 * 40, dtype=np.float32).reshape(32, 40)
    out = zssr.upscale(np.dstack([rgb, alpha]), 2, **TINY)
    ref = imresize(torch.from_numpy(alpha)[None, None], 2.0).clamp(0, 1)[0, 0].numpy()
    assert out.shape == (64, 80, 4)
    assert np.allclose(out[..., 3], ref, atol=1e-6)


def test_images_smaller_than_the_crop_work():
    lr = data.astronaut()[:20, :30].astype(np.float32) / 255.0
    assert zssr.upscale(lr, 2, **TINY).shape == (40, 60, 3)


def test_below_the_minimum_size_is_a_clear_error():
    with pytest.raises(ShapeError, match=f"at least {MIN_INPUT_SIDE}"):
        zssr.upscale(np.zeros((MIN_INPUT_SIDE - 1, 20, 3), np.float32), 2, **TINY)


def test_nan_input_is_refused():
    bad = np.full((20, 20, 3), 0.5, np.float32)
    bad[3, 3, 1] = np.nan
    with pytest.raises(ShapeError, match="NaN"):
        zssr.upscale(bad, 2, **TINY)


@pytest.mark.parametrize("bad", [0, -2, 0.5, float("nan"), "abc", "2x", "1.5x2x3"])
def test_bad_scales_are_scale_errors(bad):
    with pytest.raises(ScaleError):
        parse_scale(bad)


def test_scale_syntax():
    assert parse_scale(2) == [(2.0, 2.0)]
    assert parse_scale("1.5x2") == [(1.5, 2.0)]
    assert parse_scale("1.5,2") == [(1.5, 1.5), (2.0, 2.0)]
    assert parse_scale([1.5, 2]) == [(1.5, 2.0)]
    assert parse_scale([[1, 1.5], 2]) == [(1.0, 1.5), (2.0, 2.0)]


def test_gradual_preset_reproduces_the_authors_six_steps():
    steps = plan_steps((2.0, 2.0), PRESETS["gradual"])
    assert steps == [(1.0, 1.5), (1.5, 1.0), (1.5, 1.5), (1.5, 2.0), (2.0, 1.5), (2.0, 2.0)]
    assert PRESETS["gradual"].back_projection_for(6) == (6, 6, 8, 10, 10, 12)


def test_best_preset_climbs_six_even_isotropic_steps_with_gradual_s_back_projections():
    """`best` (issue #27) is `gradual` on the ladder 1 + (s - 1) k/6: ×4 → 1.5, 2, …, 4; only the pattern differs."""
    assert plan_steps((4.0, 4.0), PRESETS["best"]) == [(s, s) for s in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)]
    assert plan_steps((2.0, 2.0), PRESETS["best"])[0] == pytest.approx((7 / 6, 7 / 6))
    differ = {f.name for f in dataclasses.fields(Config)
              if getattr(PRESETS["best"], f.name) != getattr(PRESETS["gradual"], f.name)}
    assert differ == {"name", "gradual_pattern"}


def test_gradual_run_with_non_integer_and_anisotropic_steps():
    lr = data.coffee()[:24, :32].astype(np.float32) / 255.0
    t = torch.from_numpy(lr).permute(2, 0, 1)[None]
    res = upscale_tensor(t, [(1.0, 1.5), (1.5, 1.5), (2.0, 2.5)], config=resolve_config("ideal", **TINY), device="cpu")
    assert res.image.shape[-2:] == (48, 80)
    assert len(res.steps) == 3 and all(h.iterations == 4 for h in res.steps)


def test_unknown_override_and_preset_are_config_errors():
    with pytest.raises(ConfigError, match="unknown config field"):
        resolve_config("ideal", max_iters=3)
    with pytest.raises(ConfigError, match="preset"):
        resolve_config("sharpest")
    with pytest.raises(ConfigError, match="crop_size"):
        dataclasses.replace(PRESETS["ideal"], crop_size=0)


def test_cuda_run_matches_shape_and_is_deterministic(cuda_device):
    lr = data.chelsea()[:48, :64].astype(np.float32) / 255.0
    a = zssr.upscale(lr, 2, seed=1, device="cuda", **TINY)
    b = zssr.upscale(lr, 2, seed=1, device="cuda", **TINY)
    assert a.shape == (96, 128, 3)
    assert np.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("image", [[[[[0.5]]]], [0.5] * 9, [[[0.5, 0.5]] * 9] * 9])
def test_upscale_refuses_nested_lists_of_the_wrong_shape_with_a_shape_error(image: list) -> None:
    """Found by the fuzzer: the message read ``array.shape`` of the caller's list (an AttributeError)."""
    with pytest.raises(ShapeError, match="got shape"):
        zssr.upscale(image, 2, max_iterations=1)
