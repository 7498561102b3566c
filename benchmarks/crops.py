"""How much of each HR father is off-image black: the authors' crop placement vs ours.

The authors place affine crops without re-centring (notes §2.1), so part of many
fathers is zero fill. zssr places every crop inside the transformed source unless
`legacy_crops=True`. Measured on real photos at several sizes, 2000 fathers each.

Usage: python benchmarks/crops.py [--fathers 2000]
Writes benchmarks/results/crops.md.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch
from skimage import data

from machine import result_header, write_result
from zssr.config import PRESETS
from zssr.examples import FatherSampler, FatherSource


def _stats(config, image: torch.Tensor, n: int) -> tuple[float, float, float]:
    sampler = FatherSampler(config, (min(128, image.shape[-2]), min(128, image.shape[-1])), np.random.default_rng(0))
    src = [FatherSource(image, 1.0)]
    fracs = np.array([float((sampler.sample(src) < 1e-3).all(dim=1).float().mean()) for _ in range(n)])
    return float(fracs.mean()), float((fracs > 0).mean()), float((fracs > 0.5).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fathers", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "crops.md")
    args = parser.parse_args()
    photo = data.astronaut().astype(np.float32) / 255.0
    photo = 0.05 + 0.9 * photo  # no true-black pixels: any zero is fill
    sizes = [(125, 180), (256, 256), (512, 512)]
    lines = [
        *result_header("Off-image (black) fill in HR fathers: authors' placement vs zssr's"),
        f"{args.fathers} fathers per row from the `ideal` preset (5% as-is, 45% no-interp, 50% affine),",
        "astronaut photo resized to each size, values mapped to [0.05, 0.95] so zero means fill.",
        "",
        "| input (H×W) | crops | mean black fraction | fathers with any black | fathers > half black |",
        "|---|---|---|---|---|",
    ]
    for h, w in sizes:
        img = torch.nn.functional.interpolate(
            torch.from_numpy(photo).permute(2, 0, 1)[None], size=(h, w), mode="area"
        )
        for legacy in (True, False):
            cfg = dataclasses.replace(PRESETS["ideal"], legacy_crops=legacy)
            mean, anyb, half = _stats(cfg, img, args.fathers)
            label = "authors (`legacy_crops=True`)" if legacy else "zssr default"
            lines.append(f"| {h}×{w} | {label} | {mean:.3f} | {anyb:.3f} | {half:.3f} |")
    lines += [
        "",
        "Over affine fathers alone the authors' fill is about twice the mean above (half the draws are",
        "affine), matching the ≈25–39% the reference notes simulated from the original code.",
        "The few 'black' pixels left in zssr's fathers (at most 3 per father) are not fill: they are",
        "bicubic (a = −0.75) undershoot at dark edges, clipped to 0 like the authors' warp output.",
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
