"""Tests of :mod:`zssr.volume`: one net per stack, in-plane and through-plane, any dtype in and out.

Budgets are tiny (3 iterations, 16-pixel crops, no ensemble): these tests prove shapes,
dtypes, voxel sizes, the intensity map and the errors, not quality (benchmarks/volume_bench.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zssr
from zssr.config import PRESETS
from zssr.errors import ConfigError, ScaleError, ShapeError
from zssr.examples import FatherSampler, FatherSource
from zssr.io.volume import Volume
from zssr.volume import IntensityMap, intensity_map, slice_profile, through_plane_factor, upscale_volume

FAST = {"max_iterations": 3, "crop_size": 16, "output_flip": False, "back_projection_iters": (1,), "device": "cpu"}


def _smooth_volume(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A smooth random volume in [0, 1] over its last three axes (a sum of low-frequency cosines)."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(n) / max(shape[-3:]) for n in shape[-3:]], indexing="ij")
    field = sum(np.cos(2 * np.pi * sum(rng.uniform(0.5, 3) * g for g in grids) + rng.uniform(0, 6)) for _ in range(3))
    field = (field - field.min()) / (field.max() - field.min())
    return np.broadcast_to(field, shape).copy()


def test_intensity_map_round_trips_signed_integers_exactly():
    data = np.array([[-32768, -5, 0, 7, 32767]], np.int16)
    mapping = intensity_map(data)
    assert (mapping.low, mapping.high) == (-32768, 32767)
    unit = mapping.to_unit(data)
    assert unit.min() == 0.0 and unit.max() == 1.0
    assert np.array_equal(mapping.from_unit(unit), data)


def test_intensity_map_keeps_float_range_and_clips_to_it():
    mapping = IntensityMap(-2.5, 7.0, np.dtype(np.float32))
    out = mapping.from_unit(np.array([-0.1, 0.0, 0.5, 1.2], np.float32))
    assert out.dtype == np.float32 and out.tolist() == pytest.approx([-2.5, -2.5, 2.25, 7.0])


def test_intensity_map_refuses_nan():
    with pytest.raises(ShapeError, match="NaN"):
        intensity_map(np.array([[0.0, np.nan]], np.float32))


def test_slice_profile_fwhm_is_the_slice_thickness():
    profile = slice_profile(4.0)[:, 0].numpy()
    assert profile.sum() == pytest.approx(1.0)
    half = profile.max() / 2
    above = np.flatnonzero(profile >= half)
    # linear interpolation of the half-maximum crossings, in pixels
    left = above[0] - (profile[above[0]] - half) / (profile[above[0]] - profile[above[0] - 1])
    right = above[-1] + (profile[above[-1]] - half) / (profile[above[-1]] - profile[above[-1] + 1])
    assert right - left == pytest.approx(4.0, abs=0.15)


def test_through_plane_factor_is_the_voxel_size_ratio():
    assert through_plane_factor({"Z": 4.0, "Y": 1.0, "X": 0.8}, "Z") == pytest.approx(5.0)


def test_through_plane_factor_without_voxel_sizes_is_a_scale_error_naming_scale():
    with pytest.raises(ScaleError, match="scale is needed.*no voxel size for Z"):
        through_plane_factor({"Y": 1.0, "X": 1.0}, "Z")


def test_grouped_sources_give_fathers_from_every_slice():
    slices = [torch.full((1, 1, 16, 16), float(i) / 4) for i in range(5)]
    sources = [FatherSource(s, 1.0, group=0) for s in slices]
    sampler = FatherSampler(PRESETS["ideal"], (8, 8), np.random.default_rng(0))
    drawn = {sampler.draw(sources).source for _ in range(200)}
    assert drawn == set(range(5))


def test_ungrouped_sources_draw_as_before():
    image = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    a = FatherSampler(PRESETS["ideal"], (8, 8), np.random.default_rng(3))
    b = FatherSampler(PRESETS["ideal"], (8, 8), np.random.default_rng(3))
    plain = [a.sample([FatherSource(image, 1.0)]) for _ in range(20)]
    again = [b.sample([FatherSource(image, 1.0, group=None)]) for _ in range(20)]
    assert all(torch.equal(x, y) for x, y in zip(plain, again))


def test_in_plane_stack_keeps_dtype_and_axes_and_enlarges_every_slice():
    data = (_smooth_volume((3, 16, 20)) * 4000 + 100).astype(np.uint16)
    run = upscale_volume(data, 2, axes="ZYX", spacing={"Z": 2.0, "Y": 0.5, "X": 0.5}, **FAST)
    out = run.volume
    assert out.axes == "ZYX" and out.data.dtype == np.uint16 and out.shape == (3, 32, 40)
    assert dict(out.spacing) == pytest.approx({"Z": 2.0, "Y": 0.25, "X": 0.25})
    assert run.planes == 3 and run.history.iterations == 3  # one training for all slices
    assert data.min() <= out.data.min() and out.data.max() <= data.max()


def test_channels_and_time_points_share_one_net():
    data = _smooth_volume((2, 2, 2, 16, 16)).astype(np.float32) * 5 - 1
    run = upscale_volume(data, 2, axes="TZCYX", **FAST)
    assert run.volume.shape == (2, 2, 2, 32, 32) and run.volume.data.dtype == np.float32
    assert run.planes == 8 and run.history.iterations == 3


def test_through_plane_enlarges_only_z_and_divides_its_voxel_size():
    data = (_smooth_volume((4, 16, 16)) * 600 - 300).astype(np.int16)
    run = upscale_volume(data, None, axes="ZYX", axis="z", spacing={"Z": 3.0, "Y": 1.0, "X": 1.0}, **FAST)
    assert run.factors == {"Z": 3.0}
    assert run.volume.shape == (12, 16, 16) and run.volume.data.dtype == np.int16
    assert dict(run.volume.spacing) == pytest.approx({"Z": 1.0, "Y": 1.0, "X": 1.0})
    assert run.planes == 32  # the net on every Z×X and Z×Y plane


def test_through_plane_output_lies_on_the_centred_block_grid():
    """Slice ``j`` of a ×4 volume stands for voxels ``4j … 4j+3`` (centre ``4j + 1.5``), as ``imresize``'s grid."""
    truth = _smooth_volume((16, 16, 16), seed=1)
    thick = (0.5 * (truth[1::4] + truth[2::4])).astype(np.float32)  # slices centred at 4j + 1.5
    out = upscale_volume(thick, 4, axes="ZYX", axis="z", **FAST).volume.data
    assert out.shape == (16, 16, 16)

    def error(shift: int) -> float:
        return float(np.abs(out[2:-2] - np.roll(truth, shift, axis=0)[2:-2]).mean())

    assert error(0) < min(error(-1), error(1))


