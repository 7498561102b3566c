"""Per-iteration cost of zssr's training step against a bare PyTorch loop, same process.

The bare loop is the floor: the same ZSSRNet and Adam on pre-made 128² input/target
pairs (no father sampling, no son making, no interpolation, no LR policy, no
reconstruction test). zssr's step is `train_scale_step` as the pipeline runs it,
reconstruction test every 50 iterations included. Blocks of 50 iterations alternate
between the two so that machine drift hits both alike; medians of per-block means.

Usage: python benchmarks/training_speed.py [--blocks 6] [--threads 2] [--image PATH]
Writes benchmarks/results/training_speed.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from machine import result_header, write_result
from zssr.config import resolve_config
from zssr.examples import FatherSource
from zssr.network import ZSSRNet
from zssr.pipeline import upscale_tensor
from zssr.training import make_optimizer, train_scale_step

BLOCK = 50


def _photo(path: Path | None) -> torch.Tensor:
    if path is not None:
        from zssr.io import read_image, to_tensor

        return to_tensor(read_image(path).color)
    from skimage import data

    return torch.from_numpy(data.astronaut().astype(np.float32) / 255.0)[::2, ::2].permute(2, 0, 1)[None].contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--image", type=Path, default=None, help="LR image (default: astronaut at 256²)")
    parser.add_argument("--whole-image-preset", default="fast")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "training_speed.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = _photo(args.image)
    config = resolve_config("ideal", max_iterations=BLOCK)

    # bare loop: same net + optimizer, fixed tensors
    gen = torch.Generator().manual_seed(0)
    bare_net = ZSSRNet(3, generator=gen)
    bare_opt = make_optimizer(bare_net, config)
    pairs = [(torch.rand(1, 3, 128, 128, generator=gen), torch.rand(1, 3, 128, 128, generator=gen)) for _ in range(4)]

    def bare_block() -> float:
        t0 = time.perf_counter()
        for i in range(BLOCK):
            x, y = pairs[i % len(pairs)]
            loss = torch.mean(torch.abs(bare_net(x) - y))
            bare_opt.zero_grad(set_to_none=True)
            loss.backward()
            bare_opt.step()
        return (time.perf_counter() - t0) / BLOCK

    net = ZSSRNet(3, generator=torch.Generator().manual_seed(0))
    opt = make_optimizer(net, config)
    rng = np.random.default_rng(0)
    noise = torch.Generator().manual_seed(1)

    def zssr_block() -> float:
        t0 = time.perf_counter()
        h = train_scale_step(net, opt, image, [FatherSource(image, 1.0)], (2.0, 2.0), config=config, kernel=None,
                             rng=rng, generator=noise)
        return (time.perf_counter() - t0) / h.iterations

    bare_block(), zssr_block()  # warm-up
    bare, ours = [], []
    for _ in range(args.blocks):
        bare.append(bare_block())
        ours.append(zssr_block())
    b, o = statistics.median(bare), statistics.median(ours)

    t0 = time.perf_counter()
    res = upscale_tensor(image, [(2.0, 2.0)], config=resolve_config(args.whole_image_preset), seed=0, device="cpu")
    whole = time.perf_counter() - t0

    lines = [
        *result_header("Training iteration cost: zssr vs a bare PyTorch loop"),
        f"Crop 128, ×2, {args.threads} threads, input {tuple(image.shape[-2:])}; {args.blocks} alternating blocks "
        f"of {BLOCK} iterations; median of block means.",
        "",
        "| loop | s / iteration |",
        "|---|---|",
        f"| bare PyTorch (same net, Adam, fixed tensors) | {b:.4f} |",
        f"| zssr train_scale_step (fathers, sons, resize, LR policy, test every 50) | {o:.4f} |",
        f"| **ratio zssr / bare** (goal ≤ 1.15) | **{o / b:.3f}** |",
        "",
        f"Whole image, preset `{args.whole_image_preset}` (train + 8-way ensemble + back-projection), "
        f"{image.shape[-2]}×{image.shape[-1]} → ×2: {whole:.1f} s, {res.steps[0].iterations} iterations.",
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
