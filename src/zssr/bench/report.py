"""The benchmark's outputs: per-cell summary, ``results.csv``, the Markdown tables and the crop figures."""

from __future__ import annotations

import csv
import io
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import write_text
from .._figures import save_crop_grid
from ..io import read_image
from .datasets import DEGRADATIONS, BenchInput, Condition
from .degradations import GAUSSIAN_NOISE_SIGMA, SPECKLE_VARIANCE
from .methods import MethodSpec
from .runner import Record, Where, condition_of

__all__ = ["PAPER_NUMBERS", "SummaryRow", "summarize", "table_markdown", "write_csv", "write_figure"]
#: Published numbers (PSNR, SSIM) keyed by (method name, degradation, data set, scale).
#: Bicubic: SRCNN (Dong et al., TPAMI 2016, Table 2) / VDSR (Kim et al., CVPR 2016,
#: Table 3), reprinted in ZSSR's Table 1. ZSSR: the paper's Table 1 ('ideal', ×2/×3/×4,
#: ../shared/reference/zssr_paper.txt).
#: Only numbers we hold are listed; every other cell of the table stays blank.
PAPER_NUMBERS: dict[tuple[str, str, str, float], tuple[float, float]] = {
    ("bicubic", "bicubic", "Set5", 2.0): (33.66, 0.9299),
    ("bicubic", "bicubic", "Set5", 3.0): (30.39, 0.8682),
    ("bicubic", "bicubic", "Set5", 4.0): (28.42, 0.8104),
    ("bicubic", "bicubic", "Set14", 2.0): (30.24, 0.8688),
    ("bicubic", "bicubic", "Set14", 3.0): (27.55, 0.7742),
    ("bicubic", "bicubic", "Set14", 4.0): (26.00, 0.7027),
    ("zssr", "bicubic", "Set5", 2.0): (37.37, 0.9570),
    ("zssr", "bicubic", "Set5", 3.0): (33.42, 0.9188),
    ("zssr", "bicubic", "Set5", 4.0): (31.13, 0.8796),
    ("zssr", "bicubic", "Set14", 2.0): (33.00, 0.9108),
    ("zssr", "bicubic", "Set14", 3.0): (29.80, 0.8304),
    ("zssr", "bicubic", "Set14", 4.0): (28.01, 0.7651),
}

_PROTOCOLS: dict[str, str] = {
    "bicubic": "MATLAB bicubic upscale of RGB, Y scored (paper's row: Y-channel upscale; ≤ 0.04 dB apart)",
    "zssr": "ZSSR on RGB, Y scored (as the paper)",
    "zssr+true-kernel": "ZSSR given the true kernel, Y scored",
    "zssr+estimated-kernel": "ZSSR given a kernel estimated from the LR (KernelGAN or cross-scale), Y scored",
}

_TITLES: dict[str, str] = {
    "bicubic": "Table 1: 'ideal' LR (MATLAB bicubic downscaling)",
    "gaussian-kernel": "Table 2: LR made with a random Gaussian kernel per image (paper: BSD100)",
    "degraded": "Table 3: LR with one random degradation per image (paper: BSD100)",
    "given": "Given LR/HR pairs with their true kernels (DIV2KRK: blind SR)",
    "gaussian-noise": "Table 3, one kind forced: Gaussian noise on every LR",
    "speckle-noise": "Table 3, one kind forced: speckle noise on every LR",
    "jpeg-file": "Table 3, one kind forced: every LR a JPEG file",
    "jpeg-png": "Table 3, one kind forced: every LR once a JPEG, now a PNG",
    "given+gaussian-noise": "Given LR/HR pairs (blind SR) with Gaussian noise on every LR",
    "given+speckle-noise": "Given LR/HR pairs (blind SR) with speckle noise on every LR",
    "given+jpeg-file": "Given LR/HR pairs (blind SR), every LR a JPEG file",
    "given+jpeg-png": "Given LR/HR pairs (blind SR), every LR once a JPEG, now a PNG",
}


@dataclass(frozen=True)
class SummaryRow(Where):
    """One table cell: a method on a condition, averaged over images, then over seeds."""

    images: int
    seeds: int
    psnr: float
    ssim: float
    psnr_std: float
    ssim_std: float
    seconds: float
    iterations: float | None
    paper_psnr: float | None
    paper_ssim: float | None