def test_api_upscale_with_axes_returns_the_volume_not_a_picture():
    data = (_smooth_volume((3, 16, 16)) * 255).astype(np.uint8)
    out = zssr.upscale(data, 2, axes="ZYX", seed=0, **FAST)
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8


def test_constant_volume_stays_constant():
    run = upscale_volume(np.full((2, 16, 16), 7, np.int16), 2, axes="ZYX", **FAST)
    assert np.all(run.volume.data == 7)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"axes": None}, ConfigError, "axes is required"),
    ({"axes": "ZYXQQ"}, ConfigError, "more than once"),
    ({"axes": "YXC"}, ShapeError, "axes 'YXC' names 3 axes but the array has 4"),
    ({"axes": "ZYXB"}, ConfigError, "unknown letter"),
    ({"axes": "ZYX C".replace(" ", ""), "axis": "w"}, ConfigError, "axis must be"),
    ({"axes": "ZCYX", "axis": "z", "scale": None}, ScaleError, "no voxel size"),
    ({"axes": "ZCYX", "axis": "z", "scale": "2x3"}, ScaleError, "one factor"),
    ({"axes": "ZCYX", "scale": None}, ScaleError, "scale is required"),
])
def test_bad_arguments_are_typed_errors_naming_the_parameter(kwargs, error, words):
    args = {"scale": 2, **kwargs}
    with pytest.raises(error, match=words):
        upscale_volume(np.zeros((2, 2, 16, 16), np.uint8), **args, **FAST)


def test_planes_below_the_minimum_side_are_refused():
    with pytest.raises(ShapeError, match="at least"):
        upscale_volume(np.zeros((3, 4, 16), np.uint8), 2, axes="ZYX", **FAST)


def test_volume_dataclass_checks_its_axes():
    with pytest.raises(ShapeError, match="axes"):
        Volume(np.zeros((2, 8, 8)), "YX")


def test_real_on_a_volume_infers_with_the_plan_it_trained_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """``degradation="auto"`` plans once from the planes; inference follows that plan, as the picture pipeline's
    does: a clean stack gets ``ideal``'s ensemble and back-projection (it ran ``real``'s unplanned values
    before), a noisy one keeps the ensemble in-plane (bicubic sons) and drops it through-plane (slice kernel)."""
    import zssr.volume as volume_module

    seen: list[tuple[bool, int]] = []
    real_enlarge = volume_module.super_resolve_bounded

    def record(*args, **kwargs):
        seen.append((kwargs["ensemble"], kwargs["back_projection_iters"]))
        return real_enlarge(*args, **kwargs)

    monkeypatch.setattr(volume_module, "super_resolve_bounded", record)
    budget = {"max_iterations": 2, "crop_size": 16, "device": "cpu"}
    clean = (_smooth_volume((2, 48, 48)) * 255).round().astype(np.uint8)
    upscale_volume(clean, 2, axes="ZYX", preset="real", **budget)
    assert set(seen) == {(PRESETS["ideal"].output_flip, PRESETS["ideal"].back_projection_for(1)[0])}
    noise = np.random.default_rng(0).normal(0.0, 12.0, clean.shape)
    noisy = np.clip(clean + noise, 0, 255).round().astype(np.uint8)
    seen.clear()
    upscale_volume(noisy, 2, axes="ZYX", preset="real", **budget)
    assert set(seen) == {(True, 0)}
    seen.clear()
    upscale_volume(noisy, 2, axes="ZYX", axis="z", preset="real", **budget)
    assert set(seen) == {(False, 0)}
