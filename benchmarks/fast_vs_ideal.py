"""The `fast` preset's PSNR/time trade-off against `ideal`, Set5 ×2.

Quality: `fast` is run on this CPU by the harness; `ideal` comes from the GPU session
(`results/gpu_h200/table1_set5`, same inputs, same seed, same code path). Time on this CPU:
`fast` is measured; `ideal`'s is estimated as its iteration count (from the GPU run: the
LR policy decides it, not the device) times the CPU seconds per iteration that the same
harness run measured for `fast`, plus `fast`'s non-training overhead per image.

Usage:
    zssr bench --dataset Set5 --scale 2 --method bicubic --method zssr:preset=fast --device cpu \\
        --out bench-runs/cpu_fast_set5
    python benchmarks/fast_vs_ideal.py bench-runs/cpu_fast_set5/results.csv
Writes benchmarks/results/fast_vs_ideal.md.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from machine import read_results_csv, result_header, write_result

HERE = Path(__file__).parent


def _rows(path: Path, method: str) -> dict[str, dict[str, str]]:
    return {image: row for (m, image), row in read_results_csv(path).items() if m == method}


def main() -> None:
    fast = _rows(Path(sys.argv[1]), "zssr:preset=fast")
    ideal = _rows(HERE / "results" / "gpu_h200" / "table1_set5" / "results.csv", "zssr:preset=ideal")
    bicubic = _rows(HERE / "results" / "gpu_h200" / "table1_set5" / "results.csv", "bicubic")
    speed = (HERE / "results" / "training_speed.md").read_text(encoding="utf-8")
    per_it = float(speed.split("zssr train_scale_step")[1].split("|")[1])
    lines = [
        *result_header("`fast` vs `ideal` on Set5 ×2 (Y-PSNR/SSIM, seed 0)"),
        f"CPU seconds per training iteration (from `training_speed.md`): {per_it:.3f}.",
        "",
        "| image | bicubic | fast PSNR/SSIM | fast iterations | fast CPU s (measured) | ideal PSNR/SSIM | ideal iterations | ideal CPU s (estimated) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fp, ip, ft, it_ = [], [], [], []
    for name in sorted(fast):
        f, i, b = fast[name], ideal[name], bicubic[name]
        f_s = float(f["seconds"])
        overhead = f_s - int(f["iterations"]) * per_it
        i_s = int(i["iterations"]) * per_it + max(overhead, 0.0)
        fp.append(float(f["psnr"]))
        ip.append(float(i["psnr"]))
        ft.append(f_s)
        it_.append(i_s)
        lines.append(
            f"| {name} | {float(b['psnr']):.2f} | {float(f['psnr']):.2f}/{float(f['ssim']):.4f} | {f['iterations']} | "
            f"{f_s:.0f} | {float(i['psnr']):.2f}/{float(i['ssim']):.4f} | {i['iterations']} | {i_s:.0f} |"
        )
    lines += [
        f"| **mean** | | **{statistics.fmean(fp):.2f}** | | **{statistics.fmean(ft):.0f}** | **{statistics.fmean(ip):.2f}** | | "
        f"**{statistics.fmean(it_):.0f}** |",
        "",
        f"`fast` keeps {statistics.fmean(fp) - statistics.fmean([float(bicubic[n]['psnr']) for n in fast]):.2f} dB of "
        f"`ideal`'s {statistics.fmean(ip) - statistics.fmean([float(bicubic[n]['psnr']) for n in fast]):.2f} dB gain over "
        f"bicubic at {statistics.fmean(ft) / statistics.fmean(it_):.0%} of its CPU time.",
    ]
    write_result(HERE / "results" / "fast_vs_ideal.md", lines)


if __name__ == "__main__":
    main()
