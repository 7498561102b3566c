"""Cost independent of the image size (issue #13): bounded reconstruction test, time budget, inference progress, estimate."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from zssr.config import Config, resolve_config
from zssr.cost import DeviceSpeed, estimate_run, measure_speed
from zssr.ensemble import forward_tiled, super_resolve, tile_count
from zssr.errors import ConfigError
from zssr.limits import plan_run
from zssr.network import ZSSRNet
from zssr.pipeline import upscale_tensor
from zssr.training import TEST_CROP, reconstruction_windows

TINY = {"max_iterations": 12, "min_iterations": 4, "test_every": 2, "lr_check_every": 2, "lr_slope_range": 8,
        "crop_size": 16, "width": 8, "depth": 3, "back_projection_iters": (1,)}


def _net(channels: int = 3) -> ZSSRNet:
    return ZSSRNet(channels, 8, 3, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("size", [(24, 24), (100, 1000), (1000, 100), (362, 362), (680, 1024), (3000, 4000), (7, 5000)])
@pytest.mark.parametrize("budget", [32 * 32, 5000, 2**17])
def test_the_test_crops_stay_within_the_budget_inside_the_image_and_spread_over_it(
    size: tuple[int, int], budget: int
) -> None:
    h, w = size
    windows = reconstruction_windows(size, budget)
    if h * w <= budget:
        assert windows is None  # the authors' whole-image test
        return
    assert windows
    assert sum(wh * ww for _, _, wh, ww in windows) <= budget
    assert len(set(windows)) == len(windows)
    for top, left, wh, ww in windows:
        assert 0 <= top and top + wh <= h and 0 <= left and left + ww <= w
        assert wh == min(TEST_CROP, int(budget**0.5), h) and ww == min(TEST_CROP, int(budget**0.5), w)
    if len(windows) > 2 and h >= 2 * TEST_CROP:  # not all in one corner: first row at the top, last near the bottom
        assert windows[0][0] == 0 and windows[-1][0] + windows[-1][2] > h // 2


def test_under_the_budget_the_run_is_bit_identical_to_the_whole_image_test() -> None:
    """Set5/Set14 ×2 inputs (≤ 103,680 px) stay under the default budget: their outputs cannot change."""
    x = torch.rand(1, 3, 24, 28, generator=torch.Generator().manual_seed(3))
    bounded = upscale_tensor(x, [(2.0, 2.0)], config=resolve_config("ideal", **TINY), seed=5, device="cpu")
    authors = upscale_tensor(x, [(2.0, 2.0)], config=resolve_config("ideal", test_pixels=None, **TINY), seed=5,
                             device="cpu")
    assert torch.equal(bounded.image, authors.image)
    assert bounded.steps[0].test_errors == authors.steps[0].test_errors
    assert Config().test_pixels == 2**17 > 103_680


def test_training_on_a_large_image_never_runs_the_net_over_more_than_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import zssr.training as training

    seen: list[int] = []
    real = training.forward_tiled

    def counting(net: torch.nn.Module, x: torch.Tensor, **kwargs: object) -> torch.Tensor:
        seen.append(int(x.shape[-2] * x.shape[-1]))
        return real(net, x, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "forward_tiled", counting)
    x = torch.rand(1, 3, 120, 150, generator=torch.Generator().manual_seed(0))
    result = upscale_tensor(x, [(2.0, 2.0)], config=resolve_config("fast", test_pixels=32 * 32 * 4, **TINY),
                            device="cpu")
    assert seen and sum(seen) <= 64 * 64 * len(result.steps[0].test_errors)  # one 64² crop per test
    assert result.steps[0].test_pixels == 64 * 64
    authors = upscale_tensor(x, [(2.0, 2.0)], config=resolve_config("fast", test_pixels=None, **TINY), device="cpu")
    assert authors.steps[0].test_pixels == 120 * 150


class _Clock:
    """A fake ``time`` for zssr.training: each training iteration takes 0.1 s."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_a_time_budget_stops_training_at_the_first_test_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import zssr.training as training
    from zssr.examples import FatherSource

    clock = _Clock()
    monkeypatch.setattr(training, "time", clock)
    config = resolve_config("fast", **{**TINY, "max_iterations": 10**6, "min_iterations": 10**6 - 1,
                                       "test_every": 4, "lr_slope_range": 16})
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    net = _net()
    history = training.train_scale_step(
        net, training.make_optimizer(net, config), x, [FatherSource(x, 1.0)], (2.0, 2.0), config=config, kernel=None,
        rng=np.random.default_rng(0), generator=torch.Generator().manual_seed(1), deadline=1.0,
        progress=lambda it, loss, lr: setattr(clock, "now", clock.now + 0.1),
    )
    # Past the deadline after iteration 9 (t = 1.0); the next test is at iteration 12: 13 iterations in all.
    assert history.stopped_by_time_budget and history.iterations == 13
    assert history.test_iterations[-1] == 12


