"""Where the inference time goes: net passes, the input's interpolation, back-projection, median, tiles' halos.

One 1024×680 RGB input (scikit-image's ``retina``, as in ``scaling.py``), ×2, the ``fast``
preset's inference (8-way ensemble, 4 back-projections), with an untrained net (inference
costs the same whatever the weights), 2 threads, in float32 and bfloat16, and with the
CPU tile size before this change (``2**16``) and now. Each stage is timed by wrapping
the function the ensemble calls; repeats alternate between settings; medians.

Usage: PYTHONPATH=src python benchmarks/inference_profile.py [--repeats 3]
Writes benchmarks/results/inference_profile.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from machine import result_header, write_result
from skimage import data

import zssr.ensemble as ensemble
from zssr.network import ZSSRNet
from zssr.resize import imresize

STAGES = {"net passes": "forward_tiled", "back-projection": "back_project", "median": "pixelwise_median"}


def _input() -> torch.Tensor:
    retina = torch.from_numpy(data.retina().astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    top, left = (1411 - 850) // 2, (1411 - 1280) // 2
    hr = imresize(retina[..., top : top + 850, left : left + 1280], 1.6, size=(1360, 2048)).clamp(0, 1)
    return (torch.round(imresize(hr, 0.5, size=(680, 1024)).clamp(0, 1) * 255) / 255).contiguous()


def _profile(net: ZSSRNet, lr: torch.Tensor, tile: int) -> dict[str, float]:
    spent: dict[str, float] = defaultdict(float)
    originals: dict[str, Callable[..., Any]] = {}

    active: set[str] = set()

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if label in active:  # a recursive call (forward_tiled, one image of a batch): counted by the outer one
                return fn(*args, **kwargs)
            active.add(label)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t0
                active.discard(label)
        return wrapper

    for label, name in STAGES.items():
        originals[name] = getattr(ensemble, name)
        setattr(ensemble, name, timed(label, originals[name]))
    try:
        t0 = time.perf_counter()
        ensemble.super_resolve(net, lr, (2.0, 2.0), back_projection_iters=4, max_pixels=tile)
        total = time.perf_counter() - t0
    finally:
        for name, fn in originals.items():
            setattr(ensemble, name, fn)
    spent["total"] = total
    spent["other (interpolation of the input, transforms, copies)"] = total - sum(spent[k] for k in STAGES)
    return dict(spent)


def _halo_overhead(size: tuple[int, int], tile: int, halo: int = 8) -> float:
    """Pixels the net computes (tiles with their halos) per output pixel, for one ``size`` image."""
    h, w = size
    if h * w <= tile:
        return 1.0
    side = max(64, int(tile**0.5) - 2 * halo)
    done = 0
    for top in range(0, h, side):
        for left in range(0, w, side):
            th = min(top + side + halo, h) - max(top - halo, 0)
            tw = min(left + side + halo, w) - max(left - halo, 0)
            done += th * tw
    return done / (h * w)


def main() -> None:
    """Profile each setting, alternating, and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "inference_profile.md")
    args = parser.parse_args()
    torch.set_num_threads(2)
    lr = _input()
    settings = [("float32", 1 << 16), ("float32", 1 << 17), ("bfloat16", 1 << 17)]
    nets = {p: ZSSRNet(3, generator=torch.Generator().manual_seed(0), precision=p) for p in ("float32", "bfloat16")}
    runs: dict[tuple[str, int], list[dict[str, float]]] = {s: [] for s in settings}
    outputs: dict[str, torch.Tensor] = {}
    for _ in range(args.repeats):
        for precision, tile in settings:
            runs[(precision, tile)].append(_profile(nets[precision], lr, tile))
    with torch.no_grad():
        for precision, net in nets.items():
            outputs[precision] = ensemble.super_resolve(net, lr, (2.0, 2.0), back_projection_iters=4)
    labels = [*STAGES, "other (interpolation of the input, transforms, copies)", "total"]
    lines = [
        *result_header("Inference time by stage: 1024×680 → ×2, 8-way ensemble, 4 back-projections"),
        f"2 threads; {args.repeats} repeats alternating between the columns; median seconds. Net passes are "
        "the 8 variants' forward passes in tiles (each tile with an 8-pixel halo).",
        "",
        "| stage | " + " | ".join(f"{p}, tiles of 2^{tile.bit_length() - 1} px" for p, tile in settings) + " |",
        "|---|" + "---:|" * len(settings),
    ]
    for label in labels:
        cells = [f"{statistics.median(r[label] for r in runs[s]):.1f}" for s in settings]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    out_size = (1360, 2048)
    lines.append("| net pixels computed per output pixel (halos) | "
                 + " | ".join(f"{_halo_overhead(out_size, tile):.3f}" for _, tile in settings) + " |")
    diff = (outputs["bfloat16"] - outputs["float32"]).abs()
    lines += [
        "",
        f"bfloat16 vs float32 output of the same (untrained) net: largest difference {float(diff.max()) * 255:.2f}/255, "
        f"mean {float(diff.mean()) * 255:.3f}/255. The quality effect of bfloat16 on trained nets is in "
        "[precision.md](precision.md).",
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
