"""Per-image table of the #28 JPEG screen (``jpeg_full_budget.sh``): PSNR, Δ to bicubic, iterations.

Usage: python benchmarks/jpeg_full_budget_table.py RUN_FOLDER RESULTS_FOLDER
Writes RESULTS_FOLDER/table.md and copies the per-image JSON records (not the PNGs) beside it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from machine import result_header, write_result


def main() -> None:
    """Read the records of one run folder, write the table and keep the records."""
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(run.glob("runs/*/*/*.json"))]
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for path in sorted(run.glob("runs/*/*/*.json")):
        target = out / path.relative_to(run)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    lines = [
        *result_header("`real` at its own budget on once-JPEG inputs (issue #28 item 3)"),
        "Runs made by `bash benchmarks/jpeg_full_budget.sh` (input quality 45) and "
        "`bash benchmarks/jpeg_son_quality.sh` (30 and 75); their headers list the rows; the machine of each "
        "run is in its JSON record (the same CPU as above).", "",
        "Set5 ×2, SelfExSR LR saved as JPEG (Pillow, 4:2:0) then PNG; Y-PSNR (MATLAB protocol), seed 0. "
        "Each cell: PSNR · Δ vs bicubic · iterations. Run on one core beside the Table 1 queue: seconds not comparable.",
        "",
        "The `zssr:preset=real` rows ran before `real` changed: their sons were JPEG'd at the quality read (the "
        "input's). `jpeg_quality=Q,noise_std=0` at the input's own Q is that same config spelled out (these inputs "
        "read noise 0). `real` now compresses the sons at `zssr.degradation.son_jpeg_quality(Q)`: 78 for 30, 85 for "
        "45, 93 for 75 — the rows with those qualities are what `real` runs today.",
    ]
    for quality in sorted({r["input"]["quality"] for r in records}):
        mine = [r for r in records if r["input"]["quality"] == quality]
        bicubic = {r["image"]: r["psnr"] for r in mine if r["method"] == "bicubic"}
        methods = sorted({r["method"] for r in mine if r["method"] != "bicubic"})
        images = sorted({r["image"] for r in mine if r["method"] != "bicubic"} & set(bicubic))
        lines += [
            "", f"## Input JPEG quality {quality}", "",
            "| method | " + " | ".join(images) + " |", "|---|" + "---|" * len(images),
            "| bicubic | " + " | ".join(f"{bicubic[i]:.2f}" for i in images) + " |",
        ]
        for m in methods:
            cells = []
            for i in images:
                r = next((r for r in mine if r["method"] == m and r["image"] == i), None)
                cells.append("–" if r is None else f"{r['psnr']:.2f} · {r['psnr'] - bicubic[i]:+.2f} · {r['iterations']}")
            lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
    write_result(out / "table.md", lines)


if __name__ == "__main__":
    main()
