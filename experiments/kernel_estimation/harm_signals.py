"""What tells a harmful `--kernel auto` output apart (issue #19, item 2)? Reads finished runs only.

The first do-no-harm check (:func:`~zssr.kernel_estimation.oversharpened`) catches an output whose
strongest edges read sharper than a sampled step; pepper of data seed 5 fell 2.5 dB under
bicubic-kernel ZSSR with edges reading 0.63 px. Per image of the ``kernel_check.py`` runs
(``--row auto``: ``zssr+estimated-kernel:estimator=edges``; ``--row kernelgan``: KernelGAN's),
this lists what could have flagged it:

- the estimate's std along the true kernel's minor/major axes over the true std there
  (needs the truth: says *why*, cannot decide);
- the true kernel's minor-axis std (HR px);
- the output's edge sharpness (the check's own measure);
- high-frequency gain (:func:`~zssr.kernel_estimation.high_frequency_gain`: mean squared
  Laplacian of the output's luma over that of bicubic interpolation of the same LR), for the
  estimated-kernel and the true-kernel outputs.

For each measure that needs no truth, it counts the images *not* harmed that a threshold
catching every harmed image would also send to the bicubic kernel (the price of that signal).

Usage (from the repo root):
  PYTHONPATH=src python experiments/kernel_estimation/harm_signals.py RUN [RUN …] [--row kernelgan] --out experiments/kernel_estimation/results/harm_signals.md
About 15 s per 56 images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

from kernel_check import HARM_DB, rows_of  # noqa: E402
from kernel_checks import axis_ratios, covariance  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.io import read_image, to_tensor  # noqa: E402
from zssr.kernel_estimation import edge_sharpness, high_frequency_gain  # noqa: E402
from zssr.kernels import load_kernel  # noqa: E402


def price(harmed: list[float], rest: list[float], high: bool) -> tuple[float, int]:
    """The threshold that catches every harmed value, and how many other values it catches too."""
    edge = min(harmed) if high else max(harmed)
    return edge, sum((v >= edge) if high else (v <= edge) for v in rest)


def main() -> None:
    """Read the runs, measure, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="+")
    parser.add_argument("--row", choices=("auto", "kernelgan"), default="auto", help="the estimated-kernel row to read")
    parser.add_argument("--seeds", default="", help="only these data seeds, e.g. 0,1,2 (default: all)")
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cases = []
    seeds = {int(s) for s in args.seeds.split(",") if s}
    for (seed, image), rows in sorted(rows_of(args.run).items()):
        if seeds and seed not in seeds:
            continue
        if not {"bicubic", "bic-kernel", args.row, "true"} <= set(rows) or rows[args.row].get("kernel") is None:
            continue
        auto, run = rows[args.row], rows[args.row]["_run"]
        true_kernel = load_kernel(run / "inputs" / auto["condition"] / f"{image}_kernel.mat").numpy()
        minor, major = axis_ratios(load_kernel(run / auto["kernel"]).numpy(), true_kernel)
        lr = to_tensor(read_image(run / "inputs" / auto["condition"] / f"{image}_lr.png").color)
        out = to_tensor(read_image(run / auto["sr"]).color)
        cases.append({
            "seed": seed, "image": image, "delta": auto["psnr"] - rows["bic-kernel"]["psnr"],
            "true_delta": rows["true"]["psnr"] - rows["bic-kernel"]["psnr"],
            "minor": minor, "major": major,
            "true_minor": float(np.sqrt(np.linalg.eigvalsh(covariance(true_kernel))[0])),
            "sharpness": edge_sharpness(out),
            "hf_auto": high_frequency_gain(out, lr),
            "hf_true": high_frequency_gain(to_tensor(read_image(rows["true"]["_run"] / rows["true"]["sr"]).color), lr),
        })
    harmed = [c for c in cases if c["delta"] < -HARM_DB]
    rest = [c for c in cases if c["delta"] >= -HARM_DB]
    lines = result_header("What tells a harmful `--kernel auto` output apart (issue #19)")
    lines += ["", f"Runs: {', '.join(f'`{r}`' for r in args.run)}; row `{args.row}` ({'KernelGAN' if args.row == 'kernelgan' else 'edges'}). Harmed: more than "
              f"{HARM_DB} dB under bicubic-kernel ZSSR ({len(harmed)} of {len(cases)}).", ""]
    if harmed:
        lines += ["| signal (no truth needed) | harmed images | threshold catching all of them | other images it also catches |",
                  "|---|---|---|---|"]
        for key, label, high in (("sharpness", "output edge sharpness (px), low = suspect", False),
                                 ("hf_auto", "HF gain over bicubic interpolation, high = suspect", True)):
            got = [c[key] for c in harmed if c[key] is not None]
            others = [c[key] for c in rest if c[key] is not None]
            if len(got) == len(harmed) and others:
                edge, caught = price(got, others, high)
                lines.append(f"| {label} | {', '.join(f'{v:.2f}' for v in got)} | {'≥' if high else '≤'} {edge:.2f} "
                             f"| {caught} of {len(others)} |")
    lines += ["", "| data seed | image | estimated-kernel Δ (dB) | true-kernel Δ | estimate/true std, minor axis | major axis "
              "| true minor std (HR px) | edge sharpness (px) | HF gain, auto | HF gain, true kernel |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in sorted(cases, key=lambda c: c["delta"]):
        s = "–" if c["sharpness"] is None else f"{c['sharpness']:.2f}"
        lines.append(f"| {c['seed']} | {c['image']} | {c['delta']:+.2f} | {c['true_delta']:+.2f} | {c['minor']:.2f} | "
                     f"{c['major']:.2f} | {c['true_minor']:.2f} | {s} | {c['hf_auto']:.1f} | {c['hf_true']:.1f} |")
    lines += [""] + args.note if args.note else []
    write_result(args.out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
