"""The paper's slope-based learning-rate policy (§3; exact rule in docs/authors_code.md §2.5).

The reconstruction error (net applied to a downscaled copy of the input, compared
with the input) is measured every ``test_every`` iterations. Every
``check_every`` iterations, if at least ``min_iterations`` have passed since the
last change, a line is fitted to the last ``slope_range // test_every`` error
points; if the fall is not significant (``-ratio * slope < std(slope)``) the
learning rate drops ten-fold. Training stops once it would go below
``min_learning_rate`` (1e-3 → 1e-4 → 1e-5 → stop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LearningRatePolicy", "slope_and_std"]


def slope_and_std(x: np.ndarray, y: np.ndarray, *, legacy_covariance: bool = True) -> tuple[float, float]:
    """Least-squares slope and its standard error, as ``numpy.polyfit(deg=1, cov=True)``.

    The authors ran numpy < 1.16, whose covariance divides the residual sum of
    squares by ``N - 4``; numpy >= 1.16 divides by ``N - 2`` (σ √3 smaller at
    N = 5, so the rate drops less eagerly). ``legacy_covariance`` picks the
    former, falling back to ``N - 2`` when ``N <= 4`` (where it is undefined).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.size
    xc = x - x.mean()
    sxx = float(np.dot(xc, xc))
    slope = float(np.dot(xc, y - y.mean()) / sxx)
    intercept = float(y.mean() - slope * x.mean())
    ssr = float(np.sum((y - (slope * x + intercept)) ** 2))
    dof = n - 4 if (legacy_covariance and n > 4) else n - 2
    return slope, float(np.sqrt(ssr / dof / sxx))


@dataclass
class LearningRatePolicy:
    """Mutable state of the policy for one training run (one scale step).

    Call :meth:`record` with each reconstruction error and :meth:`step` once per
    iteration, after the optimizer step and any test (authors' order, docs/authors_code.md §2).
    """

    learning_rate: float = 1e-3
    check_every: int = 60
    min_iterations: int = 256
    slope_range: int = 256
    test_every: int = 50
    ratio: float = 1.5
    min_learning_rate: float = 9e-6
    legacy_covariance: bool = True
    last_change: int = 0
    test_iterations: list[int] = field(default_factory=list)
    test_errors: list[float] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        """Points in the fit: ``256 // 50 = 5`` with the authors' Python-2 division."""
        return self.slope_range // self.test_every

    @property
    def finished(self) -> bool:
        """Whether the learning rate fell below its floor: training of this step stops."""
        return self.learning_rate < self.min_learning_rate

    def record(self, iteration: int, error: float) -> None:
        """Store one reconstruction-test result (iteration, error)."""
        self.test_iterations.append(iteration)
        self.test_errors.append(float(error))

    def step(self, iteration: int) -> float:
        """Apply the rule at ``iteration``; returns the (possibly lowered) learning rate."""
        if (iteration + 1) % self.check_every != 0 or iteration - self.last_change <= self.min_iterations:
            return self.learning_rate
        n = self.n_points
        if len(self.test_errors) < max(n, 3):
            return self.learning_rate
        slope, std = slope_and_std(
            np.array(self.test_iterations[-n:]), np.array(self.test_errors[-n:]),
            legacy_covariance=self.legacy_covariance,
        )
        if -self.ratio * slope < std:
            self.learning_rate /= 10.0
            self.last_change = iteration
            self.changes.append(iteration)
        return self.learning_rate
