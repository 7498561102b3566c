"""Does the cross-scale estimator follow the true kernel? (KernelGAN's does not: kernelgan_ab.md.)

Runs :func:`crossscale.estimate_kernel_crossscale` (no width correction; it is
deterministic, so no seeds) on

- ``ab``: the controlled check of ``kernelgan_ab.py``: three scikit-image photos, each
  blurred ×2 by isotropic Gaussians σ = 0.6, 1.3, 2.2 px. √3/2 theory for the estimate's
  own σ: 0.52, 1.13, 1.91;
- ``heldout``: the nine scikit-image photos of ``kernel_seed_selection.py`` (``kernel_checks.HELDOUT``) with
  ``zssr bench``'s gaussian-kernel degradation (DIV2KRK recipe, data seed 0);
- ``Set14``: Table 2's own inputs (same degradation and seed).

For the last two it scores each estimate against the true kernel: its standard
deviation along the true minor and major axes over the true one (KernelGAN's √3/2
factor predicts 0.87), and the same spread/correlation table as the KernelGAN results.

Usage (from the repository root; about a minute per set on 2 CPU cores):
    PYTHONPATH=src python experiments/kernel_estimation/crossscale_tracking.py --sets ab,heldout,Set14 \
        [--data-root ../shared/data]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))  # machine, kernel_checks

from crossscale import estimate_kernel_crossscale  # noqa: E402
from kernel_checks import PHOTOS as AB_PHOTOS  # noqa: E402
from kernel_checks import SIGMAS as AB_SIGMAS  # noqa: E402
from kernel_checks import axis_ratios, blurred_lr, heldout_folder, own_widths  # noqa: E402
from kernel_seed_selection import tracking_table  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.bench import prepare_inputs, resolve_dataset  # noqa: E402
from zssr.io import read_image, to_tensor  # noqa: E402
from zssr.kernels import load_kernel  # noqa: E402


def _ab_one(job: tuple[str, float]) -> tuple[str, float, float, float, float]:
    name, sigma = job
    torch.set_num_threads(1)
    est = estimate_kernel_crossscale(blurred_lr(name, sigma), 2)
    return (name, sigma, *own_widths(est.kernel.numpy()), est.seconds)


def _set_one(job: tuple[str, str, str]) -> dict:
    name, lr_path, kernel_path = job
    torch.set_num_threads(1)
    est = estimate_kernel_crossscale(to_tensor(read_image(lr_path).color), 2)
    k, true = est.kernel.numpy(), load_kernel(kernel_path).numpy()
    minor, major = axis_ratios(k, true)
    return {"name": name, "own": own_widths(k), "true": own_widths(true), "minor": minor, "major": major,
            "seconds": est.seconds}


def _ab(jobs: int) -> list[str]:
    with ProcessPoolExecutor(jobs) as pool:
        rows = {(n, s): (lo, hi) for n, s, lo, hi, _ in pool.map(_ab_one, [(n, s) for n in AB_PHOTOS for s in AB_SIGMAS])}
    lines = ["", "## Controlled check: same photo, isotropic blur σ = 0.6 / 1.3 / 2.2 px", "",
             "Each cell: the estimate's own minor / major σ (px). √3/2 theory: "
             + ", ".join(f"σ {s} → {math.sqrt(3) / 2 * s:.2f}" for s in AB_SIGMAS) + ".", "",
             "| photo | " + " | ".join(f"true σ = {s}" for s in AB_SIGMAS) + " |", "|---|" + "---|" * len(AB_SIGMAS)]
    for n in AB_PHOTOS:
        lines.append(f"| {n} | " + " | ".join(f"{rows[(n, s)][0]:.2f} / {rows[(n, s)][1]:.2f}" for s in AB_SIGMAS) + " |")
    return lines


def _dataset(name: str, data_root: str, jobs: int, tmp: Path) -> list[str]:
    source = resolve_dataset(heldout_folder(tmp / "heldout")) if name == "heldout" else resolve_dataset(name, data_root)
    _, inputs = prepare_inputs(source, scale=2, degradation="gaussian-kernel", cache_root=tmp / f"cache_{name}")
    with ProcessPoolExecutor(jobs) as pool:
        rows = list(pool.map(_set_one, [(i.name, str(i.lr), str(i.kernel)) for i in inputs]))
    lines = ["", f"## {name}: DIV2KRK-recipe kernels (data seed 0), {len(rows)} images", "",
             "| image | true own σ minor / major | estimate own σ minor / major | ratio along true minor / major |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['true'][0]:.2f} / {r['true'][1]:.2f} | {r['own'][0]:.2f} / {r['own'][1]:.2f} "
                     f"| {r['minor']:.2f} / {r['major']:.2f} |")
    lines += ["", f"Median ratio along the true minor / major axis: {statistics.median(r['minor'] for r in rows):.2f} / "
              f"{statistics.median(r['major'] for r in rows):.2f} (√3/2 theory 0.87); over 1.15 along either axis "
              f"(where ZSSR's gain collapses, kernel_width_correction.md part 3): "
              f"{sum(max(r['minor'], r['major']) > 1.15 for r in rows)}/{len(rows)}. "
              f"Median seconds per estimate: {statistics.median(r['seconds'] for r in rows):.1f}."]
    lines += tracking_table(np.array([r["true"] for r in rows]), {"cross-scale estimate": np.array([r["own"] for r in rows])})
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="ab,heldout", help="comma-separated, of ab, heldout, Set14")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "crossscale_tracking.md"))
    args = parser.parse_args()
    lines = result_header("Cross-scale kernel estimator: does it follow the true kernel? (×2)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            lines += _ab(args.jobs) if name == "ab" else _dataset(name, args.data_root, args.jobs, Path(tmp))
    write_result(Path(args.out), lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
