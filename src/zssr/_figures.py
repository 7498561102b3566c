"""Figures of the command line and the benchmark, drawn off-screen (Agg) and written atomically.

One place for matplotlib: ``zssr upscale --save-curves`` (training curves), ``zssr demo``
(bicubic vs ZSSR with a zoom on the busiest region) and ``zssr bench`` (crops per method).
matplotlib is imported inside each function, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write
from .pipeline import UpscaleResult

__all__ = ["busiest_window", "save_comparison", "save_crop_grid", "save_training_curves"]


# ----------------------------------------------------------------------------- zssr upscale --save-curves


def save_training_curves(result: UpscaleResult, path: Path, *, title: str) -> None:
    """Loss, reconstruction error and learning rate per iteration; one column per scale step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(result.steps)
    fig = Figure(figsize=(3.8 * n + 0.8, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, n, squeeze=False, sharex="col")
    for j, history in enumerate(result.steps):
        loss_ax, error_ax, lr_ax = axes[0, j], axes[1, j], axes[2, j]
        loss_ax.plot(np.arange(len(history.losses)), history.losses, lw=0.7, color="tab:blue")
        loss_ax.set_title(f"step {j + 1}/{n}: {_fmt_scale(history.scale)}, {history.iterations} it", fontsize=9)
        error_ax.plot(history.test_iterations, history.test_errors, marker="o", ms=2.5, lw=1.0, color="tab:orange")
        lr_ax.step(np.arange(len(history.learning_rates)), history.learning_rates, where="post", color="tab:green")
        for change in history.lr_changes:
            for ax in (error_ax, lr_ax):
                ax.axvline(change, color="grey", lw=0.6, ls=":")
        for ax, values in ((loss_ax, history.losses), (error_ax, history.test_errors), (lr_ax, history.learning_rates)):
            if values and min(values) > 0:
                ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
        lr_ax.set_xlabel("iteration")
    axes[0, 0].set_ylabel("L1 loss (training)")
    axes[1, 0].set_ylabel("reconstruction MSE\n(input vs SR of its son)")
    axes[2, 0].set_ylabel("learning rate")
    fig.suptitle(title, fontsize=10)
    _save_figure(fig, path)


def _fmt_scale(sf: Sequence[float]) -> str:
    return f"×{sf[0]:g}" if sf[0] == sf[1] else f"×{sf[0]:g}x{sf[1]:g}"


# ----------------------------------------------------------------------------- zssr demo


def busiest_window(gray: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left of the ``side×side`` window with the most gradient energy (where SR differs most)."""
    gy, gx = np.gradient(gray.astype(np.float64))
    energy = np.pad((gy * gy + gx * gx).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = gray.shape
    best, where = -1.0, (0, 0)
    stride = max(1, side // 4)
    for top in range(0, h - side + 1, stride):
        for left in range(0, w - side + 1, stride):
            total = (energy[top + side, left + side] - energy[top, left + side]
                     - energy[top + side, left] + energy[top, left])
            if total > best:
                best, where = total, (top, left)
    return where


def save_comparison(
    hr: np.ndarray, bicubic: np.ndarray, zssr: np.ndarray, psnr_bic: float, psnr_zssr: float, path: Path, *,
    scale: float, border: int,
) -> None:
    """HR | bicubic | ZSSR, whole and zoomed (nearest-neighbour) on the most textured region.

    ``border`` is the pixels shaved per side for the PSNRs, named in the title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    side = max(8, min(hr.shape[:2]) // 3)
    top, left = busiest_window(hr.mean(axis=2), side)
    fig = Figure(figsize=(10.5, 7.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    panels = (
        ("HR (ground truth)", hr),
        (f"bicubic: {psnr_bic:.2f} dB", bicubic),
        (f"ZSSR: {psnr_zssr:.2f} dB ({psnr_zssr - psnr_bic:+.2f})", zssr),
    )
    for j, (title, image) in enumerate(panels):
        whole, zoom = axes[0, j], axes[1, j]
        whole.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), side, side, fill=False, edgecolor="yellow", lw=1.2))
        whole.set_title(title, fontsize=10)
        zoom.imshow(np.clip(image[top : top + side, left : left + side], 0.0, 1.0), interpolation="nearest")
        zoom.set_title("zoom", fontsize=8)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"×{scale:g} super-resolution; Y-PSNR with {border}-px border shaved", fontsize=11)
    _save_figure(fig, path)


# ----------------------------------------------------------------------------- zssr bench


def save_crop_grid(
    path: Path, rows: Sequence[tuple[str, np.ndarray, Sequence[tuple[str, np.ndarray | None]]]], *, columns: int,
    title: str, crop: int = 128,
) -> None:
    """One row per image: the same centre crop of HR and of each panel, with the panel titles.

    ``rows`` holds ``(image name, HR, [(panel title, H×W×C image, or None for an empty panel), ...])``;
    ``columns`` is 1 (HR) + the panels per row.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.2 * columns, 2.7 * len(rows)), dpi=100)
    FigureCanvasAgg(fig)
    for row, (label, hr, shown) in enumerate(rows):
        h, w = hr.shape[:2]
        c = min(crop, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        panels: list[tuple[str, np.ndarray | None]] = [("HR", hr), *shown]
        for col, (panel_title, image) in enumerate(panels):
            ax = fig.add_subplot(len(rows), columns, row * columns + col + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if image is not None:
                patch = image[top : top + c, left : left + c]
                if patch.shape[2] == 1:
                    ax.imshow(patch[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                else:
                    ax.imshow(patch, interpolation="nearest")
            ax.set_title(panel_title, fontsize=7)
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)


# ----------------------------------------------------------------------------- writing


def _save_figure(fig: Any, path: Path) -> None:
    atomic_write(path, lambda handle: fig.savefig(handle, format="png"), what="figure")
