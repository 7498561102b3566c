"""Issue #28, item 2: can a global recalibration of the edge estimate meet "≤ 5 % too wide"?

The committed edge estimate's error on DIV2KRK is not a bias but a slope: read against the
true kernel's minor-axis σ, narrow true kernels (σ < 1 HR px) come out 1.0–1.4× too wide and
wide ones (σ > 1.4) 0.7–0.9× too narrow — the signature of the photos' own blur added to the
kernel's, seen through an estimator with about half the truth's sensitivity (fit on ids 1–35:
est² ≈ 0.51·true² + 0.56 HR px² at ×2 full size).

This script asks whether *any* map of the same form, ``σ'² = (σ² − b) / a`` (σ in LR pixels;
``b`` removes an intrinsic variance, ``a`` undoes the slope), can bring the too-wide share
to 3 % on the tuning ids (full size and both crop sizes) and what it costs in too-narrow
estimates. It reads the committed per-estimate ratios (``benchmarks/results/div2krk_kernels.csv``)
and the true kernels; no ZSSR runs. Fitted on ids 1–35 only; ids 36–50 reported apart.

Usage: ZSSR_DATA=../shared/data PYTHONPATH=src python experiments/kernel_estimation/div2krk_calibration.py
Writes results/div2krk_calibration.md (seconds).
"""

from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

from kernel_checks import covariance  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.kernels import load_kernel  # noqa: E402

CROPS = ("full", "192", "256")
TUNE_LAST = 35
TOO_WIDE, TOO_NARROW = 1.15, 0.87
WIDE_TARGET = 0.03  # on the tuning ids, every input size: a margin under the 5 %
FLOOR = 0.05  # LR px: a corrected σ never goes below a near-delta


def true_minor_sigma(folder: Path, ident: int, scale: int) -> float:
    """The true kernel's σ along its minor axis (HR px)."""
    kernel = load_kernel(folder / f"gt_k_x{scale}" / f"kernel_{ident}.mat").numpy()
    return math.sqrt(float(np.linalg.eigvalsh(covariance(kernel))[0]))


def corrected_ratios(points: list[tuple[int, str, float, float]], scale: int, a: float, b: float) -> np.ndarray:
    """Minor ratios after ``σ'² = (σ² − b)/a`` in LR px (points: id, crop, true σ, estimated σ, HR px)."""
    return np.array([math.sqrt(max((est / scale) ** 2 - b, FLOOR**2) / a) * scale / true for _, _, true, est in points])


def shares(ratios: np.ndarray) -> str:
    """Median | too wide | too narrow | worst, as table cells."""
    return (f"{np.median(ratios):.2f} | {(ratios > TOO_WIDE).mean():.0%} | {(ratios < TOO_NARROW).mean():.0%} | "
            f"{ratios.max():.2f}")


def main() -> None:
    """Fit the least-narrow map meeting the target on ids 1–35, per scale; report both id ranges."""
    folder = Path(os.environ.get("ZSSR_DATA", "../shared/data")) / "DIV2KRK_dev"
    rows = list(csv.DictReader((HERE.parents[1] / "benchmarks/results/div2krk_kernels.csv").open(encoding="utf-8")))
    lines = result_header("Edge estimate on DIV2KRK: a global recalibration against the too-wide tail (issue #28)")
    lines += ["Map σ'² = (σ² − b)/a (LR px), the least-narrow (a, b) on a grid whose too-wide share is ≤ 3 % on ids",
              "1–35 at every input size; ids 36–50 never enter the fit. Ratios along the true minor axis.",
              "", "| scale | map | input | ids | committed: median | > 1.15× | < 0.87× | worst | recalibrated: median | > 1.15× "
              "| < 0.87× | worst |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for scale in (2, 4):
        true = {i: true_minor_sigma(folder, i, scale) for i in range(1, 51)}
        points = [(int(r["id"]), r["crop"], true[int(r["id"])], float(r["minor_ratio"]) * true[int(r["id"])])
                  for r in rows if r["scale"] == str(scale)]
        tune = {c: [p for p in points if p[0] <= TUNE_LAST and p[1] == c] for c in CROPS}
        best: tuple[float, float, float] | None = None
        for a in np.arange(0.30, 1.201, 0.05):
            for b in np.arange(0.0, 0.401, 0.02):
                per_crop = [corrected_ratios(tune[c], scale, a, b) for c in CROPS]
                if max((r > TOO_WIDE).mean() for r in per_crop) > WIDE_TARGET:
                    continue
                narrow = float(np.mean([(r < TOO_NARROW).mean() for r in per_crop]))
                if best is None or narrow < best[0]:
                    best = (narrow, float(a), float(b))
        assert best is not None  # a = 1.2, b = 0.4 narrows everything
        _, a, b = best
        for crop in CROPS:
            for label, keep in (("1–35", lambda i: i <= TUNE_LAST), ("36–50", lambda i: i > TUNE_LAST)):
                chosen = [p for p in points if p[1] == crop and keep(p[0])]
                before = np.array([est / t for _, _, t, est in chosen])
                lines.append(f"| ×{scale} | a={a:.2f}, b={b:.2f} | {crop} | {label} | {shares(before)} | "
                             f"{shares(corrected_ratios(chosen, scale, a, b))} |")
    lines += ["", "Reading: meeting the too-wide target with one map for all images moves the median to about 0.6 and",
              "two thirds or more of the estimates under 0.87×, and the unseen ids still exceed 5 % at some sizes: the",
              "per-image error is too large for a global fix. Item 2 needs per-image evidence (e.g. a short ZSSR run",
              "scoring candidate widths on held-aside crops), not a calibration."]
    write_result(HERE / "results" / "div2krk_calibration.md", lines)


if __name__ == "__main__":
    main()
