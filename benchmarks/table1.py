"""Table 1 (issue #27) from the committed per-image records of ``run_table1_cpu.sh``.

Why a script: the runs take many CPU-hours over several sessions; every scored image is a JSON
under ``results/table1/cpu/runs`` (committed), and this rebuilds, from those alone,
``results/table1/summary.csv`` (one row per cell: dataset, scale, method, seeds, mean PSNR, spread
over seeds, SSIM, median seconds per image, CPU), ``results/table1/per_image.csv`` and
``results/table1/table1.md`` (the paper's Table 1 with ours beside it, cost ratios to ``ideal``
measured on the same machine, and how complete each cell is).

Usage (repository root): PYTHONPATH=src python benchmarks/table1.py [--runs DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from machine import command_line

from zssr.bench.methods import parse_method, resolved_config

HERE = Path(__file__).resolve().parent

#: Method labels of the table's rows (``zssr bench --method``) and their short names.
ROWS = {
    "bicubic": "bicubic",
    "zssr:preset=ideal": "ideal",
    "zssr:preset=gradual": "gradual",
    "zssr:preset=best": "best",
}
DATASETS = ("Set5", "Set14")
SCALES = (2.0, 3.0, 4.0)
IMAGES = {"Set5": 5, "Set14": 14}

# Screens that ran on the second core while the queue trained on the first (run_table1_screen.sh runs
# beside the queue by design, and so did most ladder screens): their PSNR stands, their seconds are
# not comparable (never time beside a long run), so the table leaves them out.
LADDER_SCREEN = "zssr:gradual_pattern="  # table1_ladder_screen.py: `best` before it had a name
TIMED_BESIDE_THE_QUEUE = ("zssr:max_iterations=6000,preset=ideal", LADDER_SCREEN, "zssr:nets=2,preset=ideal")
# The ladder screens' runs that had the machine to themselves (docs/RESULTS.md, Table 1 row): their seconds stand.
LADDER_TIMED_ALONE = {("Set5", 2.0, image) for image in ("bird", "butterfly", "head", "woman")} | {
    ("Set5", 4.0, "baby"), ("Set5", 4.0, "woman")}
BEST = "zssr:preset=best"
#: A cell's ``cpu`` when every run in it shared the machine: no seconds are quoted.
BESIDE = "beside the queue"


#: The paper's Table 1 (../shared/reference/zssr_paper.txt): PSNR/SSIM of every column it prints.
PAPER: dict[str, dict[tuple[str, float], tuple[float, float]]] = {
    "SRCNN": {("Set5", 2.0): (36.66, 0.9542), ("Set5", 3.0): (32.75, 0.9090), ("Set5", 4.0): (30.48, 0.8628),
              ("Set14", 2.0): (32.42, 0.9063), ("Set14", 3.0): (29.28, 0.8209), ("Set14", 4.0): (27.49, 0.7503)},
    "VDSR": {("Set5", 2.0): (37.53, 0.9587), ("Set5", 3.0): (33.66, 0.9213), ("Set5", 4.0): (31.35, 0.8838),
             ("Set14", 2.0): (33.03, 0.9124), ("Set14", 3.0): (29.77, 0.8314), ("Set14", 4.0): (28.01, 0.7674)},
    "EDSR+": {("Set5", 2.0): (38.20, 0.9606), ("Set5", 3.0): (34.76, 0.9290), ("Set5", 4.0): (32.62, 0.8984),
              ("Set14", 2.0): (34.02, 0.9204), ("Set14", 3.0): (30.66, 0.8481), ("Set14", 4.0): (28.94, 0.7901)},
    "SelfExSR": {("Set5", 2.0): (36.49, 0.9537), ("Set5", 3.0): (32.58, 0.9093), ("Set5", 4.0): (30.31, 0.8619),
                 ("Set14", 2.0): (32.22, 0.9034), ("Set14", 3.0): (29.16, 0.8196), ("Set14", 4.0): (27.40, 0.7518)},
    "ZSSR": {("Set5", 2.0): (37.37, 0.9570), ("Set5", 3.0): (33.42, 0.9188), ("Set5", 4.0): (31.13, 0.8796),
             ("Set14", 2.0): (33.00, 0.9108), ("Set14", 3.0): (29.80, 0.8304), ("Set14", 4.0): (28.01, 0.7651)},
}


@dataclass(frozen=True)
class Result:
    """One scored image: what ``zssr bench`` wrote, reduced to the table's needs."""

    dataset: str
    scale: float
    method: str
    image: str
    seed: int
    psnr: float
    ssim: float
    seconds: float
    iterations: int | None
    cpu: str
    threads: str
    alone: bool = True  # False: run beside the queue, so its seconds are not quoted


