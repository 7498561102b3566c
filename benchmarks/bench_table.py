"""The paper-style table of a ``zssr bench`` run folder, from its per-image records alone.

Why: a run cut by its time limit (the GPU script's phases are) writes no ``table.md``;
its finished images are all on disk as JSON. This rebuilds the table from them with
``zssr.bench.report`` (the harness's own summary and paper numbers) and says how
complete each cell is (images × seeds done).

Usage: python benchmarks/bench_table.py RUN_FOLDER [RUN_FOLDER ...] --out FILE [--title T] [--command C ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zssr.bench.methods import parse_method
from zssr.bench.report import column_headers, summarize, table_markdown
from zssr.bench.runner import _record_fields, condition_of


def main() -> None:
    """Read the records, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default="ZSSR benchmark")
    parser.add_argument("--command", action="append", default=[], help="a command behind the runs (listed)")
    parser.add_argument("--note", action="append", default=[], help="a line added under the table")
    parser.add_argument("--by", default=None, help="also a table per value of this input field (e.g. kind: the "
                        "degradation drawn for each image), means over every image and seed, Δ against bicubic")
    args = parser.parse_args()
    records, devices, raw = [], {}, []
    for run in args.runs:
        for path in sorted(run.glob("runs/*/*/*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            records.append(_record_fields(data, resumed=True))
            raw.append(data)
            devices.setdefault(data["method"], set()).add(data["device"])
    conditions = sorted({condition_of(r) for r in records}, key=lambda c: (c.degradation, c.dataset, c.scale, c.variant, c.data_seed))
    labels = list(dict.fromkeys(r.method for r in sorted(records, key=lambda r: (r.method != "bicubic", r.method))))
    specs = [parse_method(label) for label in labels]
    summary = summarize(records, conditions, specs)
    table = table_markdown(summary, conditions, specs).replace("# ZSSR benchmark", f"# {args.title}", 1)
    lines = [table.rstrip("\n"), "", "Cells done (images × seeds, mean seconds per image, mean iterations):", "",
             "| method | " + " | ".join(column_headers(conditions)) + " |", "|---|" + "---|" * len(conditions)]
    index = {(r.method, r.dataset, r.scale, r.degradation, r.variant, r.data_seed): r for r in summary}
    for spec in specs:
        cells = []
        for c in conditions:
            row = index.get((spec.label, c.dataset, c.scale, c.degradation, c.variant, c.data_seed))
            if row is None:
                cells.append("–")
                continue
            its = f", {row.iterations:.0f} it." if row.iterations is not None else ""
            cells.append(f"{row.images} × {row.seeds}, {row.seconds:.1f} s{its}")
        lines.append(f"| `{spec.label}` | " + " | ".join(cells) + " |")
    lines += ["", "Devices: " + "; ".join(f"`{m}` {', '.join(sorted(d))}" for m, d in devices.items())]
    if args.by:
        lines += _by_input(raw, args.by, [spec.label for spec in specs])
    if args.command:
        lines += ["", "Commands:", ""] + [f"- `{c}`" for c in args.command]
    lines += [""] + [n for n in args.note] if args.note else []
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text, end="")


def _by_input(raw: list[dict], key: str, labels: list[str]) -> list[str]:
    """Mean Y-PSNR per method, data set and value of ``input[key]`` (and all values), over images and data seeds."""
    lines = ["", f"Per data set and `{key}` (mean Y-PSNR over every image and data seed; Δ against `bicubic` on the "
             "same images; n = image × data seed pairs):"]
    for dataset in sorted({d["dataset"] for d in raw}):
        rows = [d for d in raw if d["dataset"] == dataset]
        groups = sorted({str(d["input"].get(key)) for d in rows}) + ["all"]
        lines += ["", f"{dataset}:", "", "| method | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
        for label in labels:
            cells = []
            for g in groups:
                chosen = [d for d in rows if g == "all" or str(d["input"].get(key)) == g]
                mine = {(d["condition"], d["image"], d["seed"]): d["psnr"] for d in chosen if d["method"] == label}
                base = {(d["condition"], d["image"]): d["psnr"] for d in chosen if d["method"] == "bicubic"}
                if not mine:
                    cells.append("–")
                    continue
                mean = sum(mine.values()) / len(mine)
                pairs = [v - base[(c, i)] for (c, i, _), v in mine.items() if (c, i) in base]
                delta = f", Δ {sum(pairs) / len(pairs):+.2f}" if pairs and label != "bicubic" else ""
                cells.append(f"{mean:.2f}{delta} (n={len(mine)})")
            lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
