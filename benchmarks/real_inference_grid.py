"""One `real` training, several inferences: the ensemble and back-projection screened for the cost of one run.

Issue #28 item 3 asks why `real` at full budget loses on once-JPEG inputs; among the suspects are
the inference settings X2_REAL_CONF fixes (no geometric self-ensemble, no back-projection). They
change nothing in training: with one seed, every inference setting of a run sees the same trained
net. So this script runs `real` as users get it (``upscale_tensor`` with the plan read from the
image, as ``zssr bench``'s ``zssr:preset=real``) and, where the pipeline infers, also infers with
each setting of :data:`VARIANTS`, then scores every output as ``zssr bench`` does (8-bit, Y-PSNR and
SSIM under the MATLAB protocol, shave = scale). One training: ~30 CPU-minutes on the EPYC; each
extra inference: seconds.

The setting `real` itself plans reproduces its bench record on the same CPU (same training, same
inference); the report checks that against the screen's records (``real_planned_screen.py``) where
one exists for the image.

Usage (repository root; one torch thread, pin it):
    ZSSR_DATA=../shared/data python benchmarks/real_inference_grid.py run KIND SET IMAGES
        e.g. ``run jpeg-png Set14 comic,coastguard`` (data seed 5, seed 0, as the full Table 3)
    python benchmarks/real_inference_grid.py report
Writes one JSON per image under ``results/table3_full/grid/<condition>/`` (an image scored there is
not redone) and ``results/table3_full/grid.md``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any

import torch
from machine import result_header, write_result

import zssr.pipeline as pipeline
from zssr.bench import prepare_inputs, resolve_dataset
from zssr.bench.degradations import to_8bit
from zssr.bench.runner import machine
from zssr.config import PRESETS
from zssr.degradation import plan_sons, read_degradation
from zssr.io import read_image, to_array, to_tensor
from zssr.metrics import evaluate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "table3_full"
GRID = RESULTS / "grid"
SCREEN = RESULTS / "screen" / "runs"
#: (geometric self-ensemble, back-projection rounds) inferred from each trained net.
VARIANTS: tuple[tuple[bool, int], ...] = ((False, 0), (True, 0), (False, 2), (True, 2), (True, 4), (True, 10))


def _label(ensemble: bool, bp: int) -> str:
    return f"{'8-way' if ensemble else 'single'}, BP {bp}"


def _infer_all(lr: torch.Tensor, source: Path) -> tuple[dict[tuple[bool, int], torch.Tensor], dict[str, Any]]:
    """`real` on ``lr`` (seed 0, CPU) with every VARIANTS inference of its one trained net."""
    reading = read_degradation(lr[0].float().permute(1, 2, 0).numpy(), source)
    config = plan_sons(PRESETS["real"], reading)
    steps = pipeline.plan_steps((2.0, 2.0), config)
    if len(steps) != 1:
        raise SystemExit(f"one scale step expected (×2 one jump), the plan has {len(steps)}")
    inner = pipeline.super_resolve_bounded
    outputs: dict[tuple[bool, int], torch.Tensor] = {}

    def every_variant(net, x, sf, *, ensemble, back_projection_iters, kernel, output_pixels, **rest):
        own = inner(net, x, sf, ensemble=ensemble, back_projection_iters=back_projection_iters, kernel=kernel,
                    output_pixels=output_pixels, **rest)
        for e, bp in VARIANTS:
            outputs[(e, bp)] = own if (e, bp) == (ensemble, back_projection_iters) else inner(
                net, x, sf, ensemble=e, back_projection_iters=bp, kernel=kernel, output_pixels=output_pixels)
        return own

    pipeline.super_resolve_bounded = every_variant
    try:
        start = time.perf_counter()
        result = pipeline.upscale_tensor(lr, steps, config=config, seed=0, device="cpu", source=source)
        seconds = time.perf_counter() - start
    finally:
        pipeline.super_resolve_bounded = inner
    own = (config.output_flip, config.back_projection_for(1)[0])
    if not torch.equal(outputs[own].detach().float().cpu(), result.image):
        raise SystemExit("the pipeline's output is not its own setting's inference: the grid would not be `real`")
    info = {"iterations": int(sum(h.iterations for h in result.steps)), "seconds": seconds,
            "real_setting": list(own), "degradation": reading.describe()}
    return outputs, info


def run(kind: str, dataset: str, images: list[str]) -> None:
    """Score every VARIANTS inference of `real` on ``images`` of one Table 3 column (data seed 5)."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    data_root = os.environ.get("ZSSR_DATA", "../shared/data")
    with tempfile.TemporaryDirectory() as cache:
        condition, items = prepare_inputs(resolve_dataset(dataset, data_root), scale=2, degradation=kind,
                                          cache_root=cache, lr_source="selfexsr", data_seed=5, images=images)
        for item in items:
            path = GRID / condition.key / f"{item.name}_seed0.json"
            if path.is_file():
                continue
            hr, lr = read_image(item.hr).color, read_image(item.lr).color
            outputs, info = _infer_all(to_tensor(lr), item.lr)
            scores = {}
            for (e, bp), out in outputs.items():
                s = evaluate(hr, to_8bit(to_array(out.detach().float().cpu()).clip(0.0, 1.0)), scale=2)
                scores[_label(e, bp)] = {"ensemble": e, "back_projection": bp, "psnr": s.psnr, "ssim": s.ssim}
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = {"condition": condition.key, "image": item.name, "seed": 0, **info, "variants": scores,
                       "machine": machine()}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
            tmp.replace(path)
            print(f"{condition.key} {item.name}: " + ", ".join(f"{k} {v['psnr']:.2f}" for k, v in scores.items()),
                  flush=True)


