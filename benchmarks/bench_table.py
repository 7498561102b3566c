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
from zssr.bench.report import summarize, table_markdown
from zssr.bench.runner import _record_fields, condition_of


def main() -> None:
    """Read the records, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default="ZSSR benchmark")
    parser.add_argument("--command", action="append", default=[], help="a command behind the runs (listed)")
    parser.add_argument("--note", action="append", default=[], help="a line added under the table")
    args = parser.parse_args()
    records, devices = [], {}
    for run in args.runs:
        for path in sorted(run.glob("runs/*/*/*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            records.append(_record_fields(data, resumed=True))
            devices.setdefault(data["method"], set()).add(data["device"])
    conditions = sorted({condition_of(r) for r in records}, key=lambda c: (c.degradation, c.dataset, c.scale))
    labels = list(dict.fromkeys(r.method for r in sorted(records, key=lambda r: (r.method != "bicubic", r.method))))
    specs = [parse_method(label) for label in labels]
    summary = summarize(records, conditions, specs)
    table = table_markdown(summary, conditions, specs).replace("# ZSSR benchmark", f"# {args.title}", 1)
    lines = [table.rstrip("\n"), "", "Cells done (images × seeds, mean seconds per image, mean iterations):", "",
             "| method | " + " | ".join(c.column for c in conditions) + " |", "|---|" + "---|" * len(conditions)]
    index = {(r.method, r.dataset, r.scale, r.degradation): r for r in summary}
    for spec in specs:
        cells = []
        for c in conditions:
            row = index.get((spec.label, c.dataset, c.scale, c.degradation))
            if row is None:
                cells.append("–")
                continue
            its = f", {row.iterations:.0f} it." if row.iterations is not None else ""
            cells.append(f"{row.images} × {row.seeds}, {row.seconds:.1f} s{its}")
        lines.append(f"| `{spec.label}` | " + " | ".join(cells) + " |")
    lines += ["", "Devices: " + "; ".join(f"`{m}` {', '.join(sorted(d))}" for m, d in devices.items())]
    if args.command:
        lines += ["", "Commands:", ""] + [f"- `{c}`" for c in args.command]
    lines += [""] + [n for n in args.note] if args.note else []
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
