"""Screening changes to what `real` does with a degraded input (issue #28 items 3 and 5), paired.

`real` reads the input's noise and JPEG quality, then takes the authors' X2_REAL_CONF for the
rest (``zssr.degradation.plan_sons``): no rotations, shears or scale jitter in training, no
geometric self-ensemble and no back-projection at inference. The authors chose that for real
photos with an unknown, possibly non-symmetric kernel; on Table 3's inputs the kernel is
bicubic, which is symmetric, so the 8-way ensemble and rotations are as valid as on a clean input.

The method registered here, ``zssr-planned``, is `real` exactly (the same reading, the same
plan) with the fields given as options set *after* the plan: ``zssr-planned:output_flip=true``
changes only the inference, so with the same seed its training is the `real` run's own and the
pair with the committed `real` record (``results/table3_full/cpu``, same condition, image and
seed) isolates the ensemble. Options are Config fields (``zssr bench`` syntax).

Usage (repository root):
    ZSSR_DATA=../shared/data python benchmarks/real_planned_screen.py run KIND SET IMAGES OPTIONS
        e.g. ``run jpeg-png Set14 comic,coastguard output_flip=true`` (one torch thread: pin it)
    python benchmarks/real_planned_screen.py report
Runs go to ``results/table3_full/screen`` (resumable, as every bench folder); ``report`` writes
``results/table3_full/screen.md``: each screened row beside `real` and bicubic on the same images.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any

import torch
from machine import result_header, write_result

from zssr.bench import run_benchmark
from zssr.bench.methods import METHODS, MethodInput, MethodOutput, parse_method
from zssr.config import PRESETS, field_value
from zssr.degradation import plan_sons, read_degradation
from zssr.io import to_array, to_tensor
from zssr.pipeline import plan_steps, upscale_tensor

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "table3_full"
SCREEN = Path(os.environ.get("ZSSR_SCREEN_OUT", RESULTS / "screen"))  # another folder: a trial run
METHOD = "zssr-planned"


def planned(request: MethodInput) -> MethodOutput:
    """`real` on ``request`` with the options' Config fields set after the degradation plan."""
    lr = to_tensor(request.lr)
    reading = read_degradation(lr[0].float().permute(1, 2, 0).numpy(), request.source)
    after = {name: field_value(name, value, separator=";") for name, value in request.options.items()}
    config = dataclasses.replace(plan_sons(PRESETS["real"], reading), **after)
    steps = plan_steps((request.scale, request.scale), config)
    result = upscale_tensor(lr, steps, config=config, seed=request.seed, device=request.device, source=request.source)
    info: dict[str, Any] = {"degradation": reading.describe(), "after_plan": {k: str(v) for k, v in after.items()}}
    return MethodOutput(sr=to_array(result.image).clip(0.0, 1.0),
                        iterations=int(sum(h.iterations for h in result.steps)), info=info)


def run(kind: str, dataset: str, images: list[str], options: list[str]) -> None:
    """Screen ``zssr-planned:OPTIONS`` on ``images`` of one Table 3 column (data seed 5, as the full table)."""
    spec = parse_method(f"{METHOD}:{','.join(options)}")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    run_benchmark([dataset], out=SCREEN, scales=(2.0,), methods=[spec], degradations=(kind,), data_seed=5,
                  lr_source="selfexsr", images=images, device="cpu",
                  data_root=os.environ.get("ZSSR_DATA", "../shared/data"), seeds=1,
                  registry={**METHODS, METHOD: planned})


def _records(folder: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(condition, method, image) → the seed-0 record of every run under ``folder/runs``."""
    out = {}
    for path in sorted(folder.glob("runs/*/*/*_seed0.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[(data["condition"], data["method"], data["image"])] = data
    return out


#: The screen's own `real`: no field changed after the plan (``output_flip=false`` is X2_REAL_CONF's own value), run
#: on the screen's machine so that a variant pairs with a `real` run of the same CPU (same rounding, same training).
SAME_MACHINE_REAL = f"{METHOD}:output_flip=false"


def report() -> None:
    """Each screened method beside `real` and bicubic on the same images of the same condition.

    A variant's `real` is the screen's own `real` run on the same CPU where there is one (then the pair
    differs in the changed fields only), else the full table's record (possibly another CPU).
    """
    base, screen = _records(RESULTS / "cpu"), _records(SCREEN)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for condition, method, image in screen:
        groups[(condition, method)].append(image)
    lines = result_header("`real` variants screened on Table 3 columns (paired with `real` runs)")
    lines += [__doc__.split("\n\n")[2].replace("\n", " "), "",
              f"Each variant's `real` is `{SAME_MACHINE_REAL}` (`real` itself, run by this screen) on the "
              "variant's own CPU where it ran, else the full table's `real` record (marked *other CPU*); the row "
              f"`{SAME_MACHINE_REAL}` itself pairs with the full table's record: the spread between CPUs.", "",
              "| condition | method | images | bicubic | `real` | variant | variant − `real` | variant − bicubic (worst) "
              "| `real` from |",
              "|---|---|---|---|---|---|---|---|---|"]
    per_image = ["", "Per image (where the two CPUs differ, float rounding differs, so training may stop at another "
                 "iteration and a pair isolates the changed fields only up to that run-to-run spread):", "",
                 "| condition | image | bicubic | `real` | variant | iterations (`real`, variant) | CPU (`real`, variant) |",
                 "|---|---|---|---|---|---|---|"]
    for (condition, method), images in sorted(groups.items()):
        rows = []
        for i in sorted(images):
            variant = screen[(condition, method, i)]
            own = screen.get((condition, SAME_MACHINE_REAL, i)) if method != SAME_MACHINE_REAL else None
            if own is not None and own["machine"]["cpu"] != variant["machine"]["cpu"]:
                own = None
            rows.append((i, base.get((condition, "bicubic", i)), own or base.get((condition, "zssr:preset=real", i)),
                         variant, own is not None))
        rows = [r for r in rows if r[1] and r[2]]
        if not rows:
            continue
        b, z, v = ([r[k]["psnr"] for r in rows] for k in (1, 2, 3))
        worst = min(x - y for x, y in zip(v, b))
        same = sum(r[4] for r in rows)
        source = "same CPU" if same == len(rows) else ("other CPU" if same == 0 else f"same CPU for {same}")
        lines.append(f"| {condition} | `{method}` | {len(rows)} | {fmean(b):.2f} | {fmean(z):.2f} | {fmean(v):.2f} | "
                     f"{fmean(v) - fmean(z):+.2f} | {fmean(v) - fmean(b):+.2f} ({worst:+.2f}) | {source} |")
        per_image += [f"| {condition} | {i} (`{method}`) | {bb['psnr']:.2f} | {zz['psnr']:.2f} | {vv['psnr']:.2f} | "
                      f"{zz['iterations']}, {vv['iterations']} | {zz['machine']['cpu']}, {vv['machine']['cpu']} |"
                      for i, bb, zz, vv, _ in rows]
    write_result(RESULTS / "screen.md", lines + per_image + [""])


def main() -> None:
    """``run KIND SET IMAGES OPTION...`` or ``report``."""
    if sys.argv[1:2] == ["run"] and len(sys.argv) >= 6:
        run(sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5:])
    elif sys.argv[1:2] == ["report"]:
        report()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