def _seconds(records: Sequence[Record]) -> float:
    """Mean seconds over the records of the machine that ran most of them.

    A resumed run may hold records from several machines (a laptop, then a GPU); a mean over
    them would describe none.
    """
    known = [r for r in records if r.machine] or list(records)  # records from before machines were kept: last
    machine = Counter(r.machine for r in known).most_common(1)[0][0]  # a tie: the first seen
    return float(np.mean([r.seconds for r in known if r.machine == machine]))


def summarize(
    records: Sequence[Record], conditions: Sequence[Condition], specs: Sequence[MethodSpec]
) -> list[SummaryRow]:
    """Mean PSNR/SSIM/time per (condition, method), in the order of the conditions and methods asked for.

    Seconds come from one machine's records (:func:`_seconds`).
    """
    rows = []
    for condition in conditions:
        for spec in specs:
            mine = [r for r in records if r.method == spec.label and condition_of(r) == condition]
            if not mine:
                continue
            seeds = sorted({r.seed for r in mine})
            # Mean over images for each seed, then mean and spread of those over seeds.
            per_seed = np.array([
                [np.mean([r.psnr for r in mine if r.seed == k]), np.mean([r.ssim for r in mine if r.seed == k])]
                for k in seeds
            ])
            iterations = [r.iterations for r in mine if r.iterations is not None]
            paper = PAPER_NUMBERS.get((spec.name, condition.degradation, condition.dataset, condition.scale))
            rows.append(SummaryRow(
                dataset=condition.dataset, scale=condition.scale, degradation=condition.degradation,
                variant=condition.variant, data_seed=condition.data_seed, method=spec.label,
                images=len({r.image for r in mine}), seeds=len(seeds),
                psnr=float(per_seed[:, 0].mean()), ssim=float(per_seed[:, 1].mean()),
                psnr_std=float(per_seed[:, 0].std()), ssim_std=float(per_seed[:, 1].std()),
                seconds=_seconds(mine),
                iterations=float(np.mean(iterations)) if iterations else None,
                paper_psnr=paper[0] if paper else None, paper_ssim=paper[1] if paper else None,
            ))
    return rows

_CSV_FIELDS = (
    "dataset", "scale", "degradation", "variant", "data_seed", "method", "image", "seed", "psnr", "ssim",
    "seconds", "iterations", "device", "sr",
)


def write_csv(path: Path, records: Sequence[Record]) -> None:
    """Every per-image record as one CSV row (atomic write): the raw data behind the tables."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = {k: getattr(r, k) for k in _CSV_FIELDS}
        row["iterations"] = "" if r.iterations is None else r.iterations
        row["psnr"], row["ssim"] = repr(r.psnr), repr(r.ssim)
        writer.writerow(row)
    write_text(path, buffer.getvalue())


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def _cell(row: SummaryRow | None) -> str:
    if row is None:
        return ""
    text = f"{row.psnr:.2f}/{row.ssim:.4f}"
    if row.seeds > 1:
        text += f" (±{row.psnr_std:.2f}/±{row.ssim_std:.4f}, {row.seeds} seeds)"
    if row.paper_psnr is not None and row.paper_ssim is not None:
        text += (
            f" · paper {row.paper_psnr:.2f}/{row.paper_ssim:.4f}"
            f" · Δ {_signed(row.psnr - row.paper_psnr, 2)}/{_signed(row.ssim - row.paper_ssim, 4)}"
        )
    return text


def _lr_note(condition: Condition) -> str:
    given = "the data set's own LR files (alpha dropped) and true kernels, HR as given"
    if condition.degradation == "given":
        return given
    if condition.degradation == "gaussian-kernel":
        return f"random Gaussian kernel ('{condition.variant}' recipe, data seed {condition.data_seed}), 8-bit LR"
    base = (
        "SelfExSR LR files (the paper's exact inputs)" if condition.lr_variant == "selfexsr"
        else "MATLAB imresize(HR uint8, 1/s), symmetric boundary"
    )
    if condition.degradation == "degraded":
        return (
            f"{base}, then per image one of Gaussian noise σ={GAUSSIAN_NOISE_SIGMA * 255:g}/255, speckle "
            f"variance {SPECKLE_VARIANCE:g}, JPEG quality {condition.jpeg_quality} (data seed {condition.data_seed})"
        )
    forced = {
        "gaussian-noise": f"Gaussian noise σ={GAUSSIAN_NOISE_SIGMA * 255:g}/255 (data seed {condition.data_seed})",
        "speckle-noise": f"speckle variance {SPECKLE_VARIANCE:g} (data seed {condition.data_seed})",
        "jpeg-file": f"saved as JPEG quality {condition.jpeg_quality} (Pillow, 4:2:0), read from the .jpg",
        "jpeg-png": f"JPEG quality {condition.jpeg_quality} (Pillow, 4:2:0), decoded and stored as PNG",
    }
    kind = condition.degradation.removeprefix("given+")
    if condition.degradation != kind and kind in forced:
        return f"{given}, then on every LR {forced[kind]}"
    if condition.degradation in forced:
        return f"{base}, then on every image {forced[condition.degradation]}"
    return base


def column_headers(columns: Sequence[Condition]) -> list[str]:
    """Each condition's header, with its data seed where two columns would otherwise read the same."""
    counts = Counter(c.column for c in columns)
    return [f"{c.column}, data seed {c.data_seed}" if counts[c.column] > 1 else c.column for c in columns]