def test_a_time_budget_stops_a_real_run_soon_after_it() -> None:
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    config = resolve_config("fast", **{**TINY, "max_iterations": 10**6, "min_iterations": 10**6 - 1,
                                       "test_every": 4, "lr_slope_range": 16, "time_budget": 0.5})
    start = time.perf_counter()
    result = upscale_tensor(x, [(2.0, 2.0)], config=config, device="cpu")
    history = result.steps[0]
    assert history.stopped_by_time_budget
    assert 1 <= history.iterations < 10**6 and history.iterations % 4 == 1  # it stopped right after a test
    assert history.seconds < 0.5 + 5.0  # one test interval is milliseconds here; seconds of slack for a busy CI
    assert time.perf_counter() - start < 30


def test_a_time_budget_is_shared_by_the_gradual_steps() -> None:
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    config = resolve_config("fast", **{**TINY, "max_iterations": 10**6, "min_iterations": 10**6 - 1,
                                       "test_every": 4, "lr_slope_range": 16, "time_budget": 0.6})
    result = upscale_tensor(x, [(1.5, 1.5), (2.0, 2.0)], config=config, device="cpu")
    assert all(h.stopped_by_time_budget for h in result.steps)
    assert sum(h.seconds for h in result.steps) < 0.6 + 5.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True])
def test_bad_time_budgets_and_test_budgets_are_config_errors(bad: object) -> None:
    with pytest.raises(ConfigError, match="time_budget"):
        Config(time_budget=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="test_pixels"):
        Config(test_pixels=bad if not isinstance(bad, float) else 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_pixels", [None, 300])
@pytest.mark.parametrize("sf", [(2.0, 2.0), (1.5, 2.0)])
def test_inference_reports_progress_from_zero_to_its_total(max_pixels: int | None, sf: tuple[float, float]) -> None:
    net = _net()
    x = torch.rand(1, 3, 40, 44, generator=torch.Generator().manual_seed(1))
    calls: list[tuple[int, int]] = []
    quiet = super_resolve(net, x, sf, back_projection_iters=1, max_pixels=max_pixels)
    shown = super_resolve(net, x, sf, back_projection_iters=1, max_pixels=max_pixels,
                          progress=lambda done, total: calls.append((done, total)))
    assert torch.equal(quiet, shown)
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1]
    assert len({total for _, total in calls}) == 1
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    if max_pixels is not None:  # tiles are counted: more parts than variants
        assert calls[-1][1] > 2 * (8 if sf[0] == sf[1] else 4) + 1


def test_forward_tiled_reports_each_call_as_tile_count_predicts() -> None:
    net = _net(1)
    x = torch.rand(2, 1, 40, 70, generator=torch.Generator().manual_seed(2))
    counted: list[int] = []
    y = forward_tiled(net, x, max_pixels=4900, on_call=counted.append)
    assert sum(counted) == 2 * tile_count(net, (40, 70), 4900)
    assert torch.allclose(y, net(x), atol=1e-6)


def test_the_estimate_adds_up_training_tests_and_inference() -> None:
    config = resolve_config("fast")
    speed = DeviceSpeed(step_seconds=0.1, pixel_seconds=1e-6, device="cpu")
    plan = plan_run((680, 1024), 3, [(2.0, 2.0)], config=config)
    est = estimate_run(plan, config, speed)
    assert est.training_seconds == pytest.approx(400 * 0.1)
    assert est.test_seconds == pytest.approx(20 * 2**17 * 1e-6)  # 20 tests on the bounded sample, not the image
    assert est.passes == 8 and est.inference_seconds == pytest.approx(8 * 1360 * 2048 * 1e-6)
    assert "400 iterations × 0.1 s" in est.describe(speed)


def test_measuring_the_speed_leaves_the_runs_random_numbers_alone() -> None:
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    speed = measure_speed(resolve_config("fast", crop_size=16, width=8, depth=3), 3, "cpu", repeats=1)
    assert torch.equal(torch.rand(3), before)
    assert speed.step_seconds > 0 and speed.pixel_seconds > 0


def _png(path: Path) -> Path:
    from zssr.io import write_image

    write_image(path, np.random.default_rng(0).random((24, 24, 3)), bit_depth=8)
    return path


def test_the_cli_prints_the_estimate_and_takes_a_time_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zssr.cli import main

    source = _png(tmp_path / "a.png")
    code = main(["upscale", str(source), "-s", "2", "-o", str(tmp_path / "b.png"), "--preset", "fast",
                 "--max-iterations", "3", "--time-budget", "30", "--set", "test_pixels=none"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "at most 3 iterations ×" in err and "inference ≈ 8 passes" in err
    code = main(["upscale", str(source), "-s", "2", "-o", str(tmp_path / "c.png"), "--time-budget", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "zssr: error: --time-budget must be a number of seconds in (0, 10,000,000], got 0"
