"""Clean control for `real` with `degradation="auto"` (issue #17): what it reads on the paper's clean inputs.

For each Set5/Set14 ×2/×3/×4 LR input of the Table 1 protocol (SelfExSR files, ``$ZSSR_DATA``,
default ``../shared/data``), read the degradation as ``real`` does and plan its config. Where
the input reads clean, the planned config *equals* ``ideal`` (checked field by field here), so
its output is ``ideal``'s bit for bit and needs no run; the inputs read as degraded are listed,
with what was read. No ZSSR is trained by this script.

Usage: PYTHONPATH=src python benchmarks/real_auto_control.py
Writes benchmarks/results/real_auto_control.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np
from PIL import Image

from machine import result_header, write_result
from zssr.config import PRESETS
from zssr.degradation import plan_sons, read_degradation


def main() -> None:
    """Read every LR input, plan `real`, compare with `ideal`, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path(os.environ.get("ZSSR_DATA", "../shared/data")))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "real_auto_control.md")
    args = parser.parse_args()
    ideal = dataclasses.replace(PRESETS["ideal"], name="real")
    lines = [
        *result_header("`real` (auto) on the clean Table 1 inputs: read clean → exactly `ideal`"),
        "| data set | scale | inputs | read clean (planned config == `ideal`) | read as degraded (what was read) |",
        "|---|---|---:|---:|---|",
    ]
    for dataset in ("Set5", "Set14"):
        for scale in (2, 3, 4):
            folder = args.data_root / dataset / "SelfExSR" / f"image_SRF_{scale}"
            files = sorted(folder.glob("*_LR.png"))
            if not files:
                raise SystemExit(f"no LR files in {folder}")
            clean, degraded = 0, []
            for path in files:
                pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
                reading = read_degradation(pixels, path)
                planned = plan_sons(PRESETS["real"], reading)
                if reading.clean:
                    if planned != ideal:
                        raise SystemExit(f"{path}: read clean but planned {planned}, not ideal")
                    clean += 1
                else:
                    name = path.name.split("_SRF")[0]
                    degraded.append(f"{name}: {reading.describe()}")
            lines.append(f"| {dataset} | ×{scale} | {len(files)} | {clean} | {'; '.join(degraded) or '–'} |")
    lines += [
        "",
        "An input read as clean runs with exactly `ideal`'s configuration (compared field by field above), "
        "so `real` (auto) scores `ideal`'s Y-PSNR on it, bit for bit.",
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
