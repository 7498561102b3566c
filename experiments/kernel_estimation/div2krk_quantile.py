"""Issue #28, item 2: does a lower quantile of the per-edge blur tighten the edge estimate on DIV2KRK?

Every edge's measured blur is the kernel's plus the scene's own (soft shadows, defocus), so the
kernel is the *lower envelope* of the per-edge blurs; the committed estimator takes their median,
which a photo full of soft edges reads too wide (the too-wide tail of ``div2krk_kernels.md``).
``edge_narrowing.md`` swept quantiles on scikit-image photos with synthetic kernels; this reads
DIV2KRK's own LR images and true kernels. For each quantile ``q`` of the per-point variances (size,
and per normal-angle bin for the shape) the calibration is set so that the median minor-axis
ratio over the tuning ids at ×2, full size, is the committed estimator's (0.90); what matters is
then the spread: the shares > 1.15× (harm) and < 0.87× (gain lost) at every input size.

Tuning ids 1–35 only (36–50 stay unseen; not read here). Widths only, no ZSSR.

Usage: ZSSR_DATA=../shared/data PYTHONPATH=src python experiments/kernel_estimation/div2krk_quantile.py
Writes results/div2krk_quantile.md (about a minute on one core).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE))

from div2krk_elongation import crop  # noqa: E402
from edge_narrowing import covariance_at  # noqa: E402  (the committed shape fit, quantile q for every median)
from kernel_checks import axis_ratios  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.io import read_image, to_tensor  # noqa: E402
from zssr.kernel_estimation._common import MARGIN, luma  # noqa: E402
from zssr.kernel_estimation.edges import (  # noqa: E402
    DERIVATIVE_SIGMA,
    REBLUR_SIGMA,
    _edge_points,
    kernel_from_covariance,
)
from zssr.kernels import load_kernel  # noqa: E402

QUANTILES = (0.5, 0.4, 0.3, 0.2, 0.1)
TOP_FRACTIONS = (0.03, 0.1)
CROPS = (None, 192, 256)
IDS = range(1, 36)
TARGET_MEDIAN = 0.90  # the committed estimator's median minor ratio at ×2, full size, all dev ids


def main() -> None:
    """Score every (top fraction, quantile) on the tuning ids and write the table."""
    folder = Path(os.environ.get("ZSSR_DATA", "../shared/data")) / "DIV2KRK_dev"
    # ratios[(scale, crop, top, q)] = minor-axis ratios at calibration 1
    ratios: dict[tuple[int, str, float, float], list[float]] = {}
    for scale in (2, 4):
        for ident in IDS:
            lr = to_tensor(read_image(folder / f"lr_x{scale}" / f"im_{ident}.png").color)
            true = load_kernel(folder / f"gt_k_x{scale}" / f"kernel_{ident}.mat").numpy()
            gray = luma(lr[..., MARGIN:-MARGIN, MARGIN:-MARGIN])
            for side in CROPS:
                part = crop(gray, side)
                if part is None:
                    continue
                for top in TOP_FRACTIONS:
                    variance, angle = _edge_points(np.asarray(part, np.float64), DERIVATIVE_SIGMA, REBLUR_SIGMA, top)
                    for q in QUANTILES:
                        kernel = kernel_from_covariance(covariance_at(variance, angle, q) * scale**2).numpy()
                        key = (scale, str(side or "full"), top, q)
                        ratios.setdefault(key, []).append(axis_ratios(kernel, true)[0])
    lines = [*result_header("Edge estimate on DIV2KRK: lower quantiles of the per-edge blur (issue #28, item 2)"),
             "Ids 1–35 (tuning range); 36–50 not read. Per (top fraction, q) one calibration c, set so the median "
             f"minor-axis ratio at ×2, full size is {TARGET_MEDIAN}; the same c at every size and at ×4. "
             "Columns: too wide (> 1.15×) / too narrow (< 0.87×) shares, and the spread of log ratios "
             "(IQR of ln ratio: smaller = tighter).", "",
             "| top fraction | q | c | input | ×2 > 1.15 | ×2 < 0.87 | ×2 IQR | ×4 median | ×4 > 1.15 | ×4 < 0.87 | ×4 IQR |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for top in TOP_FRACTIONS:
        for q in QUANTILES:
            c = TARGET_MEDIAN / statistics.median(ratios[(2, "full", top, q)])
            for side in ("full", "192", "256"):
                cells = []
                for scale in (2, 4):
                    r = np.asarray(ratios[(scale, side, top, q)]) * c
                    iqr = float(np.subtract(*np.percentile(np.log(r), [75, 25])))
                    med = f"{np.median(r):.2f} | " if scale == 4 else ""
                    cells.append(f"{med}{np.mean(r > 1.15):.0%} | {np.mean(r < 0.87):.0%} | {iqr:.2f}")
                lines.append(f"| {top} | {q} | {c:.2f} | {side} | " + " | ".join(cells) + " |")
    write_result(HERE / "results" / "div2krk_quantile.md", lines)


if __name__ == "__main__":
    main()
