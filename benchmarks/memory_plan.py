"""Peak memory of a ZSSR run, measured, against the plan ``zssr.limits.plan_run`` refuses runs by.

Each case runs ``upscale_tensor`` (1 training iteration: the peak is at inference, whose
size does not depend on the iteration count; 2 back-projections per step, same reason)
and the output's conversion ``to_array`` in a fresh process on the CPU. The peak is
``VmHWM`` (reset through ``/proc/self/clear_refs`` after a warm-up) minus the resident
memory at the reset, so the Python/torch runtime itself is not counted; the plan counts
it in its fixed allowance.

Usage: python benchmarks/memory_plan.py [--threads 2] [--baseline-src /tmp/old16/src]
(Linux: reads /proc/self/status). ``--baseline-src`` also measures each case with the
package found there (e.g. ``git archive c1e5e65 src | tar -x -C /tmp/old16``).
Writes benchmarks/results/memory_plan.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

#: (H, W, C, step(s), preset, net width): the ensemble shapes (8 variants, 4 for anisotropic
#: factors, 1 without ensemble), gray and RGB, one jump and the gradual preset's 6 steps. The
#: net's width only changes the fixed part (a tile's activations), so the large cases use a
#: width-8 net to run in minutes; the first case has the real width 64.
CASES = [
    (200, 200, 3, "4", "ideal", 64),
    (500, 500, 3, "4", "ideal", 8),
    (500, 500, 1, "4", "ideal", 8),
    (600, 400, 3, "2x3", "ideal", 8),
    (500, 500, 3, "4", "kernel", 8),
    (250, 250, 3, "4", "gradual", 8),
]


def _status(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(field + r":\s+(\d+)", text).group(1)) * 1024


def run_one(h: int, w: int, c: int, scale: str, preset: str, width: int, threads: int) -> dict:
    """Measure one case in this process (called in a fresh subprocess)."""
    import torch

    from zssr.config import resolve_config
    from zssr.io import to_array
    from zssr.pipeline import parse_scale, plan_steps, upscale_tensor

    try:
        from zssr.limits import plan_run
    except ImportError:  # a baseline checkout from before the plan existed
        plan_run = None

    torch.set_num_threads(threads)
    steps = parse_scale(scale)
    config = resolve_config(preset, max_iterations=1, width=width)
    if len(steps) == 1:
        steps = plan_steps(steps[0], config)
    config = resolve_config(preset, max_iterations=1, width=width, back_projection_iters=(2,) * len(steps))
    x = torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(0))
    upscale_tensor(torch.rand(1, c, 16, 16), [(2.0, 2.0)], config=config, device="cpu")  # warm-up
    Path("/proc/self/clear_refs").write_text("5")
    base = _status("VmRSS")
    start = time.perf_counter()
    result = upscale_tensor(x, steps, config=config, device="cpu")
    array = to_array(result.image)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM") - base
    row = {
        "case": f"{h}×{w}×{c} ×{scale} {preset}" + ("" if width == 64 else f", width {width}"), "steps": len(steps), "output": f"{array.shape[0]}×{array.shape[1]}",
        "pixels": array.shape[0] * array.shape[1], "peak": peak, "seconds": seconds,
    }
    if plan_run is not None:
        plan = plan_run((h, w), c, steps, config=config, device="cpu")
        row.update(plan=plan.peak_bytes, plan_images=plan.peak_bytes - plan.fixed_bytes, values=plan.values_per_pixel)
    return row


def main() -> None:
    """Run every case in its own process and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline-src", metavar="DIR", help="also measure the package in DIR (PYTHONPATH)")
    parser.add_argument("--cases", type=int, default=len(CASES), metavar="N", help="only the first N cases")
    parser.add_argument("--one", nargs=6, metavar=("H", "W", "C", "SCALE", "PRESET", "WIDTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        h, w, c, scale, preset, width = args.one
        print(json.dumps(run_one(int(h), int(w), int(c), scale, preset, int(width), args.threads)))
        return

    from machine import result_header, write_result

    def measure(case: tuple, src: str | None) -> dict:
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([src, str(Path(__file__).parent)])
        out = subprocess.run(
            [sys.executable, __file__, "--threads", str(args.threads), "--one", *map(str, case)],
            check=True, capture_output=True, text=True, env=env,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(row, file=sys.stderr)
        return row

    cases = CASES[: args.cases]
    rows = [measure(case, None) for case in cases]
    baseline = [measure(case, args.baseline_src) for case in cases] if args.baseline_src else None
    lines = result_header("Peak memory of a run vs the plan zssr.limits refuses runs by")
    lines += [
        f"CPU, {args.threads} torch threads; 1 training iteration and 2 back-projections per step (the peak is at "
        "inference, independent of both); peak = VmHWM − resident memory after a warm-up run.",
        "The plan's peak includes a fixed allowance (net, Adam, crops, one tile of width-64 activations: "
        f"{(rows[0]['plan'] - rows[0]['plan_images']) / 1e6:.0f} MB on the CPU) on top of the images it counts; "
        "the images' share grows with the output, so the large cases show the per-pixel model.",
        "",
        "| case | steps | output | values/px/ch (plan) | measured peak (MB) | plan, images only (MB) | plan (MB) "
        "| plan / measured | seconds |" + (" baseline peak (MB) |" if baseline else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if baseline else ""),
    ]
    for i, r in enumerate(rows):
        lines.append(
            f"| {r['case']} | {r['steps']} | {r['output']} | {r['values']} | {r['peak'] / 1e6:.0f} | "
            f"{r['plan_images'] / 1e6:.0f} | {r['plan'] / 1e6:.0f} | {r['plan'] / r['peak']:.2f} | {r['seconds']:.0f} |"
            + (f" {baseline[i]['peak'] / 1e6:.0f} |" if baseline else "")
        )
    worst = min(r["plan"] / r["peak"] for r in rows)
    lines += ["", f"The plan is above the measured peak in every case (smallest ratio {worst:.2f}): a run it accepts fits."]
    if baseline:
        lines.append(
            f"Baseline: the package in `{args.baseline_src}` (before the memory fixes: the 8 outputs stacked twice, "
            "sorted with int64 indices, the net on 2-megapixel tiles of 64 channels)."
        )
    write_result(Path(__file__).with_name("results") / "memory_plan.md", lines)


if __name__ == "__main__":
    main()