def row_label(label: str, config: dict[str, object] | None) -> str:
    """The row a record belongs to: a run of `best`'s exact configuration is `best`, whatever it was called.

    The ladder screens ran before `best` was named (as ``zssr:gradual_pattern=...,preset=gradual``);
    `best` is that configuration, so their images count in its row. ``config`` is the resolved Config
    the record stored (None for records older than that: the label is resolved now instead).
    """
    if label in ROWS or not label.startswith("zssr:"):
        return label
    ran = config if config is not None else resolved_config(parse_method(label))
    return BEST if ran == resolved_config(parse_method(BEST)) else label


def read_results(folders: list[Path]) -> list[Result]:
    """Every Table 1 record (bicubic LR from the SelfExSR files) in the run folders ``folders``.

    One record per (data set, scale, method, image, seed): a second one (the same run in two
    folders) is dropped with a warning, so no image is counted twice in a mean or a pairing.
    """
    results: dict[tuple[str, float, str, str, int], Result] = {}
    for path in sorted(p for runs in folders for p in runs.glob("runs/*/*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["degradation"] != "bicubic" or data["variant"] != "selfexsr":
            continue
        machine = data.get("machine") or {}
        # zssr trains NCHW on CPUs without AVX-512 since conv_layout (records say so; before: NHWC):
        # a different speed on the same CPU, so those records count as another machine.
        layout = (data.get("info") or {}).get("conv_layout")
        cpu = machine.get("cpu", "") + (", NCHW training" if layout == "NCHW" else "")
        label = data["method"]
        beside = label.startswith(TIMED_BESIDE_THE_QUEUE) and not (
            label.startswith(LADDER_SCREEN) and (data["dataset"], float(data["scale"]), data["image"]) in LADDER_TIMED_ALONE)
        r = Result(
            dataset=data["dataset"], scale=float(data["scale"]), method=row_label(label, data.get("config")),
            image=data["image"],
            seed=int(data["seed"]), psnr=float(data["psnr"]), ssim=float(data["ssim"]),
            seconds=float(data["seconds"]), iterations=data.get("iterations"),
            cpu=cpu, threads=str(machine.get("torch_threads", "")), alone=not beside,
        )
        key = (r.dataset, r.scale, r.method, r.image, r.seed)
        if key in results:
            print(f"warning: {path} repeats {key} (PSNR {r.psnr:.4f} vs {results[key].psnr:.4f}): the first is kept",
                  file=sys.stderr)
            continue
        results[key] = r
    return list(results.values())


@dataclass(frozen=True)
class Cell:
    """A method on one (data set, scale): means over images per seed, then over seeds."""

    dataset: str
    scale: float
    method: str
    images: int
    seeds: int
    complete: bool
    psnr: float
    psnr_std: float
    ssim: float
    seconds: float
    cpu: str


def cells(results: list[Result]) -> list[Cell]:
    """One cell per (data set, scale, method) over the seeds whose every image is scored.

    A seed still running counts only once complete, so a mean never mixes image sets; where no seed
    is complete yet (a screen, a cell in progress) the one with most images stands alone. The
    spread is the sample standard deviation of the seeds' means.
    """
    groups: dict[tuple[str, float, str], list[Result]] = defaultdict(list)
    for r in results:
        if r.method == "bicubic" and r.seed != 0:
            continue  # deterministic: one seed is the row
        groups[(r.dataset, r.scale, r.method)].append(r)
    out = []
    for (dataset, scale, method), group in sorted(groups.items(), key=lambda kv: _order(*kv[0])):
        by_seed: dict[int, list[Result]] = defaultdict(list)
        for r in group:
            by_seed[r.seed].append(r)
        want = IMAGES.get(dataset, max(len(v) for v in by_seed.values()))
        full = {k: v for k, v in by_seed.items() if len({r.image for r in v}) >= want}
        most = max(by_seed, key=lambda k: (len(by_seed[k]), -k))
        use = full or {most: by_seed[most]}
        psnrs = [statistics.fmean(r.psnr for r in v) for v in use.values()]
        ssims = [statistics.fmean(r.ssim for r in v) for v in use.values()]
        flat = [r for v in use.values() for r in v]
        quoted = timed([r for r in flat if r.alone])
        if quoted:
            t = quoted[0].threads
            timing = quoted[0].cpu + (f", {t} thread{'' if t == '1' else 's'}" if t else "")
            if len(quoted) < len(flat):
                timing += f", seconds from {len(quoted)} of {len(flat)} runs"
        else:
            timing = BESIDE
        out.append(Cell(
            dataset=dataset, scale=scale, method=method, images=len({r.image for r in flat}), seeds=len(use),
            complete=bool(full), psnr=statistics.fmean(psnrs),
            psnr_std=statistics.stdev(psnrs) if len(psnrs) > 1 else 0.0, ssim=statistics.fmean(ssims),
            seconds=statistics.median(r.seconds for r in quoted) if quoted else math.nan, cpu=timing,
        ))
    return out


def timed(results: list[Result]) -> list[Result]:
    """The records of one machine and thread count: seconds are quoted from one of them only.

    The queue moved between machines (a 2.8 GHz Xeon with AVX-512, then an AVX2-only EPYC several
    times slower per training step) and thread counts, so a median over them would describe none.
    The one chosen scored most of the seed-0 runs (the seed every method has, so the rows of a
    column quote the same machine wherever they can), then most runs, then by name; the
    cell's ``cpu`` names it and how many of the runs it timed.
    """
    def group(r: Result) -> tuple[str, str]:
        return (r.cpu, r.threads)
    seed0 = Counter(group(r) for r in results if r.seed == 0)
    every = Counter(group(r) for r in results)
    if not every:
        return []
    chosen = max(every, key=lambda g: (seed0[g], every[g], g))
    return [r for r in results if group(r) == chosen]


def _short(cpu: str) -> str:
    """A cell's machine in few words for the cost table (summary.csv keeps the whole name)."""
    return cpu.replace("Intel(R) Xeon(R) Processor @ 2.80GHz", "Xeon").replace("AMD EPYC", "EPYC").replace(
        " training", "").replace("seconds from ", "")


def _order(dataset: str, scale: float, method: str) -> tuple[int, float, int, str]:
    rank = list(ROWS).index(method) if method in ROWS else len(ROWS)
    return (DATASETS.index(dataset) if dataset in DATASETS else 9, scale, rank, method)


def _paired_ratio(results: list[Result], method: str, dataset: str, scale: float, base: str,
                  key: Callable[[Result], tuple[object, ...]], value: Callable[[Result], float | None]) -> tuple[float, int] | None:
    """Median over pairs (same ``key``) of ``value`` of ``method`` over ``base`` in one cell, and the pair count."""
    def cell(label: str) -> dict[tuple[object, ...], float]:
        return {key(r): v for r in results
                if (r.method, r.dataset, r.scale) == (label, dataset, scale) and (v := value(r))}
    mine, ref = cell(method), cell(base)
    pairs = [mine[k] / ref[k] for k in mine if k in ref]
    return (statistics.median(pairs), len(pairs)) if pairs else None


def time_ratio(results: list[Result], method: str, dataset: str, scale: float, base: str = "zssr:preset=ideal") -> tuple[float, int] | None:
    """Median over images and seeds of ``method``'s seconds / ``base``'s on the same image, seed and machine."""
    return _paired_ratio(results, method, dataset, scale, base, lambda r: (r.image, r.seed, r.cpu, r.threads),
                         lambda r: r.seconds if r.alone else None)


def iteration_ratio(results: list[Result], method: str, dataset: str, scale: float,
                    base: str = "zssr:preset=ideal") -> tuple[float, int] | None:
    """Median over images and seeds of ``method``'s training iterations / ``base``'s on the same image and seed.

    Machine-independent (the net, crop size and batch are the same in every preset, so a training
    step costs the same; inference is left out): the training cost of a screen that ran beside the
    queue or on another CPU.
    """
    return _paired_ratio(results, method, dataset, scale, base, lambda r: (r.image, r.seed),
                         lambda r: r.iterations)


def paired_gain(results: list[Result], method: str, dataset: str, scale: float) -> str:
    """Mean PSNR gain of ``method`` over `ideal` and over `gradual` on the same images and seeds (a screen's few)."""
    mine = {(r.image, r.seed): r.psnr for r in results if (r.method, r.dataset, r.scale) == (method, dataset, scale)}
    parts = []
    for base in ("zssr:preset=ideal", "zssr:preset=gradual"):
        ref = {(r.image, r.seed): r.psnr for r in results if (r.method, r.dataset, r.scale) == (base, dataset, scale)}
        gains = [mine[k] - ref[k] for k in mine if k in ref]
        if gains:
            parts.append(f"{statistics.fmean(gains):+.2f} vs {ROWS[base]} ({len(gains)})")
    return "; ".join(parts) or "–"


def summary_csv(table: list[Cell]) -> str:
    """``summary.csv``: the issue's columns, one row per complete cell of the four methods."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "scale", "method", "seeds", "psnr", "psnr_std", "ssim", "seconds_per_image", "cpu"])
    for c in table:
        if c.method in ROWS and c.complete:
            # interpolation, or runs that shared the machine: no seconds, no machine to name
            trained = ROWS[c.method] != "bicubic" and c.cpu != BESIDE
            writer.writerow([c.dataset, f"{c.scale:g}", ROWS[c.method], c.seeds, f"{c.psnr:.4f}", f"{c.psnr_std:.4f}",
                             f"{c.ssim:.5f}", f"{c.seconds:.1f}" if trained else "", c.cpu if trained else ""])
    return buffer.getvalue()


def per_image_csv(results: list[Result]) -> str:
    """``per_image.csv``: every scored image, the paper's cell beside it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "scale", "method", "image", "seed", "psnr", "ssim", "seconds", "iterations",
                     "cpu", "torch_threads"])
    for r in sorted(results, key=lambda r: (*_order(r.dataset, r.scale, r.method), r.image, r.seed)):
        writer.writerow([r.dataset, f"{r.scale:g}", r.method, r.image, r.seed, f"{r.psnr:.4f}", f"{r.ssim:.5f}",
                         f"{r.seconds:.1f}", "" if r.iterations is None else r.iterations, r.cpu, r.threads])
    return buffer.getvalue()


