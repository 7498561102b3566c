"""zssr.schedule: the authors' slope-test learning-rate policy (docs/authors_code.md §2.5)."""

from __future__ import annotations

import numpy as np
import pytest

from zssr.schedule import LearningRatePolicy, slope_and_std


def _run(errors_at, iterations=3000, **kwargs):
    """Drive the policy like training does: record every 50 its, step every it."""
    policy = LearningRatePolicy(**kwargs)
    for it in range(iterations):
        if it % policy.test_every == 0:
            policy.record(it, errors_at(it))
        policy.step(it)
        if policy.finished:
            return policy, it + 1
    return policy, iterations


def test_rising_error_drops_lr_at_the_earliest_checks_and_stops_at_900_iterations():
    """Checks run when (it+1) % 60 == 0 and it - last_change > 256: 299, then 599, then 899.
    The third drop reaches 1e-6 < 9e-6, so training stops after 900 iterations (docs/authors_code.md §2.5)."""
    policy, n = _run(lambda it: 1.0 + 1e-4 * it)
    assert policy.changes == [299, 599, 899]
    assert n == 900
    assert policy.learning_rate == pytest.approx(1e-6)


def test_steadily_falling_error_never_drops_lr_and_runs_to_the_cap():
    policy, n = _run(lambda it: 1.0 - 1e-4 * it)
    assert policy.changes == []
    assert n == 3000
    assert policy.learning_rate == 1e-3


def test_error_that_falls_then_plateaus_drops_after_the_plateau_fills_the_fit_window():
    """The fit uses the last 256 // 50 = 5 points (250 iterations). A fall that ends at it = 1000
    is still inside the window at the checks up to 1199; the first check whose five points are
    all on the plateau (1050..1250) is it = 1259."""
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1e-6, 3000)
    policy, _ = _run(lambda it: (1.0 - 5e-4 * min(it, 1000)) + noise[it], iterations=1300)
    assert policy.changes == [1259]


def test_perfectly_flat_error_is_not_a_reason_to_drop():
    """-1.5 * 0 < 0 is false: the authors' rule needs a measurable non-negative trend."""
    policy, n = _run(lambda it: 0.5)
    assert policy.changes == [] and n == 3000


def test_slope_std_uses_numpy_pre_1_16_scaling():
    """numpy >= 1.16 polyfit(cov=True) scales by N - 2; the authors' numpy scaled by N - 4."""
    x = np.array([0.0, 50, 100, 150, 200])
    y = np.array([1.0, 0.9, 0.85, 0.86, 0.8])
    coeffs, cov = np.polyfit(x, y, 1, cov=True)
    slope, std = slope_and_std(x, y)
    assert slope == pytest.approx(coeffs[0])
    assert std == pytest.approx(np.sqrt(cov[0, 0]) * np.sqrt((5 - 2) / (5 - 4)))
    _, modern = slope_and_std(x, y, legacy_covariance=False)
    assert modern == pytest.approx(np.sqrt(cov[0, 0]))


def test_fit_window_follows_python2_integer_division():
    assert LearningRatePolicy().n_points == 5
    assert LearningRatePolicy(test_every=20).n_points == 12  # X2_IDEAL_WITH_PLOT_CONF
