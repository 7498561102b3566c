"""Wall time and peak memory of ZSSR ×2 ``fast`` against the input's size, before and after issue #13.

Inputs: one photo-sized picture made from scikit-image's ``retina`` (1411², the largest photo it
ships): its central 1280×850 region enlarged ×1.6 with MATLAB bicubic into a 2048×1360 "HR",
and that HR reduced ×0.5 into a 1024×680 LR (the issue's 1024×680 case, with a ground truth to
score). The smaller inputs are centre crops of that LR (128², 256², 512²); ``--large`` adds
2048×1360 (the HR itself as an input) and 4000×3000 (the HR enlarged, no ground truth).

Each run is a fresh process (``python -c``, 2 torch threads) importing ``zssr`` from the
tree given (this one, and ``--baseline-src`` for the code before), running
``upscale_tensor`` with the ``fast`` preset, seed 0, on the CPU; it reports training seconds
(with the reconstruction tests' share where the package records it), inference seconds
(the rest), the process's peak RSS, iterations, and Y-PSNR against the HR where there is
one. Baseline and this tree alternate per size (B A), so drift hits both.

Usage: PYTHONPATH=src python benchmarks/scaling.py --baseline-src /tmp/before/src [--large] [--sizes 256×256,1024×680]
       [--bf16 256×256,1024×680]  (also this tree with ``precision=bfloat16``)
Writes benchmarks/results/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from machine import result_header, write_result
from skimage import data

from zssr.metrics import psnr, rgb_to_y, shave
from zssr.resize import imresize

SRC = Path(__file__).resolve().parents[1] / "src"

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(2)
from zssr.config import resolve_config
from zssr.pipeline import upscale_tensor
x = torch.from_numpy(np.load(sys.argv[1]))
extra = {} if sys.argv[3] == "default" else {"precision": sys.argv[3]}
start = time.perf_counter()
result = upscale_tensor(x, [(2.0, 2.0)], config=resolve_config("fast", **extra), seed=0, device="cpu")
total = time.perf_counter() - start
np.save(sys.argv[2], result.image.numpy())
h = result.steps[0]
print(json.dumps({
    "total": total, "training": h.seconds, "tests": getattr(h, "test_seconds", None),
    "iterations": h.iterations, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def make_inputs(folder: Path, large: bool) -> dict[str, tuple[Path, np.ndarray | None]]:
    """The LR inputs (as 1×3×H×W float32 .npy) and, where one exists, the HR to score against."""
    retina = torch.from_numpy(data.retina().astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    top, left = (1411 - 850) // 2, (1411 - 1280) // 2
    hr = imresize(retina[..., top : top + 850, left : left + 1280], 1.6, size=(1360, 2048)).clamp(0, 1)
    hr = torch.round(hr * 255) / 255  # an 8-bit picture, as a photo file would be
    lr = torch.round(imresize(hr, 0.5, size=(680, 1024)).clamp(0, 1) * 255) / 255
    inputs: dict[str, tuple[Path, np.ndarray | None]] = {}

    def add(name: str, x: torch.Tensor, truth: torch.Tensor | None) -> None:
        path = folder / f"{name}.npy"
        np.save(path, x.numpy().astype(np.float32))
        inputs[name] = (path, None if truth is None else truth.numpy())

    for side in (128, 256, 512):
        t, lft = (680 - side) // 2, (1024 - side) // 2
        add(f"{side}×{side}", lr[..., t : t + side, lft : lft + side], None)
    add("1024×680", lr, hr)
    if large:
        add("2048×1360", hr, None)
        add("4000×3000", torch.round(imresize(hr, 3000 / 1360, size=(3000, 4000)).clamp(0, 1) * 255) / 255, None)
    return inputs


def run(src: Path, source: Path, out: Path, precision: str = "default") -> dict[str, float]:
    """One fresh process of ZSSR on ``source`` with the package in ``src`` (``precision``: a Config value, or default)."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", CHILD, str(source), str(out), precision], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def y_psnr(sr: np.ndarray, hr: np.ndarray) -> float:
    """Y-PSNR (MATLAB ``rgb2ycbcr`` Y, 2-pixel border shaved: the paper's protocol at ×2), via zssr.metrics."""
    return psnr(shave(rgb_to_y(torch.from_numpy(hr)), 2), shave(rgb_to_y(torch.from_numpy(sr)), 2))


def main() -> None:
    """Run every size with both trees and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, required=True, help="src/ of the code before (git archive)")
    parser.add_argument("--large", action="store_true", help="also 2048×1360 and 4000×3000 (this tree only)")
    parser.add_argument("--sizes", default=None, help="only these inputs, e.g. 256×256,1024×680 (default: all)")
    parser.add_argument("--bf16", default="", help="also run this tree with precision=bfloat16 on these inputs "
                        "(comma-separated, or 'all'); 'after' is this tree in float32")
    parser.add_argument("--only-bf16", action="store_true", help="run only the bfloat16 rows (--bf16)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scaling.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wanted = None if args.sizes is None else set(args.sizes.replace("x", "×").split(","))
        for name, (source, hr) in make_inputs(folder, args.large).items():
            if wanted is not None and name not in wanted:
                continue
            trees = [("after", SRC, "float32")] if name in ("2048×1360", "4000×3000") else [
                ("before", args.baseline_src, "default"), ("after", SRC, "float32")]
            bf16 = set(args.bf16.replace("x", "×").split(","))
            if "all" in bf16 or name in bf16:
                trees.append(("after, bfloat16", SRC, "bfloat16"))
            if args.only_bf16:
                trees = [t for t in trees if t[2] == "bfloat16"]
            for label, src, precision in trees:
                out = folder / f"{name}-{label}.npy"
                r = run(src, source, out, precision)
                r["psnr"] = y_psnr(np.load(out), hr) if hr is not None else float("nan")
                rows.append((name, label, r))
                print(name, label, r, flush=True)
    lines = result_header("ZSSR ×2 `fast` against the input size: wall time split and peak RSS, before and after")
    lines += [
        f"Baseline (`before`): the package in `{args.baseline_src}`; `after`: this tree. Fresh process per run, "
        "2 torch threads, CPU, seed 0; inputs from scikit-image's `retina` (see the script).",
        "",
        "| input | code | total (s) | training (s) | of which tests (s) | inference (s) | iterations | peak RSS (MB) "
        "| Y-PSNR vs HR (dB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label, r in rows:
        tests = "–" if r["tests"] is None else f"{r['tests']:.1f}"
        score = "–" if np.isnan(r["psnr"]) else f"{r['psnr']:.3f}"
        lines.append(
            f"| {name} | {label} | {r['total']:.1f} | {r['training']:.1f} | {tests} | {r['total'] - r['training']:.1f} "
            f"| {r['iterations']} | {r['peak_mb']:.0f} | {score} |"
        )
    totals = {(n, lab): r["total"] for n, lab, r in rows}
    lines += [""]
    for label in ("before", "after", "after, bfloat16"):
        if ("1024×680", label) in totals and ("256×256", label) in totals:
            lines.append(f"- `{label}`: 1024×680 takes {totals[('1024×680', label)] / totals[('256×256', label)]:.2f}× "
                         "the time of 256×256.")
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