def markdown(table: list[Cell], results: list[Result], command: str) -> str:
    """The paper's Table 1 with our rows beside it, then completeness and cost."""
    columns = [(d, s) for d in DATASETS for s in SCALES]
    head = " | ".join(f"{d} ×{s:g}" for d, s in columns)
    lines = [
        "# Table 1 on the CPU: the paper's 'ideal' table, ours beside it",
        "",
        f"Command: `{command}` (from the records of `benchmarks/run_table1_cpu.sh`, committed under",
        "`results/table1/cpu/runs`). Protocol: the SelfExSR LR files (the paper's inputs), Y of MATLAB",
        "`rgb2ycbcr`, `scale` pixels shaved, SR rounded to 8 bits. Each of our cells: mean over images,",
        "then over seeds (± sample standard deviation of the seeds' means where more than one); `*` marks a cell not yet complete",
        "(images scored so far). Paper rows copied from its Table 1.",
        "",
        f"| method | {head} |",
        "|---|" + "---|" * len(columns),
    ]
    for name, numbers in PAPER.items():
        cells_text = [f"{numbers[c][0]:.2f}/{numbers[c][1]:.4f}" for c in columns]
        lines.append(f"| {name} (paper) | " + " | ".join(cells_text) + " |")
    index = {(c.dataset, c.scale, c.method): c for c in table}
    for label, short in ROWS.items():
        row = []
        for d, s in columns:
            c = index.get((d, s, label))
            if c is None:
                row.append("–")
                continue
            text = f"{c.psnr:.2f}/{c.ssim:.4f}"
            if c.seeds > 1:
                text += f" ±{c.psnr_std:.2f} ({c.seeds} seeds)"
            if short != "bicubic":
                text += f" · Δ {c.psnr - PAPER['ZSSR'][(d, s)][0]:+.2f}"
            if not c.complete:
                text += f" *{c.images} img"
            row.append(text)
        lines.append(f"| **`{short}`** (ours) | " + " | ".join(row) + " |")
    lines += ["", "Δ: ours − the paper's ZSSR PSNR.", "",
              "## Cost on the CPU", "",
              "Median seconds per image on one machine and thread count (named; the one that ran most seed-0 images) and, for `gradual` and `best`, the median",
              "per-image ratio to `ideal` on the same image and seed (same machine, same threads), and the",
              "median ratio of training iterations (machine-independent: every preset trains the same net on",
              "the same crops).", "",
              f"| method | {head} |", "|---|" + "---|" * len(columns)]
    for label, short in ROWS.items():
        if short == "bicubic":
            continue
        row = []
        for d, s in columns:
            c = index.get((d, s, label))
            if c is None:
                row.append("–")
                continue
            text = BESIDE if c.cpu == BESIDE else f"{c.seconds:.0f} s ({_short(c.cpu)})"
            ratio = time_ratio(results, label, d, s) if short != "ideal" else None
            if ratio is not None:
                text += f" · {ratio[0]:.2f}× ideal ({ratio[1]} pairs)"
            steps = iteration_ratio(results, label, d, s) if short != "ideal" else None
            if steps is not None:
                text += f" · iterations {steps[0]:.2f}×"
            row.append(text)
        lines.append(f"| `{short}` | " + " | ".join(row) + " |")
    others = sorted({c.method for c in table} - set(ROWS))
    if others:
        lines += ["", "## Other rows (screening and ablations)", "", "| method | cell | images × seeds | PSNR/SSIM | "
                  "dB on the same images | median s | × ideal | iterations × ideal |", "|---|---|---|---|---|---|---|---|"]
        for c in table:
            if c.method in ROWS:
                continue
            ratio = time_ratio(results, c.method, c.dataset, c.scale)
            r = f"{ratio[0]:.2f} ({ratio[1]})" if ratio else "–"
            seconds = f"{c.seconds:.0f}"
            if c.cpu == BESIDE:
                seconds, r = BESIDE, "–"
            name = f"`{c.method}`"
            gain = paired_gain(results, c.method, c.dataset, c.scale)
            steps = iteration_ratio(results, c.method, c.dataset, c.scale)
            its = f"{steps[0]:.2f} ({steps[1]})" if steps else "–"
            lines.append(f"| {name} | {c.dataset} ×{c.scale:g} | {c.images} × {c.seeds} | {c.psnr:.2f}/{c.ssim:.4f} | "
                         f"{gain} | {seconds} | {r} | {its} |")
    machines = Counter((r.cpu, r.threads) for r in results if r.cpu and r.method != "bicubic")
    lines += ["", "Machines (trained runs): " + "; ".join(f"{cpu}, {t} torch thread(s): {n}"
                                                       for (cpu, t), n in sorted(machines.items())),
              "Seconds per image are quoted from one machine and thread count per cell (summary.csv's `cpu` names "
              "it and, where the cell spans several, how many runs it timed); ratios pair runs of one machine and "
              "thread count only."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Read the committed records; write summary.csv, per_image.csv and table1.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", help="zssr bench run folders (default: every folder under "
                        "results/table1 holding runs/: cpu, the queue's, and screen, the screening runs')")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "table1")
    args = parser.parse_args()
    folders = args.runs or sorted(p.parent for p in (HERE / "results" / "table1").glob("*/runs"))
    results = read_results(folders)
    table = cells(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.csv").write_text(summary_csv(table), encoding="utf-8")
    (args.out / "per_image.csv").write_text(per_image_csv(results), encoding="utf-8")
    (args.out / "table1.md").write_text(markdown(table, results, command_line()), encoding="utf-8")
    print((args.out / "table1.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