def table_markdown(summary: Sequence[SummaryRow], conditions: Sequence[Condition], specs: Sequence[MethodSpec]) -> str:
    """The paper-style Markdown table: one row per method, one column group per condition."""
    index = {(r.dataset, r.scale, r.degradation, r.variant, r.data_seed, r.method): r for r in summary}
    lines = [
        "# ZSSR benchmark",
        "",
        "PSNR (dB) / SSIM on Y of MATLAB `rgb2ycbcr`, `scale` pixels shaved, SR rounded to 8 bits",
        "(the VDSR/SRCNN MATLAB protocol behind the paper's tables; `zssr.metrics.evaluate`).",
        "Each cell: mean over images (± standard deviation over seeds when several) · the paper's number ·",
        "Δ = ours − paper, where we hold the paper's number (others are left blank).",
    ]
    for degradation in DEGRADATIONS:
        columns = [c for c in conditions if c.degradation == degradation]
        if not columns:
            continue
        lines += ["", f"## {_TITLES[degradation]}", ""]
        for c in columns:
            lines.append(f"- {c.column}: {_lr_note(c)}")
        lines += [
            "",
            "| method | protocol | " + " | ".join(column_headers(columns)) + " |",
            "|---|---|" + "---|" * len(columns),
        ]
        for spec in specs:
            cells = [
                _cell(index.get((c.dataset, c.scale, c.degradation, c.variant, c.data_seed, spec.label)))
                for c in columns
            ]
            protocol = _PROTOCOLS.get(spec.name, "custom method, Y scored")
            lines.append(f"| `{spec.label}` | {protocol} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _wrap(label: str, width: int = 30) -> str:
    """A method label over a few lines (breaking after commas) for a figure title."""
    return "\n".join(textwrap.wrap(label.replace(",", ", "), width)).replace(", ", ",")


def write_figure(
    path: Path, condition: Condition, items: Sequence[BenchInput], specs: Sequence[MethodSpec],
    records: Sequence[Record], out: Path, max_images: int = 3, crop: int = 128,
) -> None:
    """HR | each method, a centre crop of the first few images (seed 0), with each crop's PSNR."""
    first_seed = min(r.seed for r in records)
    by_key = {(r.method, r.image): r for r in records if r.seed == first_seed}
    rows = []
    for item in items[:max_images]:
        hr = read_image(item.hr).color
        panels: list[tuple[str, np.ndarray | None]] = []
        for spec in specs:
            record = by_key.get((spec.label, item.name))
            if record is not None and (out / record.sr).is_file():  # a resumed JSON may come without its PNG
                panels.append((f"{_wrap(spec.label)}\n{record.psnr:.2f} dB", read_image(out / record.sr).color))
            else:
                panels.append((_wrap(spec.label), None))
        rows.append((item.name, hr, panels))
    title = f"{condition.column}, {condition.degradation} ({condition.variant})"
    save_crop_grid(path, rows, columns=1 + len(specs), title=title, crop=crop)
