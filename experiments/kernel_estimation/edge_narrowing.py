"""Can the edge estimator alone "err narrow" (issue #19, item 1)? Widths only, no ZSSR.

The harm of ``--kernel auto`` comes from estimates wider than the true kernel along its minor
axis (``kernel_width_correction.md`` part 3: past ~1.15× ZSSR's gain collapses). Three ways of
moving the estimate's distribution narrower are swept on the development photos only
(scikit-image: the nine held-out photos and six texture photos of ``edgeblur_tracking.py``,
data seeds 0-4, DIV2KRK recipe), then the best read on Set14 ×2 data seeds 1-4:

1. a lower quantile ``q`` of the per-edge blur variances (size and per-angle values) instead
   of the median, with the multiplicative calibration ``c``;
2. subtracting an assumed own-blur variance ``s0²`` (HR px²) of the photo from each axis;
3. both.

Reported per setting: median minor-axis ratio (estimate σ over true σ along the true minor
axis), and the share of images past 1.15 and 1.3 (harm) and under 0.7 / 0.8 (gain lost).

Usage: PYTHONPATH=src python experiments/kernel_estimation/edge_narrowing.py [--data-root ../shared/data]
About two minutes on one core. Writes results/edge_narrowing.md.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

from edgeblur_tracking import _cases, dev_cases, width_script_args  # noqa: E402
from kernel_checks import axis_ratios  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.bench import resolve_dataset  # noqa: E402
from zssr.kernel_estimation import edges  # noqa: E402


def covariance_at(variance: np.ndarray, angle: np.ndarray, q: float) -> np.ndarray:
    """``edges.edge_blur`` with the median (size and per-angle values) replaced by the quantile ``q``."""
    size = max(float(np.quantile(variance, q)), edges.FLOOR_VARIANCE)
    rows, values, weights = [], [], []
    which = np.minimum((angle / np.pi * edges.ANGLE_BINS).astype(int), edges.ANGLE_BINS - 1)
    for b in range(edges.ANGLE_BINS):
        v = variance[which == b]
        if v.size >= edges.MIN_BIN_POINTS:
            phi = (b + 0.5) * np.pi / edges.ANGLE_BINS
            ny, nx = math.sin(phi), math.cos(phi)
            rows.append([ny * ny, 2 * ny * nx, nx * nx])
            values.append(float(np.quantile(v, q)))
            weights.append(math.sqrt(v.size))
    if len(rows) < 3:
        return np.eye(2) * size
    wts = np.asarray(weights)
    cyy, cyx, cxx = np.linalg.lstsq(np.asarray(rows) * wts[:, None], np.asarray(values) * wts, rcond=None)[0]
    lam, vec = np.linalg.eigh(np.array([[cyy, cyx], [cyx, cxx]]))
    lam = np.maximum(lam, edges.FLOOR_VARIANCE)
    elongation = min(math.sqrt(lam[1] / lam[0]), edges.MAX_ELONGATION)
    return vec @ np.diag([size / elongation, size * elongation]) @ vec.T


def kernel(points: tuple[np.ndarray, np.ndarray], q: float, c: float, s0: float) -> np.ndarray:
    """The ×2 kernel for one setting: quantile, calibration, own-blur variance subtracted (HR px)."""
    lam, vec = np.linalg.eigh(covariance_at(*points, q) * (2 * c) ** 2)
    lam = np.maximum(lam - s0**2, 0.25**2)
    return edges.kernel_from_covariance(vec @ np.diag(lam) @ vec.T).numpy()


def summary(ratios: np.ndarray) -> str:
    """One table row's cells: median minor ratio and the tail shares."""
    return (f"{np.median(ratios):.2f} | {np.mean(ratios > 1.15):.0%} | {np.mean(ratios > 1.3):.0%} | "
            f"{np.mean(ratios < 0.7):.0%} | {np.mean(ratios < 0.8):.0%}")


HEAD = ["| setting | median minor ratio | > 1.15 | > 1.3 | < 0.7 | < 0.8 |", "|---|---|---|---|---|---|"]


def main() -> None:
    """Sweep on the development photos, then read the best settings on Set14."""
    args = width_script_args(__doc__, HERE / "results" / "edge_narrowing.md")
    lines = result_header("Can the edge estimator alone err narrow? (issue #19, widths only)")
    committed = (0.5, edges.CALIBRATION, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        dev = [case for cases in dev_cases(t).values() for case in cases]
        set14 = _cases(resolve_dataset("Set14", args.data_root), (1, 2, 3, 4), t / "c14")
    param = (edges.DERIVATIVE_SIGMA, edges.REBLUR_SIGMA, edges.TOP_FRACTION)
    dev_points = [edges._edge_points(g, *param) for _, _, g, _, _ in dev]
    settings = [(q, c, s0) for q in (0.5, 0.4, 0.3, 0.2) for c in (0.75, 0.85, 0.9, 1.0) for s0 in (0.0, 0.5, 0.7)]
    lines += ["", f"## Development photos ({len(dev)} degraded images), q = quantile, c = calibration, "
              "s0 = own blur subtracted (HR px)", "", *HEAD]
    scored = []
    for q, c, s0 in settings:
        r = np.array([axis_ratios(kernel(p, q, c, s0), case[3])[0] for p, case in zip(dev_points, dev)])
        scored.append((q, c, s0, r))
        mark = " (committed)" if (q, c, s0) == committed else ""
        lines.append(f"| q {q}, c {c}, s0 {s0}{mark} | {summary(r)} |")
    # The narrowest-tailed settings that keep the median at or above 0.9 (gain kept).
    kept = sorted((s for s in scored if np.median(s[3]) >= 0.9), key=lambda s: (np.mean(s[3] > 1.15), -np.median(s[3])))
    best = [committed] + [(q, c, s0) for q, c, s0, _ in kept[:3] if (q, c, s0) != committed]
    set14_points = [edges._edge_points(g, *param) for _, _, g, _, _ in set14]
    lines += ["", f"## Set14 ×2, data seeds 1-4 ({len(set14)} images): the committed setting and the dev's best "
              "(fewest > 1.15 with median ≥ 0.9)", "", *HEAD]
    for q, c, s0 in best:
        r = np.array([axis_ratios(kernel(p, q, c, s0), case[3])[0] for p, case in zip(set14_points, set14)])
        barbara = ", ".join(f"{x:.2f}" for x, case in zip(r, set14) if case[0] == "barbara")
        lines.append(f"| q {q}, c {c}, s0 {s0} (barbara seeds 1-4: {barbara}) | {summary(r)} |")
    lines += ["", "Reading: a lower quantile narrows the development tail (> 1.3: 9% → 3% at q 0.2, c 0.9) at a "
              "small cost in median; on Set14 the best settings cut the tail less (> 1.15: 18% → 11–14%, "
              "> 1.3: 9% → 5–7%) and barbara stays ~1.5× too wide on "
              "seeds 1 and 4: its fine stripes read as a wide blur whatever the statistic. Subtracting an own blur "
              "widens the spread. The width estimate alone cannot make `--kernel auto` safe; a per-image decision "
              "(item 2 of the issue) is needed."]
    write_result(Path(args.out), lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
