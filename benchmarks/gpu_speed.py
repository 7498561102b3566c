"""Lone-run seconds per image, before and after the device engine, in one process (issue #14).

Set5 ×2 `ideal` on the paper's SelfExSR inputs; each image is run once per leg, the
legs alternating image by image (A B A B) so drift hits them alike. Legs:

- ``eager``: the code path before #14 (``training_engine=eager``): each example made
  on the host's schedule.
- ``graph``: the default on CUDA: fathers/sons on the device, the step a CUDA graph.
- ``graph-fp32``: ``graph`` with TF32 convolutions off (cuDNN's default is TF32 on).
- ``graph-bf16``: ``graph`` with ``precision=bfloat16``.

A warm-up run (not timed) pays CUDA/cuDNN start-up first. Seconds are the whole
``upscale_tensor`` call (training, tests, inference); PSNR is the paper's Y protocol.

Usage: python benchmarks/gpu_speed.py [--device cuda] [--legs eager,graph] [--limit N] [--set max_iterations=5]
Writes benchmarks/results/gpu_speed.md (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from machine import result_header, write_result
from zssr.bench.datasets import prepare_inputs, resolve_dataset
from zssr.bench.methods import _parse_value
from zssr.config import resolve_config
from zssr.io import read_image, to_tensor
from zssr.metrics import evaluate
from zssr.pipeline import plan_steps, upscale_tensor

LEGS = {
    "eager": ({"training_engine": "eager"}, True),
    "graph": ({"training_engine": "graph"}, True),
    "graph-fp32": ({"training_engine": "graph"}, False),
    "graph-bf16": ({"training_engine": "graph", "precision": "bfloat16"}, True),
}


def _run(lr: np.ndarray, hr: np.ndarray, config_fields: dict, tf32: bool, device: str, seed: int) -> dict:
    torch.backends.cudnn.allow_tf32 = tf32
    config = resolve_config("ideal", **config_fields)
    steps = plan_steps((2.0, 2.0), config)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = upscale_tensor(to_tensor(lr), steps, config=config, seed=seed, device=device)
    seconds = time.perf_counter() - start
    sr = np.clip(result.image[0].permute(1, 2, 0).numpy(), 0.0, 1.0)
    sr8 = np.round(sr * 255.0) / 255.0
    return {
        "seconds": seconds, "psnr": evaluate(hr, sr8, scale=2).psnr,
        "iterations": sum(h.iterations for h in result.steps),
        "engine": ",".join(sorted({h.engine for h in result.steps})),
        "fallback": next((h.capture_fallback for h in result.steps if h.capture_fallback), None),
    }


def main() -> None:
    """Run the legs over Set5 ×2, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--legs", default="eager,graph,graph-fp32,graph-bf16")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--set", action="append", default=[], help="a Config override for every leg, key=value")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu_speed.md")
    args = parser.parse_args()
    legs = args.legs.split(",")
    extra = {k: _parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    source = resolve_dataset("Set5", args.data_root)
    with tempfile.TemporaryDirectory() as cache:
        _, items = prepare_inputs(source, scale=2, degradation="bicubic", cache_root=cache, limit=args.limit)
        pairs = [(it.name, read_image(it.lr).color, read_image(it.hr).color) for it in items]
    warm = time.perf_counter()
    _run(pairs[0][1][:48, :48], pairs[0][2][:96, :96], {"max_iterations": 20, **extra}, True, args.device, 0)
    warm = time.perf_counter() - warm
    rows: dict[str, dict[str, dict]] = {leg: {} for leg in legs}
    for name, lr, hr in pairs:
        for leg in legs:
            fields, tf32 = LEGS[leg]
            rows[leg][name] = _run(lr, hr, {**fields, **extra}, tf32, args.device, args.seed)
            r = rows[leg][name]
            print(f"{leg:>11} {name:<10} {r['seconds']:7.2f} s {r['psnr']:.3f} dB {r['iterations']} it {r['engine']}"
                  + (f" fallback: {r['fallback']}" if r["fallback"] else ""), flush=True)
        # Rewritten after every image: a run cut by its time limit keeps what it measured.
        _write(args.out, rows, legs, [n for n, _, _ in pairs if n in rows[legs[-1]]], warm, args.seed)


def _write(out: Path, rows: dict[str, dict[str, dict]], legs: list[str], names: list[str], warm: float,
           seed: int) -> None:
    lines = [*result_header("Lone-run seconds per image on Set5 ×2 `ideal`: before (eager) and after (device engine)"),
             f"One process, legs alternating per image, seed {seed}; warm-up run first ({warm:.1f} s, not counted).",
             "Seconds: the whole run of one image (training, reconstruction tests, 8-way ensemble, back-projection).",
             "", "| image | " + " | ".join(f"{leg}: s, dB, it." for leg in legs) + " |", "|---|" + "---:|" * len(legs)]
    for name in names:
        cells = [f"{rows[leg][name]['seconds']:.2f}, {rows[leg][name]['psnr']:.3f}, {rows[leg][name]['iterations']}"
                 for leg in legs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    med = {leg: statistics.median(rows[leg][n]["seconds"] for n in names) for leg in legs}
    mean = {leg: statistics.fmean(rows[leg][n]["psnr"] for n in names) for leg in legs}
    lines += ["", f"Over {len(names)} images:", "",
              "| leg | median s / image | mean Y-PSNR | vs first leg: speed-up, ΔPSNR | engine |",
              "|---|---:|---:|---:|---|"]
    for leg in legs:
        engines = ",".join(sorted({rows[leg][n]["engine"] for n in names}))
        lines.append(f"| {leg} | {med[leg]:.2f} | {mean[leg]:.3f} | {med[legs[0]] / med[leg]:.2f}×, "
                     f"{mean[leg] - mean[legs[0]]:+.3f} | {engines} |")
    fallbacks = {rows[leg][n]["fallback"] for leg in legs for n in names if rows[leg][n]["fallback"]}
    if fallbacks:
        lines += ["", "Capture fell back: " + "; ".join(sorted(fallbacks))]
    write_result(out, lines)


if __name__ == "__main__":
    main()
