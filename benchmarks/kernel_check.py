"""`--kernel auto` with and without its do-no-harm check, over several DIV2KRK-style kernel draws (issue #19).

Reads ``zssr bench`` runs of Set14 (or any set) with ``--degradation gaussian-kernel`` holding the
rows ``bicubic``, bicubic-kernel ZSSR (``zssr:preset=ideal,…``), ``--kernel auto`` without the
check (``zssr+estimated-kernel:estimator=edges,check=false,…``, or a run made before the check
existed) and ``zssr+true-kernel``, all at the same budget; optionally, from the same or another
run folder of the same inputs, the KernelGAN row (``zssr+estimated-kernel:estimator=kernelgan,
check=false,…``). A row *with* the check is what ``--kernel auto`` now does: where the
estimated-kernel output reads :func:`~zssr.kernel_estimation.oversharpened` (measured here on its
saved 8-bit PNG), the image gets the bicubic-kernel ZSSR output of the same inputs, which is
exactly the fallback's result (same config, same seed). Per data seed and over all: mean Y-PSNR,
the share of the bicubic-kernel → true-kernel gap recovered, and how many images fall more than
0.3 dB under bicubic-kernel ZSSR.

Usage: PYTHONPATH=../src python kernel_check.py RUN_FOLDER [RUN_FOLDER …] --seeds 1,2 [--unseen 5] --out results/kernel_check.md
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from machine import result_header, write_result

from zssr.io import read_image, to_tensor
from zssr.kernel_estimation import OVERAMPLIFIED_GAIN, OVERSHARP_SIGMA, OutputReading, read_output

HARM_DB = 0.3


REQUIRED = ("bicubic", "bic-kernel", "auto", "true")


def row_name(method: str, options: dict) -> str | None:
    """The table row a bench method belongs to (None: not one of this report's rows)."""
    if method == "bicubic":
        return "bicubic"
    if method.startswith("zssr+true-kernel"):
        return "true"
    if method.startswith("zssr+estimated-kernel"):
        return "kernelgan" if options.get("estimator", "kernelgan") == "kernelgan" else "auto"
    return "bic-kernel" if method.startswith("zssr:") else None


def rows_of(runs: list[Path]) -> dict[tuple[int, str], dict[str, dict]]:
    """(data seed, image) → {row: record}; each record remembers its run folder as ``_run``."""
    out: dict[tuple[int, str], dict[str, dict]] = {}
    for run in runs:
        for path in run.glob("runs/*/*/*.json"):
            d = json.loads(path.read_text(encoding="utf-8"))
            row = row_name(d["method"], d.get("options", {}))
            if row is not None:
                out.setdefault((int(d["data_seed"]), d["image"]), {})[row] = {**d, "_run": run}
    return out


def with_check(rows: dict[str, dict], row: str) -> tuple[float, OutputReading]:
    """PSNR of ``row`` with the check, and what the check read from its output (its saved 8-bit PNG)."""
    record = rows[row]
    run = record["_run"]
    lr = read_image(run / "inputs" / record["condition"] / f"{record['image']}_lr.png").color
    reading = read_output(to_tensor(read_image(run / record["sr"]).color), to_tensor(lr))
    return (rows["bic-kernel"]["psnr"] if reading.trace is not None else record["psnr"]), reading


def summary(label: str, cases: list[dict], blind: tuple[str, ...]) -> str:
    """One table row: means; for each blind row, gap share, harm count and worst image."""
    keys = ("bicubic", "bic-kernel", *blind, "true")
    mean = {k: statistics.fmean(c[k] for c in cases) for k in keys}
    gap = mean["true"] - mean["bic-kernel"]
    cells = [label, str(len(cases)), f"{mean['bicubic']:.2f}", f"{mean['bic-kernel']:.2f}"]
    for k in blind:
        share = (mean[k] - mean["bic-kernel"]) / gap if gap > 0 else float("nan")
        harm = sum(c[k] < c["bic-kernel"] - HARM_DB for c in cases)
        worst = min(c[k] - c["bic-kernel"] for c in cases)
        bold = "**" if k.endswith("checked") else ""
        cells.append(f"{bold}{mean[k]:.2f}{bold} ({bold}{share:.0%}{bold}; {harm} harmed, worst {worst:+.2f})")
    return "| " + " | ".join([*cells, f"{mean['true']:.2f}"]) + " |"


def main() -> None:
    """Read the runs, apply the check, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="+", help="bench run folders of the same inputs")
    parser.add_argument("--seeds", required=True, help="data seeds looked at while choosing the check's thresholds, e.g. 1,2")
    parser.add_argument("--unseen", default="", help="data seeds not looked at before this report")
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    seen = {int(s) for s in args.seeds.split(",") if s}
    unseen = {int(s) for s in args.unseen.split(",") if s}
    found = {(seed, image): rows for (seed, image), rows in sorted(rows_of(args.run).items()) if seed in seen | unseen}
    estimated = [r for r in ("auto", "kernelgan") if any(r in rows for rows in found.values())]
    needed = set(REQUIRED) - {"auto"} | set(estimated)
    missing = sorted(f"{seed}/{image}" for (seed, image), rows in found.items() if not needed <= set(rows))
    cases = []
    for (seed, image), rows in found.items():
        if not needed <= set(rows):
            continue
        case = {"seed": seed, "image": image, **{k: float(rows[k]["psnr"]) for k in needed}}
        for r in estimated:
            case[f"{r}-checked"], case[f"{r}-reading"] = with_check(rows, r)
        cases.append(case)
    blind = tuple(k for r in estimated for k in (r, f"{r}-checked"))
    names = {"auto": "`--kernel auto`", "kernelgan": "KernelGAN"}
    lines = result_header("`--kernel auto` with its do-no-harm check, over kernel draws (issue #19)")
    lines += [
        "", f"Runs: {', '.join(f'`{r}`' for r in args.run)}. Each row: mean Y-PSNR (dB); for the estimated-kernel "
        "rows the share of the bicubic-kernel → true-kernel gap recovered and the images more than "
        f"{HARM_DB} dB under bicubic-kernel ZSSR. The check (`zssr.kernel_estimation.kernel_harm`) falls back where "
        f"the estimated-kernel output's edges read under OVERSHARP_SIGMA = {OVERSHARP_SIGMA} px or its fine detail is "
        f"at least OVERAMPLIFIED_GAIN = {OVERAMPLIFIED_GAIN:g}× that of bicubic interpolation.", "",
        "| data seed | images | bicubic | ZSSR, bicubic kernel | "
        + " | ".join(f"{names[r]}, no check | {names[r]} (check)" for r in estimated) + " | ZSSR, true kernel |",
        "|" + "---|" * (5 + len(blind)),
    ]
    for seed in sorted(seen | unseen):
        mine = [c for c in cases if c["seed"] == seed]
        if mine:
            lines.append(summary(f"{seed}{' (unseen)' if seed in unseen else ''}", mine, blind))
    for label, chosen in ((f"all looked-at seeds {sorted(seen)}", seen), ("all", seen | unseen)):
        mine = [c for c in cases if c["seed"] in chosen]
        if mine and (chosen != seen or unseen):
            lines.append(summary(label, mine, blind))
    if missing:
        lines += ["", f"Left out (a row missing): {', '.join(missing)}."]
    lines += ["", "Per image (Δ against bicubic-kernel ZSSR; sharpness: the estimated-kernel output's edges, px; "
              "gain: its fine detail over bicubic interpolation's; fell back: which trace sent it back, "
              "edges or gain):", "",
              "| data seed | image | " + " | ".join(f"{names[r]} Δ | checked Δ | sharpness | gain | fell back"
                                                   for r in estimated)
              + " | true-kernel Δ |", "|" + "---|" * (3 + 5 * len(estimated))]
    for c in cases:
        cells = [str(c["seed"]), c["image"]]
        for r in estimated:
            reading = c[f"{r}-reading"]
            cells += [f"{c[r] - c['bic-kernel']:+.2f}", f"{c[f'{r}-checked'] - c['bic-kernel']:+.2f}",
                      "–" if reading.sharpness is None else f"{reading.sharpness:.2f}",
                      "–" if reading.gain is None else f"{reading.gain:.1f}",
                      reading.trace or ""]
        lines.append("| " + " | ".join([*cells, f"{c['true'] - c['bic-kernel']:+.2f}"]) + " |")
    lines += [""] + args.note if args.note else []
    write_result(args.out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