def report() -> None:
    """Mean per setting and condition beside bicubic; the `real` setting checked against the screen's records."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(GRID.glob("*/*_seed0.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        by[data["condition"]].append(data)
    lines = result_header("`real`'s inference settings on one trained net per image (Table 3 columns)")
    lines += [__doc__.split("\n\n")[1].replace("\n", " "), ""]
    checks = []
    for condition, rows in sorted(by.items()):
        bicubic = {}
        for r in rows:
            p = RESULTS / "cpu" / "runs" / condition / "bicubic" / f"{r['image']}_seed0.json"
            if p.is_file():
                bicubic[r["image"]] = json.loads(p.read_text(encoding="utf-8"))["psnr"]
        names = list(rows[0]["variants"])
        lines += [f"## {condition}: {len(rows)} images ({', '.join(r['image'] for r in rows)})", "",
                  "| setting | mean Y-PSNR | Δ vs bicubic (worst) | Δ vs `real`'s own setting |", "|---|---|---|---|"]
        own = [next(k for k, v in r["variants"].items() if [v["ensemble"], v["back_projection"]] == r["real_setting"])
               for r in rows]
        own_mean = fmean(r["variants"][o]["psnr"] for r, o in zip(rows, own))
        for name in names:
            v = [r["variants"][name]["psnr"] for r in rows]
            d = [x - bicubic[r["image"]] for x, r in zip(v, rows) if r["image"] in bicubic]
            vs_b = f"{fmean(d):+.2f} ({min(d):+.2f})" if len(d) == len(rows) else "–"
            mark = " (`real`)" if all(o == name for o in own) else ""
            lines.append(f"| {name}{mark} | {fmean(v):.2f} | {vs_b} | {fmean(v) - own_mean:+.2f} |")
        lines += ["", "| image | bicubic | " + " | ".join(names) + " | iterations | CPU |",
                  "|---|---|" + "---|" * len(names) + "---|---|"]
        for r in rows:
            b = f"{bicubic[r['image']]:.2f}" if r["image"] in bicubic else "–"
            lines.append(f"| {r['image']} | {b} | " + " | ".join(f"{r['variants'][n]['psnr']:.2f}" for n in names)
                         + f" | {r['iterations']} | {r['machine']['cpu']} |")
            for flip in ("false", "true"):
                p = SCREEN / condition / f"zssr-planned@output_flip={flip}" / f"{r['image']}_seed0.json"
                if p.is_file():
                    rec = json.loads(p.read_text(encoding="utf-8"))
                    if rec["machine"]["cpu"] == r["machine"]["cpu"]:
                        mine = r["variants"][_label(flip == "true", 0)]["psnr"]
                        checks.append(f"{r['image']} output_flip={flip}: screen {rec['psnr']:.4f}, grid {mine:.4f}"
                                      f" ({'equal' if abs(rec['psnr'] - mine) < 1e-9 else 'DIFFERENT'})")
        lines.append("")
    lines += ["## The grid against the screen's bench records (same CPU, same seed)", "",
              *(f"- {c}" for c in checks)] if checks else ["No screen record on the same CPU to check against yet."]
    write_result(RESULTS / "grid.md", lines + [""])


def main() -> None:
    """``run KIND SET IMAGES`` or ``report``."""
    if sys.argv[1:2] == ["run"] and len(sys.argv) == 5:
        run(sys.argv[2], sys.argv[3], sys.argv[4].split(","))
    elif sys.argv[1:2] == ["report"]:
        report()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
