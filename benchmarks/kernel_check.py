"""`--kernel auto` with and without its do-no-harm check, over several DIV2KRK-style kernel draws (issue #19).

Reads ``zssr bench`` runs of Set14 (or any set) with ``--degradation gaussian-kernel`` holding the
rows ``bicubic``, bicubic-kernel ZSSR (``zssr:preset=ideal,…``), ``--kernel auto`` without the
check (``zssr+estimated-kernel:estimator=edges,check=false,…``, or a run made before the check
existed) and ``zssr+true-kernel``, all at the same budget. The row *with* the check is what
``--kernel auto`` now does: where the estimated-kernel output reads
:func:`~zssr.kernel_estimation.oversharpened` (measured here on its saved 8-bit PNG), the image
gets the bicubic-kernel ZSSR output of the same run, which is exactly the fallback's result
(same config, same seed). Per data seed and over all: mean Y-PSNR, the share of the
bicubic-kernel → true-kernel gap recovered, and how many images fall more than 0.3 dB under
bicubic-kernel ZSSR.

Usage: PYTHONPATH=../src python kernel_check.py RUN_FOLDER --seeds 1,2 [--unseen 5] --out results/kernel_check.md
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from machine import result_header, write_result

from zssr.io import read_image, to_tensor
from zssr.kernel_estimation import OVERSHARP_SIGMA, edge_sharpness

HARM_DB = 0.3


def rows_of(run: Path) -> dict[tuple[int, str], dict[str, dict]]:
    """(data seed, image) → {row: record}, rows ``bicubic``, ``bic-kernel``, ``auto``, ``true``."""
    out: dict[tuple[int, str], dict[str, dict]] = {}
    for path in run.glob("runs/*/*/*.json"):
        d = json.loads(path.read_text(encoding="utf-8"))
        m = d["method"]
        row = ("bicubic" if m == "bicubic" else "true" if m.startswith("zssr+true-kernel") else
               "auto" if m.startswith("zssr+estimated-kernel") else "bic-kernel" if m.startswith("zssr:") else None)
        if row is not None:
            out.setdefault((int(d["data_seed"]), d["image"]), {})[row] = d
    return out


def with_check(run: Path, rows: dict[str, dict]) -> tuple[float, float | None, bool]:
    """PSNR of ``--kernel auto`` with the check, the output's edge sharpness, and whether it fell back."""
    sharpness = edge_sharpness(to_tensor(read_image(run / rows["auto"]["sr"]).color))
    fell_back = sharpness is not None and sharpness < OVERSHARP_SIGMA
    return (rows["bic-kernel"]["psnr"] if fell_back else rows["auto"]["psnr"]), sharpness, fell_back


def summary(label: str, cases: list[dict]) -> str:
    """One table row: means, gap shares, harm counts of both auto rows."""
    mean = {k: statistics.fmean(c[k] for c in cases) for k in ("bicubic", "bic-kernel", "auto", "checked", "true")}
    gap = mean["true"] - mean["bic-kernel"]
    share = {k: (mean[k] - mean["bic-kernel"]) / gap if gap > 0 else float("nan") for k in ("auto", "checked")}
    harm = {k: sum(c[k] < c["bic-kernel"] - HARM_DB for c in cases) for k in ("auto", "checked")}
    worst = {k: min(c[k] - c["bic-kernel"] for c in cases) for k in ("auto", "checked")}
    return (f"| {label} | {len(cases)} | {mean['bicubic']:.2f} | {mean['bic-kernel']:.2f} | {mean['auto']:.2f} "
            f"({share['auto']:.0%}; {harm['auto']} harmed, worst {worst['auto']:+.2f}) | **{mean['checked']:.2f}** "
            f"(**{share['checked']:.0%}**; {harm['checked']} harmed, worst {worst['checked']:+.2f}) | {mean['true']:.2f} |")


def main() -> None:
    """Read the runs, apply the check, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", required=True, help="data seeds looked at while choosing OVERSHARP_SIGMA, e.g. 1,2")
    parser.add_argument("--unseen", default="", help="data seeds not looked at before this report")
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    seen = {int(s) for s in args.seeds.split(",") if s}
    unseen = {int(s) for s in args.unseen.split(",") if s}
    cases = []
    for (seed, image), rows in sorted(rows_of(args.run).items()):
        if len(rows) < 4 or seed not in seen | unseen:
            continue
        checked, sharpness, fell_back = with_check(args.run, rows)
        cases.append({"seed": seed, "image": image, "checked": checked, "sharpness": sharpness, "fell_back": fell_back,
                      **{k: float(v["psnr"]) for k, v in rows.items()}})
    lines = result_header("`--kernel auto` with its do-no-harm check, over kernel draws (issue #19)")
    lines += [
        "", f"Runs: `{args.run}`. Each row: mean Y-PSNR (dB); for the two `--kernel auto` rows the share of the "
        "bicubic-kernel → true-kernel gap recovered and the images more than "
        f"{HARM_DB} dB under bicubic-kernel ZSSR. The check falls back where the estimated-kernel output's edges read "
        f"under OVERSHARP_SIGMA = {OVERSHARP_SIGMA} px (chosen on data seeds {sorted(seen)}).", "",
        "| data seed | images | bicubic | ZSSR, bicubic kernel | `--kernel auto`, no check | `--kernel auto` (check) "
        "| ZSSR, true kernel |", "|---|---|---|---|---|---|---|",
    ]
    for seed in sorted(seen | unseen):
        mine = [c for c in cases if c["seed"] == seed]
        if mine:
            lines.append(summary(f"{seed}{' (unseen)' if seed in unseen else ''}", mine))
    for label, chosen in ((f"all looked-at seeds {sorted(seen)}", seen), ("all", seen | unseen)):
        mine = [c for c in cases if c["seed"] in chosen]
        if mine and (chosen != seen or unseen):
            lines.append(summary(label, mine))
    lines += ["", "Per image (Δ against bicubic-kernel ZSSR; sharpness: the auto output's edges, px):", "",
              "| data seed | image | auto Δ | checked Δ | true-kernel Δ | sharpness | fell back |", "|---|---|---|---|---|---|---|"]
    for c in cases:
        s = "–" if c["sharpness"] is None else f"{c['sharpness']:.2f}"
        lines.append(f"| {c['seed']} | {c['image']} | {c['auto'] - c['bic-kernel']:+.2f} | "
                     f"{c['checked'] - c['bic-kernel']:+.2f} | {c['true'] - c['bic-kernel']:+.2f} | {s} | "
                     f"{'yes' if c['fell_back'] else ''} |")
    lines += [""] + args.note if args.note else []
    write_result(args.out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
