"""Accuracy of zssr.degradation's noise and JPEG estimators on synthetic truth (issue #17, item 1).

Images: scikit-image's photos (astronaut, coffee, chelsea, rocket, camera; looked at while
choosing the estimators and ``CLEAN_SIGMA``) and the Set5/Set14 ×2 LR inputs of the paper's
protocol (from ``$ZSSR_DATA``, default ``../shared/data``; not looked at before this run).
Noise: Gaussian, σ ∈ {0, 1, 2, 5, 10, 15, 20, 25}/255, added to the 8-bit image and rounded
back to 8 bits, noise seed 0 (``--noise-seed`` 1 is the unseen draw). JPEG: Pillow (libjpeg)
at qualities 20–95, read back from the file's tables and, from the decoded pixels alone, by
recompression.

Usage: PYTHONPATH=src python benchmarks/degradation_estimates.py [--noise-seed 0]
Writes benchmarks/results/degradation_estimates.md (``--out`` to change).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from machine import result_header, write_result
from zssr.degradation import CLEAN_SIGMA, estimate_noise, jpeg_quality, jpeg_quality_from_pixels

SIGMAS = (0, 1, 2, 5, 10, 15, 20, 25)
QUALITIES = (20, 30, 45, 60, 75, 85, 95)


def images() -> dict[str, dict[str, np.ndarray]]:
    """The image sets, 8-bit RGB (gray ones as 3 equal channels for JPEG, 1 channel for noise)."""
    sets: dict[str, dict[str, np.ndarray]] = {"scikit-image": {}}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        sets["scikit-image"][name] = np.asarray(getattr(data, name)())
    root = Path(os.environ.get("ZSSR_DATA", "../shared/data"))
    for dataset in ("Set5", "Set14"):
        folder = root / dataset / "SelfExSR" / "image_SRF_2"
        found = sorted(folder.glob("*_LR.png")) if folder.is_dir() else []
        if found:
            sets[f"{dataset} ×2 LR"] = {p.name.split("_SRF")[0]: np.asarray(Image.open(p)) for p in found}
    return sets


def noise_rows(sets: dict[str, dict[str, np.ndarray]], seed: int) -> list[str]:
    """Per set and σ: mean estimate, mean |error|, worst |error| (in /255 units), and how many read as clean."""
    rows = []
    rng = np.random.default_rng(seed)
    for set_name, imgs in sets.items():
        for sigma in SIGMAS:
            est, err, clean, seconds = [], [], 0, []
            for img in imgs.values():
                x = img.astype(np.float64) / 255
                noisy = np.round(np.clip(x + rng.normal(0, sigma / 255, x.shape), 0, 1) * 255) / 255
                start = time.perf_counter()
                e = float(estimate_noise(noisy).mean() * 255)
                seconds.append(time.perf_counter() - start)
                est.append(e)
                err.append(abs(e - sigma))
                clean += e < CLEAN_SIGMA * 255
            rows.append(f"| {set_name} | {sigma} | {statistics.mean(est):.2f} | {statistics.mean(err):.2f} | "
                        f"{max(err):.2f} | {clean}/{len(imgs)} | {statistics.median(seconds):.2f} |")
    return rows


def jpeg_rows(sets: dict[str, dict[str, np.ndarray]], folder: Path) -> list[str]:
    """Per set and quality: exact reads from tables, pixel estimates within ±2, and false positives on clean images."""
    rows = []
    for set_name, imgs in sets.items():
        for quality in QUALITIES:
            tables_ok, pixels_err, pixels_found = 0, [], 0
            for name, img in imgs.items():
                rgb = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
                buf = io.BytesIO()
                Image.fromarray(rgb[..., :3]).save(buf, "JPEG", quality=quality)
                path = folder / f"{name}.jpg"
                path.write_bytes(buf.getvalue())
                tables_ok += jpeg_quality(path).quality == quality
                decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64) / 255
                est = jpeg_quality_from_pixels(decoded)
                if est.compressed and est.quality is not None:
                    pixels_found += 1
                    pixels_err.append(abs(est.quality - quality))
            within = sum(e <= 2 for e in pixels_err)
            worst = max(pixels_err) if pixels_err else float("nan")
            rows.append(f"| {set_name} | {quality} | {tables_ok}/{len(imgs)} | {pixels_found}/{len(imgs)} | "
                        f"{within}/{len(imgs)} | {worst:g} |")
        false = sum(jpeg_quality_from_pixels(img.astype(np.float64) / 255).compressed for img in imgs.values())
        rows.append(f"| {set_name} | clean (PNG) | – | {false}/{len(imgs)} called JPEG | – | – |")
    return rows


def main() -> None:
    """Run both error tables and write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "degradation_estimates.md")
    args = parser.parse_args()
    sets = images()
    lines = result_header("Degradation estimators (zssr.degradation) against synthetic truth")
    lines += [
        f"Images: {', '.join(f'{k} ({len(v)})' for k, v in sets.items())}. Noise seed {args.noise_seed}. "
        f"`CLEAN_SIGMA` = {CLEAN_SIGMA * 255:.2f}/255. σ and errors in /255 units; estimate = mean over channels.",
        "",
        "## Noise level",
        "",
        "| images | true σ | mean estimate | mean abs. error | worst abs. error | read as clean | seconds (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *noise_rows(sets, args.noise_seed),
        "",
        "## JPEG quality",
        "",
        "| images | quality | exact from the file's tables | detected from pixels | pixels within ±2 | worst pixel error |",
        "|---|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        lines += jpeg_rows(sets, Path(tmp))
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
