"""Issue #28, item 2: a trace of a too-wide kernel that scales with the kernel — fine detail one scale down.

The do-no-harm check's gain trace (``harm.high_frequency_gain``: the output's Laplacian energy over
bicubic interpolation's) has one fixed limit (20×), but the detail a correct kernel restores grows
with the kernel's width (3–50×), so a too-wide estimate of a narrow kernel stays under the limit:
DIV2KRK im_2 at full budget, 1.77 dB under bicubic-kernel ZSSR, read 17×.

Natural images look alike across scales, so what the output has over the LR should resemble what
the LR has over its own downscale *with the same kernel*. The reference here is that cross-scale
gain: ``G_cross(k) = high_frequency_gain(LR, downscale(LR, k))`` (LR↓ rounded to 8 bits), for the
kernel ``k`` the output was made with. The trace is ``G_out / G_cross(k)``: near or under 1 where
ZSSR restored what the kernel implies, above where it amplified more than the image has at the
next scale. ``G_cross`` of the true kernel is printed beside it.

Two sources, nothing trained here:

1. Set14 ×2 and ×4, DIV2KRK-style kernel draws, data seeds 0, 1, 2, 5 and 7, at 400 iterations:
   the output gains and Δ vs bicubic-kernel ZSSR of the `--kernel auto` rows are read from
   ``benchmarks/results/kernel_check*.md`` (their PNGs are gone); the LR inputs are remade by
   ``zssr.bench.prepare_inputs`` (deterministic) and the edge estimate recomputed (the estimator's
   numbers have not changed since those runs).
2. DIV2KRK dev images at the `kernel` preset's own budget, as ``run_div2krk_cpu.sh`` scores them
   (``benchmarks/results/div2krk/cpu/runs``): output gain and Δ from the records.

Usage: ZSSR_DATA=../shared/data PYTHONPATH=src python experiments/kernel_estimation/cross_gain.py
Writes results/cross_gain.md (a minute or two on one core).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
BENCHMARKS = HERE.parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from machine import result_header, write_result  # noqa: E402

from zssr.bench import prepare_inputs, resolve_dataset  # noqa: E402
from zssr.io import read_image, to_tensor  # noqa: E402
from zssr.kernel_estimation import MIN_SIZE, estimate_kernel_edges, high_frequency_gain  # noqa: E402
from zssr.kernels import align_kernel, downscale, load_kernel  # noqa: E402

HARM_DB = 0.3
DIV2KRK_RUNS = BENCHMARKS / "results" / "div2krk" / "cpu" / "runs" / "DIV2KRK_dev_x2_given-pairs_seed0"
AUTO = "zssr+estimated-kernel@check=true,estimator=edges,preset=kernel"


def cross_gain(lr: torch.Tensor, kernel: np.ndarray, factor: int) -> float:
    """The LR's fine detail over bicubic interpolation of its own downscale with ``kernel`` (8-bit)."""
    down = downscale(lr.double(), align_kernel(kernel, factor), factor).clamp(0.0, 1.0)
    down = (down * 255.0).round() / 255.0
    gain = high_frequency_gain(lr.float(), down.float())
    return float("nan") if gain is None else gain


def kernel_check_rows(path: Path) -> list[tuple[int, str, float, float]]:
    """(data seed, image, `--kernel auto` Δ, its output gain) from a kernel_check*.md per-image table."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 13 and re.fullmatch(r"\d+", cells[0]) and cells[5]:
            rows.append((int(cells[0]), cells[1], float(cells[2]), float(cells[5])))
    return rows


def set14_part(data_root: Path, cache: Path) -> list[str]:
    """Table lines for the Set14 draws (×2 and ×4) at 400 iterations."""
    lines = ["## Set14, DIV2KRK-style draws, 400 iterations (`--kernel auto` rows of kernel_check*.md)", "",
             "| scale | data seed | image | Δ vs bicubic-kernel | G_out | G_cross(estimate) | **G_out / G_cross** "
             "| G_cross(true) |", "|---|---|---|---|---|---|---|---|"]
    source = resolve_dataset("Set14", data_root)
    for scale, name in ((2, "kernel_check.md"), (4, "kernel_check_x4.md")):
        for seed, image, delta, gain in kernel_check_rows(BENCHMARKS / "results" / name):
            _, (item,) = prepare_inputs(source, scale=scale, degradation="gaussian-kernel", cache_root=cache,
                                        kernel_recipe="div2krk", data_seed=seed, images=[image])
            lr = to_tensor(read_image(item.lr).color)
            if item.kernel is None or min(lr.shape[-2:]) < MIN_SIZE:
                continue  # too small to estimate: those rows fell back before any estimate
            estimate = estimate_kernel_edges(lr, scale).kernel.numpy()
            est, true = cross_gain(lr, estimate, scale), cross_gain(lr, load_kernel(item.kernel).numpy(), scale)
            mark = " **harmed**" if delta < -HARM_DB else ""
            lines.append(f"| ×{scale} | {seed} | {image} | {delta:+.2f}{mark} | {gain:.1f} | {est:.1f} | "
                         f"{gain / est:.2f} | {true:.1f} |")
    return lines


def div2krk_part(data_root: Path) -> list[str]:
    """Table lines for the DIV2KRK images scored so far at the `kernel` preset's own budget."""
    lines = ["## DIV2KRK ×2 dev images, `kernel` preset's own budget (records of run_div2krk_cpu.sh)", "",
             "| image | Δ vs bicubic-kernel | G_out | G_cross(estimate) | **G_out / G_cross** | G_cross(true) |",
             "|---|---|---|---|---|---|"]
    for path in sorted((DIV2KRK_RUNS / AUTO).glob("*_seed0.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        base_path = DIV2KRK_RUNS / "zssr@preset=kernel" / path.name
        if not base_path.is_file():
            continue
        image = record["image"]
        delta = record["psnr"] - json.loads(base_path.read_text(encoding="utf-8"))["psnr"]
        gain = record["info"]["kernel_output_gain"]
        lr = to_tensor(read_image(data_root / "DIV2KRK_dev" / "lr_x2" / f"{image}.png").color)
        estimate = estimate_kernel_edges(lr, 2).kernel.numpy()
        number = image.rsplit("_", 1)[-1]
        true_kernel = load_kernel(data_root / "DIV2KRK_dev" / "gt_k_x2" / f"kernel_{number}.mat").numpy()
        est, true = cross_gain(lr, estimate, 2), cross_gain(lr, true_kernel, 2)
        mark = " **harmed**" if delta < -HARM_DB else ""
        lines.append(f"| {image} | {delta:+.2f}{mark} | {gain:.1f} | {est:.1f} | {gain / est:.2f} | {true:.1f} |")
    return lines


def main() -> None:
    """Both parts into results/cross_gain.md."""
    data_root = Path(os.environ.get("ZSSR_DATA", "../shared/data"))
    with tempfile.TemporaryDirectory() as cache:
        body = set14_part(data_root, Path(cache))
    lines = [*result_header("A cross-scale reference for the gain trace (issue #28, item 2)"),
             "G_out: the `--kernel auto` output's fine detail over bicubic interpolation (as the check reads it); "
             "G_cross(k): the LR's over its own ×s downscale with kernel k. Harmed: more than 0.3 dB under "
             "bicubic-kernel ZSSR.", "", *body, "", *div2krk_part(data_root)]
    write_result(HERE / "results" / "cross_gain.md", lines)


if __name__ == "__main__":
    main()
