"""``Config.nets``: independently seeded runs of the whole method, their outputs averaged (issue #27)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from skimage import data

from zssr.config import PRESETS, resolve_config
from zssr.cost import DeviceSpeed, estimate_run
from zssr.errors import ConfigError
from zssr.limits import plan_run
from zssr.pipeline import run_seed, upscale_tensor

TINY = dict(max_iterations=4, test_every=2, lr_slope_range=6, crop_size=32)


def _lr() -> torch.Tensor:
    return torch.from_numpy(data.chelsea()[:40, :48].astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def test_nets_averages_the_outputs_of_runs_seeded_seed_and_run_seed_k() -> None:
    """Two nets are exactly the mean of the two single runs; the first run is the one-net run itself."""
    one = resolve_config("ideal", **TINY)
    two = dataclasses.replace(one, nets=2)
    steps = [(2.0, 2.0)]
    a = upscale_tensor(_lr(), steps, config=one, seed=5, device="cpu")
    b = upscale_tensor(_lr(), steps, config=one, seed=run_seed(5, 1), device="cpu")
    both = upscale_tensor(_lr(), steps, config=two, seed=5, device="cpu")
    torch.testing.assert_close(both.image, (a.image + b.image) / 2, rtol=0, atol=1e-7)
    assert not torch.equal(a.image, b.image)  # the second run is another draw, not a copy
    assert len(both.steps) == 2 and [h.iterations for h in both.steps] == [a.steps[0].iterations, b.steps[0].iterations]


def test_run_seeds_keep_the_first_and_draw_distinct_valid_others() -> None:
    assert run_seed(7, 0) == 7
    seeds = {run_seed(s, k) for s in (0, 1, 2**63 - 1) for k in range(1, 6)}
    assert len(seeds) == 15 and all(0 <= s < 2**63 for s in seeds)
    assert run_seed(0, 1) == run_seed(0, 1)  # deterministic


@pytest.mark.parametrize("value", [0, -1, 17, True, 1.5])
def test_nets_outside_1_to_16_or_not_an_integer_is_a_config_error_naming_it(value: object) -> None:
    with pytest.raises(ConfigError, match="nets"):
        resolve_config("ideal", nets=value)


def test_the_plan_and_cost_count_every_run() -> None:
    """The cost printed before a run and the memory plan include every net (and the running sum)."""
    one = PRESETS["gradual"]
    three = dataclasses.replace(one, nets=3)
    steps = [(1.5, 1.5), (2.0, 2.0)]
    p1, p3 = plan_run((100, 120), 3, steps, config=one), plan_run((100, 120), 3, steps, config=three)
    assert p3.iterations == 3 * p1.iterations
    assert p3.peak_bytes == p1.peak_bytes + 3 * 200 * 240 * 4
    speed = DeviceSpeed(step_seconds=0.1, pixel_seconds=1e-6, device="cpu")
    e1, e3 = estimate_run(p1, one, speed), estimate_run(p3, three, speed)
    assert e3.total_seconds == pytest.approx(3 * e1.total_seconds)
