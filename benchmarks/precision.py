"""Set5/Set14 ×2 `fast`: float32 vs bfloat16 (``Config.precision``) and the code before, Y-PSNR per image and mean.

Reads ``zssr bench`` run folders (their per-image JSON files) and writes one table:
each method's Y-PSNR per image, the means per data set, and seconds per image. The
runs themselves are ``zssr bench`` commands, given in the result file.

Usage: python benchmarks/precision.py --runs LABEL=FOLDER:METHOD [--runs ...] --command "..." [--command ...]
Writes benchmarks/results/precision.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from machine import result_header, write_result


def _load(folder: Path, method: str) -> dict[tuple[str, str], dict[str, float]]:
    found: dict[tuple[str, str], dict[str, float]] = {}
    for path in sorted(folder.glob("runs/*/*/*.json")):
        record = json.loads(path.read_text())
        if record.get("method") == method and record.get("seed") == 0:
            found[(record["dataset"], record["image"])] = {"psnr": record["psnr"], "seconds": record["seconds"]}
    return found


def main() -> None:
    """Load the runs, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", action="append", required=True, help="LABEL=FOLDER:METHOD, e.g. 'float32=runs/a:zssr:preset=fast'")
    parser.add_argument("--command", action="append", default=[], help="the zssr bench command behind a folder")
    parser.add_argument("--note", action="append", default=[], help="a line to add under the table")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "precision.md")
    args = parser.parse_args()
    runs: dict[str, dict[tuple[str, str], dict[str, float]]] = {}
    for spec in args.runs:
        label, rest = spec.split("=", 1)
        folder, method = rest.split(":", 1)
        runs[label] = _load(Path(folder), method)
    labels = list(runs)
    images = sorted(set.intersection(*(set(r) for r in runs.values())))
    lines = [*result_header("`fast` ×2 on Set5 and Set14: float32 vs bfloat16, and the code before"), "Runs:", ""]
    lines += [f"- `{c}`" for c in args.command]
    lines += ["", "Y-PSNR (dB), seed 0, SelfExSR LR inputs; seconds per image in brackets.", "",
              "| data set | image | " + " | ".join(labels) + " |", "|---|---|" + "---:|" * len(labels)]
    for ds, image in images:
        cells = [f"{runs[lab][(ds, image)]['psnr']:.3f} ({runs[lab][(ds, image)]['seconds']:.0f} s)" for lab in labels]
        lines.append(f"| {ds} | {image} | " + " | ".join(cells) + " |")
    lines += ["", "| data set | " + " | ".join(f"{lab}: mean Y-PSNR, median s" for lab in labels) + " |",
              "|---|" + "---:|" * len(labels)]
    for ds in sorted({d for d, _ in images}):
        keys = [k for k in images if k[0] == ds]
        cells = []
        for lab in labels:
            mean = statistics.fmean(runs[lab][k]["psnr"] for k in keys)
            secs = statistics.median(runs[lab][k]["seconds"] for k in keys)
            cells.append(f"{mean:.3f}, {secs:.0f} s")
        lines.append(f"| {ds} ({len(keys)} images) | " + " | ".join(cells) + " |")
    lines += [""]
    base = labels[0]
    for lab in labels[1:]:
        for ds in sorted({d for d, _ in images}):
            keys = [k for k in images if k[0] == ds]
            delta = statistics.fmean(runs[lab][k]["psnr"] - runs[base][k]["psnr"] for k in keys)
            spread = max(abs(runs[lab][k]["psnr"] - runs[base][k]["psnr"]) for k in keys)
            lines.append(f"- {ds}: `{lab}` − `{base}` = **{delta:+.3f} dB** mean (largest per-image difference {spread:.2f} dB)")
    lines += ["", *args.note]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
