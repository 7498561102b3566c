"""Images per minute of a folder run: serial vs ``--jobs 2`` vs Ray with 2 workers, same session.

A folder of 16 crops of 128² from scikit-image's colour photos (astronaut, coffee, chelsea,
rocket; four each) is upscaled ×2 with the ``fast`` preset by ``python -m zssr upscale DIR
--out-dir OUT`` three times, one after the other: serially (torch's default thread count),
with ``--jobs 2`` (two worker processes, one thread each) and with ``--ray local`` (a Ray
cluster of this machine started for the run; one CPU and one thread per task, two tasks at
once on two cores). The wall time of each command (imports, worker and cluster start-up
included) gives images per minute; the ratios are against the serial run of the same
session. The 1-minute load average is sampled every 10 s during each run, so that a run
slowed by other processes on the machine is visible; a ``ps`` snapshot is taken before and
after.

Usage: python benchmarks/batch_throughput.py [--images 16] [--size 128] [--preset fast]
Writes benchmarks/results/batch_throughput.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from skimage import data

from machine import result_header, write_result
from zssr.io import write_image

SRC = Path(__file__).resolve().parents[1] / "src"
MODES = {"serial": [], "jobs2": ["--jobs", "2"], "ray2": ["--ray", "local", "--ray-cpus", "1"]}
LABELS = {"serial": "serial (1 process)", "jobs2": "`--jobs 2`", "ray2": "Ray, 2 workers (`--ray local`)"}


def make_crops(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` crops of ``size``² from four scikit-image colour photos, spread over each photo."""
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    per = -(-n // len(photos))
    paths = []
    for p, photo in enumerate(photos):
        h, w = photo.shape[:2]
        for k in range(per):
            if len(paths) == n:
                break
            y = int(round((h - size) * (0.2 + 0.6 * ((k // 2) % 2))))
            x = int(round((w - size) * (0.2 + 0.6 * (k % 2))))
            crop = photo[y:y + size, x:x + size].astype(np.float32) / 255.0
            path = folder / f"p{p}_c{k}.png"
            write_image(path, crop, bit_depth=8)
            paths.append(path)
    return paths


def _load_sampler(samples: list[float], stop: threading.Event) -> None:
    while not stop.wait(10.0):
        samples.append(os.getloadavg()[0])


def _ps() -> str:
    out = subprocess.run(["ps", "-eo", "pcpu,etime,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    return " / ".join(" ".join(line.split()) for line in out.splitlines()[1:6])


def run_mode(mode: str, inputs: Path, out: Path, args: argparse.Namespace) -> dict[str, object]:
    """One ``zssr upscale`` folder run; wall time and load samples."""
    command = [sys.executable, "-m", "zssr", "upscale", str(inputs), "-s", "2", "--preset", args.preset,
               "--device", "cpu", "--out-dir", str(out), "-q", *MODES[mode]]
    if args.max_iterations is not None:
        command += ["--max-iterations", str(args.max_iterations)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
               RAY_USAGE_STATS_ENABLED="0")
    samples: list[float] = [os.getloadavg()[0]]
    stop = threading.Event()
    sampler = threading.Thread(target=_load_sampler, args=(samples, stop), daemon=True)
    sampler.start()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed ({done.returncode}): {done.stderr[-2000:]}")
    digest = hashlib.sha256()
    for path in sorted(out.glob("*.png")):
        digest.update(path.read_bytes())
    return {"seconds": seconds, "load": samples, "digest": digest.hexdigest()[:12], "images": len(list(out.glob("*.png")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--max-iterations", type=int, default=None, help="cut the preset's budget (smoke tests only)")
    parser.add_argument("--modes", default="serial,jobs2,ray2")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "batch_throughput.md")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="zssr-batch-bench-") as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        make_crops(inputs, args.images, args.size)
        ps_before, load_before = _ps(), os.getloadavg()
        results = {}
        for mode in modes:
            results[mode] = run_mode(mode, inputs, Path(tmp) / mode, args)
            print(f"{mode}: {results[mode]['seconds']:.1f} s", file=sys.stderr, flush=True)
        ps_after, load_after = _ps(), os.getloadavg()

    title = f"Folder throughput: {args.images} crops of {args.size}², `{args.preset}`, serial vs `--jobs 2` vs Ray"
    lines = result_header(title)
    base = float(results[modes[0]]["seconds"])  # type: ignore[arg-type]
    lines += [
        f"Each row is one `python -m zssr upscale DIR --out-dir OUT -s 2 --preset {args.preset} --device cpu -q` "
        "run (wall time, start-up included), one after the other in one session; ratios against the first row.",
        "",
        "| mode | wall time | images/min | × first row | load avg (1 min) during: mean [min, max] | outputs sha256 |",
        "|---|---:|---:|---:|---|---|",
    ]
    for mode in modes:
        r = results[mode]
        seconds = float(r["seconds"])  # type: ignore[arg-type]
        load = list(r["load"])  # type: ignore[call-overload]
        lines.append(
            f"| {LABELS.get(mode, mode)} | {seconds:.0f} s | {60 * args.images / seconds:.2f} | {base / seconds:.2f} | "
            f"{statistics.mean(load):.2f} [{min(load):.2f}, {max(load):.2f}] | {r['digest']} |"
        )
    busy = max(max(list(r["load"])) for r in results.values())  # type: ignore[call-overload]
    lines += [
        "",
        f"Machine load: 1/5/15-min load average {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before, "
        f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after, on {os.cpu_count()} cores.",
        f"Top processes before: {ps_before}.",
        f"Top processes after: {ps_after}.",
        "",
        ("Other processes shared the machine during these runs (load above the 2 busy threads a run itself "
         "makes), so absolute numbers are pessimistic and the ratios carry noise."
         if busy > 2.5 else "The machine was otherwise idle (load at or below what the runs themselves make)."),
        "The serial run uses torch's default thread count; `--jobs 2` and Ray run one thread per image, so "
        "their outputs are identical to each other and differ from the serial run's in float rounding only "
        "(see docs/BATCH.md, 'Identical outputs').",
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
