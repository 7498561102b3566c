"""The cross-scale (lag-statistics) kernel estimator: experiments/kernel_estimation/crossscale.py.

Run from the repository root: ``PYTHONPATH=src python -m pytest experiments/kernel_estimation``
(pytest puts this folder on the path, so ``import crossscale`` finds the module beside it).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # the shared test inputs

from blur_helpers import assert_deterministic_normalised_even_kernel  # noqa: E402
from blur_helpers import blurred_lr as _lr  # noqa: E402
from blur_helpers import kernel_widths as _widths  # noqa: E402
from blur_helpers import photo as _photo  # noqa: E402
from crossscale import SIGMA_RANGE, estimate_kernel_crossscale, lag_statistics

from zssr.errors import ConfigError, ScaleError, ShapeError, ZSSRError
from zssr.kernel_estimation import KernelEstimate
from zssr.kernels import downscale, gaussian_kernel


@pytest.fixture(scope="module")
def astronaut_hr() -> torch.Tensor:
    return _photo()[..., :320, 96:416]


def test_lag_ratios_rise_with_blur_and_ignore_contrast() -> None:
    g = _photo("camera")[0, 0].numpy()
    sharp = lag_statistics(g)
    blurred = lag_statistics(downscale(torch.as_tensor(g)[None, None], gaussian_kernel(13, 2.0, 2.0), 1)[0, 0].numpy())
    assert sharp.shape == (8,) and np.all(sharp > 1.0)
    assert np.all(blurred > sharp)
    np.testing.assert_allclose(lag_statistics(0.3 * g + 0.2), sharp, rtol=1e-9)


def test_estimate_grows_with_the_true_blur(astronaut_hr: torch.Tensor) -> None:
    """The property KernelGAN lacks here (benchmarks/results/kernelgan_ab.md): a wider blur, a wider kernel.

    Measured (dev CPU, this crop; deterministic): own σ, geometric mean of the two axes,
    0.49 / 1.11 / 1.78 px for true isotropic σ = 0.6 / 1.3 / 2.2 (√3/2 theory: 0.52 / 1.13 /
    1.91). KernelGAN on the whole photo: 1.43 / 1.26 / 1.34.
    """
    sizes = []
    for sigma in (0.6, 1.3, 2.2):
        est = estimate_kernel_crossscale(_lr(astronaut_hr, sigma, sigma))
        lo, hi = _widths(est.kernel)
        sizes.append(math.sqrt(lo * hi))
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] > 1.5 * sizes[0]


def test_estimate_finds_the_long_axis_of_an_anisotropic_blur(astronaut_hr: torch.Tensor) -> None:
    """True σ 0.8 px along rows, 2.2 px along columns: the estimate spreads more along columns."""
    k = estimate_kernel_crossscale(_lr(astronaut_hr, 0.8, 2.2)).kernel.numpy()
    k = k / k.sum()
    y, x = np.indices(k.shape)
    var_rows = (k * (y - (k * y).sum()) ** 2).sum()
    var_cols = (k * (x - (k * x).sum()) ** 2).sum()
    assert var_cols > 1.5 * var_rows


def test_result_is_a_deterministic_normalised_even_kernel(astronaut_hr: torch.Tensor) -> None:
    a = assert_deterministic_normalised_even_kernel(estimate_kernel_crossscale, _lr(astronaut_hr, 1.0, 1.5, 0.4))
    assert a.iterations > 0 and len(a.losses["mismatch"]) == 1


def test_width_correction_widens_by_two_over_root_three(astronaut_hr: torch.Tensor) -> None:
    lr = _lr(astronaut_hr, 1.2, 1.2)
    plain, wide = estimate_kernel_crossscale(lr), estimate_kernel_crossscale(lr, width_correction=True)
    for p, w in zip(_widths(plain.kernel), _widths(wide.kernel)):
        assert w / p == pytest.approx(2.0 / math.sqrt(3.0), rel=0.02)


def test_factor_four_composes_and_factor_one_is_identity(astronaut_hr: torch.Tensor) -> None:
    lr = _lr(astronaut_hr, 1.2, 1.2)
    x2, x4 = estimate_kernel_crossscale(lr), estimate_kernel_crossscale(lr, 4)
    assert _widths(x4.kernel)[0] > 1.8 * _widths(x2.kernel)[0]  # √5 for an exact ×2 cascade
    assert torch.equal(estimate_kernel_crossscale(lr, 1).kernel, torch.ones(1, 1, dtype=torch.float64))


def test_fitted_sigma_stays_in_the_searched_range() -> None:
    """A flat-but-noisy image pushes the fit to its sharp end; the kernel stays a valid grid kernel."""
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.random((1, 1, 120, 120)))
    lo, hi = _widths(estimate_kernel_crossscale(noise.float()).kernel)
    assert SIGMA_RANGE[0] * 0.5 <= lo <= hi <= SIGMA_RANGE[1] * 1.1


def test_flat_image_raises_a_clear_error() -> None:
    with pytest.raises(ZSSRError, match="flat"):
        estimate_kernel_crossscale(torch.full((1, 3, 100, 100), 0.5))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"image": torch.zeros(1, 3, 50, 50)}, ShapeError),
        ({"factor": 0.5}, ScaleError),
        ({"factor": float("nan")}, ScaleError),
        ({"width_correction": "yes"}, ConfigError),
    ],
)
def test_bad_arguments_raise_typed_errors(kwargs: dict, error: type) -> None:
    args = {"image": torch.rand(1, 3, 100, 100), "factor": 2, **kwargs}
    with pytest.raises(error):
        estimate_kernel_crossscale(args.pop("image"), args.pop("factor"), **args)


def test_harness_adapter_runs_the_estimator_and_passes_other_estimators_on(monkeypatch) -> None:
    """``estimated_kernel_method``: the former harness option ``estimator=crossscale``, for run_benchmark's registry."""
    import dataclasses

    import crossscale as xs

    import zssr.bench.methods as bench

    seen: dict = {}

    def fake(image, factor, **kwargs):
        seen.update(kwargs, factor=factor)
        return KernelEstimate(torch.ones(1, 1, dtype=torch.float64), factor, 1, 0.0, {})

    given: list = []
    monkeypatch.setattr(xs, "estimate_kernel_crossscale", fake)
    monkeypatch.setitem(bench.METHODS, "zssr+true-kernel",
                        lambda r: given.append(r) or bench.MethodOutput(sr=np.zeros((4, 4, 3), np.float32)))
    request = bench.MethodInput(
        lr=np.zeros((90, 90, 3), np.float32), scale=2.0, kernel=None, seed=0, device="cpu",
        options={"estimator": "crossscale", "width_correction": True, "max_iterations": 5}, image="x",
    )
    out = xs.estimated_kernel_method(request)
    assert seen == {"width_correction": True, "factor": 2.0} and out.info["kernel_fallback"] is False
    assert dict(given[0].options) == {"max_iterations": 5} and given[0].kernel.shape == (1, 1)
    with pytest.raises(ConfigError, match="iterations"):
        xs.estimated_kernel_method(dataclasses.replace(request, options={"estimator": "crossscale", "iterations": 500}))
    with pytest.raises(ConfigError, match="estimator"):
        xs.estimated_kernel_method(dataclasses.replace(request, options={"estimator": "magic"}))
