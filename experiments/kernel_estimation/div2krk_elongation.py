"""Why the edge estimate errs wide on DIV2KRK, and whether a looser elongation cap fixes it (issue #28, item 2).

``benchmarks/results/div2krk_kernels.md`` shows the edge estimate more than 1.15× too wide
along the true minor axis on 10 % of the DIV2KRK ×2 dev images. On the tuning ids (1–35) the
minor ratio correlates with the true kernel's elongation (+0.56 at ×2): the estimate keeps the
median blur as its size and caps its elongation at ``MAX_ELONGATION`` = 1.5, while DIV2KRK's
kernels reach 2.5, so the minor axis of an elongated truth is read as the geometric mean over
1.5, too wide. Swept here, widths only (no ZSSR), on ids 1–35 only (36–50 stay unseen):

* ``cap E``: the same estimator with ``max_elongation`` = E;
* ``quantile q``: the size is the q-quantile of the edge variances instead of their median
  (shape as ``base``), the calibration unchanged;
* ``sharp E``: the minor variance is the fit's own minor eigenvalue (the sharpest direction
  measured), the major the median size times the capped elongation — narrower along the
  minor axis, never wider than ``base``.

Each on the full LR images and their 192²/256² centre crops, ×2 and ×4. Reported: median
minor and major ratios and the shares past 1.15 (too wide) and under 0.87 (too narrow).

Usage: ZSSR_DATA=../shared/data PYTHONPATH=src python experiments/kernel_estimation/div2krk_elongation.py
Writes results/div2krk_elongation.md (about a minute on one core).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

from kernel_checks import covariance  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.errors import StructureError  # noqa: E402
from zssr.io import read_image, to_tensor  # noqa: E402
from zssr.kernel_estimation import MARGIN, luma  # noqa: E402
from zssr.kernel_estimation.edges import (  # noqa: E402
    CALIBRATION,
    DERIVATIVE_SIGMA,
    FLOOR_VARIANCE,
    MAX_ELONGATION,
    REBLUR_SIGMA,
    TOP_FRACTION,
    _edge_points,
    shape_fit,
)
from zssr.kernels import load_kernel  # noqa: E402

TUNE_IDS = range(1, 36)
CROPS = (None, 192, 256)


def fit(variance: np.ndarray, angle: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The estimator's own size and shape fit (:func:`zssr.kernel_estimation.edges.shape_fit`); None without shape."""
    size, fitted = shape_fit(variance, angle)
    return None if fitted is None else (size, *fitted)


def capped(cap: float) -> Callable[[float, np.ndarray, np.ndarray], np.ndarray]:
    """The committed rule with elongation cap ``cap``: size kept, elongation sqrt(λ1/λ0) capped."""
    def rule(size: float, lam: np.ndarray, vec: np.ndarray) -> np.ndarray:
        e = min(math.sqrt(lam[1] / lam[0]), cap)
        return vec @ np.diag([size / e, size * e]) @ vec.T
    return rule


def sharp(cap: float) -> Callable[[float, np.ndarray, np.ndarray], np.ndarray]:
    """Minor variance: the fit's minor eigenvalue, never above the capped rule's; major as the capped rule."""
    def rule(size: float, lam: np.ndarray, vec: np.ndarray) -> np.ndarray:
        e = min(math.sqrt(lam[1] / lam[0]), cap)
        return vec @ np.diag([min(float(lam[0]), size / e), size * e]) @ vec.T
    return rule


RULES: dict[str, Callable[[float, np.ndarray, np.ndarray], np.ndarray]] = {
    f"base (cap {MAX_ELONGATION:g})": capped(MAX_ELONGATION),
    "cap 2": capped(2.0), "cap 2.5": capped(2.5), "cap 3": capped(3.0),
    "sharp 1.5": sharp(1.5), "sharp 2.5": sharp(2.5),
}
#: size = this quantile of the edge variances instead of their median (shape as ``base``)
QUANTILES = (0.4, 0.3, 0.2)


def crop(gray: np.ndarray, side: int | None) -> np.ndarray | None:
    """The ``side``² centre of the grey image (None where the image is smaller)."""
    if side is None:
        return gray
    h, w = gray.shape
    if min(h, w) < side:
        return None
    top, left = (h - side) // 2, (w - side) // 2
    return gray[top:top + side, left:left + side]


def main() -> None:
    """Run the sweep and write its table."""
    data = Path(os.environ.get("ZSSR_DATA", "../shared/data")) / "DIV2KRK_dev"
    ratios: dict[tuple[int, str, str], list[tuple[float, float]]] = {}
    for scale in (2, 4):
        for ident in TUNE_IDS:
            lr = to_tensor(read_image(data / f"lr_x{scale}" / f"im_{ident}.png").color)
            gray_full = luma(lr)
            true = load_kernel(data / f"gt_k_x{scale}" / f"kernel_{ident}.mat").numpy()
            for side in CROPS:
                g = crop(gray_full, side)
                if g is None:
                    continue
                g = np.asarray(g[MARGIN:-MARGIN, MARGIN:-MARGIN], dtype=np.float64)
                try:
                    variance, angle = _edge_points(g, DERIVATIVE_SIGMA, REBLUR_SIGMA, TOP_FRACTION)
                except StructureError:
                    continue
                fitted = fit(variance, angle)
                covs = {}
                for name, rule in RULES.items():
                    if fitted is None:
                        covs[name] = np.eye(2) * max(float(np.median(variance)), FLOOR_VARIANCE)
                    else:
                        covs[name] = rule(*fitted)
                median = max(float(np.median(variance)), FLOOR_VARIANCE)
                for q in QUANTILES:
                    low = max(float(np.quantile(variance, q)), FLOOR_VARIANCE)
                    covs[f"quantile {q:g}"] = covs[f"base (cap {MAX_ELONGATION:g})"] * (low / median)
                for name, cov in covs.items():
                    cov_hr = cov * (scale * CALIBRATION) ** 2
                    # axis_ratios reads kernels as distributions: a Gaussian's covariance stands in for it
                    ratios.setdefault((scale, "full" if side is None else f"{side}²", name), []).append(
                        covariance_ratios(cov_hr, true))
    lines = result_header("Edge estimate on DIV2KRK dev ids 1–35: elongation cap and minor-axis rules")
    lines += ["| scale · input | rule | n | median minor | > 1.15× | < 0.87× | median major |", "|---|---|---|---|---|---|---|"]
    for (scale, where, name), values in ratios.items():
        minor = [m for m, _ in values]
        major = [a for _, a in values]
        lines.append(f"| ×{scale} · {where} | {name} | {len(minor)} | {statistics.median(minor):.2f} | "
                     f"{100 * sum(m > 1.15 for m in minor) / len(minor):.0f} % | "
                     f"{100 * sum(m < 0.87 for m in minor) / len(minor):.0f} % | {statistics.median(major):.2f} |")
    lines.append("")
    write_result(HERE / "results" / "div2krk_elongation.md", lines)


def covariance_ratios(cov: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """``axis_ratios`` with the estimate given by its covariance (HR px²)."""
    w, v = np.linalg.eigh(covariance(true))
    minor, major = (math.sqrt(float(v[:, i] @ cov @ v[:, i]) / float(w[i])) for i in range(2))
    return minor, major


if __name__ == "__main__":
    main()
