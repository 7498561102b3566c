"""Inference in row bands (zssr.bands, issue #13 item 3): the same output as the whole-image ensemble, in bounded memory."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import zssr.bands as bands
from zssr.bands import MIN_BAND_ROWS, band_plan, super_resolve_bounded, super_resolve_in_bands
from zssr.config import MIN_INFERENCE_PIXELS, Config, resolve_config
from zssr.ensemble import super_resolve
from zssr.errors import ConfigError
from zssr.limits import plan_run
from zssr.network import ZSSRNet
from zssr.pipeline import upscale_tensor

TINY = {"max_iterations": 6, "min_iterations": 2, "test_every": 2, "lr_check_every": 2, "lr_slope_range": 8,
        "crop_size": 16, "width": 8, "depth": 3}


def _net(depth: int = 4) -> ZSSRNet:
    return ZSSRNet(3, 8, depth, generator=torch.Generator().manual_seed(0))


def _small_bands(lr: torch.Tensor, sf: tuple[float, float], bp: int, kernel_side: int | None) -> bands.BandPlan:
    plan = band_plan(tuple(lr.shape[-2:]), sf, depth=4, back_projection_iters=bp, kernel_side=kernel_side, pixels=1)
    assert plan is not None
    rows = 7  # far below MIN_BAND_ROWS: many bands, every halo crossing several of them
    return dataclasses.replace(plan, rows=rows, bands=-(-lr.shape[-2] // rows))


CASES = {
    "x2, 8-way, back-projection": ((2.0, 2.0), 2, None, True),
    "x3 by x2.5, 4-way": ((3.0, 2.5), 1, None, True),
    "x2, a 9x9 kernel": ((2.0, 2.0), 2, 9, True),
    "x4, no ensemble, no back-projection": ((4.0, 4.0), 0, None, False),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bands_give_the_whole_image_output(case: str) -> None:
    sf, bp, side, ensemble = CASES[case]
    gen = torch.Generator().manual_seed(1)
    lr = torch.rand(1, 3, 45, 37, generator=gen)
    kernel = None if side is None else torch.rand(side, side, generator=gen) / (side * side)
    net = _net()
    whole = super_resolve(net, lr, sf, ensemble=ensemble, back_projection_iters=bp, kernel=kernel)
    plan = _small_bands(lr, sf, bp, side)
    banded = super_resolve_in_bands(net, lr, sf, plan, ensemble=ensemble, back_projection_iters=bp, kernel=kernel)
    assert banded.shape == whole.shape
    # Float rounding only (oneDNN's blocking can differ with the band's shape): 8-bit outputs are equal.
    assert torch.allclose(banded, whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("halo", ["net_halo", "back_projection_halo"])
def test_each_halo_is_needed(halo: str) -> None:
    """The reach computed for each stage is real: a third of it changes the output (this test can fail)."""
    lr = torch.rand(1, 3, 45, 37, generator=torch.Generator().manual_seed(1))
    net = _net()
    whole = super_resolve(net, lr, (2.0, 2.0), back_projection_iters=2)
    plan = _small_bands(lr, (2.0, 2.0), 2, None)
    short = dataclasses.replace(plan, **{halo: getattr(plan, halo) // 3})
    banded = super_resolve_in_bands(net, lr, (2.0, 2.0), short, back_projection_iters=2)
    assert (banded - whole).abs().max() > 1e-5  # the tolerance of the equality test above


def test_the_ensemble_never_holds_more_than_one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes: list[tuple[int, ...]] = []
    real = bands.pixelwise_median

    def spy(stack: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(stack.shape))
        return real(stack)

    monkeypatch.setattr(bands, "pixelwise_median", spy)
    lr = torch.rand(1, 3, 200, 40, generator=torch.Generator().manual_seed(2))
    out = super_resolve_bounded(_net(), lr, (2.0, 2.0), back_projection_iters=1, output_pixels=80 * 80 * 4)
    plan = band_plan((200, 40), (2.0, 2.0), depth=4, back_projection_iters=1, kernel_side=None, pixels=80 * 80 * 4)
    assert plan is not None and plan.bands > 1
    assert len(shapes) == plan.bands
    assert all(s[2] <= 2 * (plan.rows + 2 * plan.back_projection_halo) < out.shape[-2] for s in shapes)


def test_bands_need_an_integer_vertical_factor_and_fall_back_to_the_whole_image() -> None:
    assert band_plan((100, 100), (1.5, 2.0), depth=8, back_projection_iters=4, kernel_side=None, pixels=5000) is None
    assert band_plan((100, 100), (2.0, 1.5), depth=8, back_projection_iters=4, kernel_side=None, pixels=5000) is not None
    lr = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(3))
    net = _net()
    whole = super_resolve(net, lr, (1.5, 1.5), back_projection_iters=1)
    assert torch.equal(super_resolve_bounded(net, lr, (1.5, 1.5), back_projection_iters=1, output_pixels=100), whole)


def test_a_band_is_at_least_min_band_rows_and_halos_grow_with_iterations_and_kernels() -> None:
    plain = band_plan((3000, 4000), (2.0, 2.0), depth=8, back_projection_iters=4, kernel_side=None, pixels=2**22)
    more = band_plan((3000, 4000), (2.0, 2.0), depth=8, back_projection_iters=10, kernel_side=None, pixels=2**22)
    wide = band_plan((3000, 4000), (2.0, 2.0), depth=8, back_projection_iters=4, kernel_side=33, pixels=2**22)
    assert plain is not None and more is not None and wide is not None
    assert plain.back_projection_halo < more.back_projection_halo and plain.back_projection_halo < wide.back_projection_halo
    assert more.rows == MIN_BAND_ROWS  # the halos alone exceed the budget: the band keeps a floor
    assert plain.window_rows * 2 * 8000 <= 2**22 < (plain.window_rows + 1) * 2 * 8000


def test_upscale_in_bands_equals_the_whole_image_run() -> None:
    x = torch.rand(1, 3, 40, 24, generator=torch.Generator().manual_seed(4))
    config = resolve_config("fast", back_projection_iters=(1,), **TINY)
    whole = upscale_tensor(x, [(2.0, 2.0)], config=dataclasses.replace(config, inference_pixels=None), seed=1, device="cpu")
    banded = upscale_tensor(x, [(2.0, 2.0)], config=dataclasses.replace(config, inference_pixels=MIN_INFERENCE_PIXELS),
                            seed=1, device="cpu")
    assert torch.allclose(banded.image, whole.image, atol=1e-5, rtol=0)


def test_inference_pixels_is_validated() -> None:
    for bad in (0, MIN_INFERENCE_PIXELS - 1, 2.5, True, "big"):
        with pytest.raises(ConfigError, match="inference_pixels"):
            Config(inference_pixels=bad)  # type: ignore[arg-type]
    assert Config(inference_pixels=None).inference_pixels is None


def test_a_12_megapixel_photo_at_x2_plans_under_4_gb() -> None:
    """Issue #13's goal: 4000×3000 at ×2 with ``fast`` in at most 4 GB (the whole-image plan needs ~13 GB)."""
    fast = resolve_config("fast")
    banded = plan_run((3000, 4000), 3, [(2.0, 2.0)], config=fast)
    whole = plan_run((3000, 4000), 3, [(2.0, 2.0)], config=dataclasses.replace(fast, inference_pixels=None))
    assert banded.peak_bytes < 4 * 2**30 < 8 * 2**30 < whole.peak_bytes
    small = plan_run((680, 1024), 3, [(2.0, 2.0)], config=fast)  # one window: planned as before
    assert small.peak_bytes == plan_run((680, 1024), 3, [(2.0, 2.0)], config=dataclasses.replace(fast, inference_pixels=None)).peak_bytes
