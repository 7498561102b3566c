"""DIV2KRK end to end (issue #28, item 1b): the rows of ``run_div2krk_cpu.sh``, per image and with the acceptance.

Reads the records under ``results/div2krk/cpu/runs`` (one JSON per scored image and row) and
writes one table per scale: Y-PSNR/SSIM per image and row, the bicubic-kernel → true-kernel gap,
each estimated-kernel row's **share of the gap** ((row − bicubic-kernel) / (true − bicubic-kernel))
and its distance to bicubic-kernel ZSSR, then the means. An image counts in the means once it has
every row of the step ``xS-core`` (bicubic, bicubic-kernel ZSSR, ``--kernel auto``, true kernel);
the KernelGAN rows are compared on the images they have. The share of the gap is averaged over
the images whose gap is at least ``MIN_GAP`` dB (a smaller gap makes the ratio noise), with the
ratio of the means beside it, as the issue asks.

Usage (repository root): PYTHONPATH=src python benchmarks/div2krk_table.py
Writes results/div2krk/table_x2.md and table_x4.md (for the scales with records).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from machine import result_header, write_result

HERE = Path(__file__).resolve().parent
RUNS = HERE / "results" / "div2krk" / "cpu" / "runs"
MIN_GAP = 0.5  # dB: images with a smaller bicubic-kernel → true-kernel gap are left out of the mean share
HARM = 0.3  # dB under bicubic-kernel ZSSR: the acceptance's limit for any image
ACCEPT_SHARE = {2: 0.70, 4: 0.50}  # the mean share of the gap `--kernel auto` must reach
#: Published means over the full DIV2KRK (100 images), blind_sr_anchors.md: (PSNR, SSIM).
PUBLISHED = {2: {"KernelGAN + ZSSR": (30.36, 0.8669), "DualSR": (30.92, 0.8728)},
             4: {"KernelGAN + ZSSR": (26.81, 0.7316)}}

BICUBIC = "bicubic"
BICUBIC_KERNEL = "zssr:preset=kernel"
AUTO = "zssr+estimated-kernel:check=true,estimator=edges,preset=kernel"
KERNELGAN = "zssr+estimated-kernel:check=false,estimator=kernelgan,preset=kernel"
KERNELGAN_CHECK = "zssr+estimated-kernel:check=true,estimator=kernelgan,preset=kernel"
TRUE = "zssr+true-kernel:preset=kernel"
#: Row label → the name the table gives it, in table order.
ROWS = {BICUBIC: "bicubic interpolation", BICUBIC_KERNEL: "bicubic-kernel ZSSR",
        AUTO: "`--kernel auto` (edges + check)", KERNELGAN: "KernelGAN + ZSSR",
        KERNELGAN_CHECK: "KernelGAN + ZSSR + check", TRUE: "true-kernel ZSSR"}
CORE = (BICUBIC, BICUBIC_KERNEL, AUTO, TRUE)
ESTIMATED = (AUTO, KERNELGAN, KERNELGAN_CHECK)


def load(runs: Path) -> dict[int, dict[str, dict[str, dict[str, Any]]]]:
    """Records by scale → image → row label (seed 0; the rows ``ROWS`` names)."""
    out: dict[int, dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for path in sorted(runs.glob("DIV2KRK_dev_x*_given-pairs_seed0/*/*_seed0.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["method"] in ROWS:
            out[int(record["scale"])][record["image"]][record["method"]] = record
    return out


def _number(image: str) -> int:
    """``im_30`` → 30, for ordering."""
    return int(image.rsplit("_", 1)[-1])


def share(row: float, bicubic_kernel: float, true: float) -> float:
    """The share of the bicubic-kernel → true-kernel gap a row recovers (1 = as the true kernel)."""
    return (row - bicubic_kernel) / (true - bicubic_kernel)


def _machine(record: dict[str, Any]) -> str:
    """The CPU and thread count a record's seconds were measured with."""
    return f"{record['machine']['cpu']}, {record['machine']['torch_threads']} thread(s)"


def timing_machine(records: list[dict[str, Any]]) -> str:
    """The machine (CPU and threads) that ran most ZSSR rows: every quoted time is from it alone."""
    counts = Counter(_machine(r) for r in records if r["method"] != BICUBIC)
    return counts.most_common(1)[0][0] if counts else ""


def table(scale: int, images: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The lines of one scale's table."""
    complete = sorted((i for i, rows in images.items() if all(r in rows for r in CORE)), key=_number)
    partial = sorted(set(images) - set(complete), key=_number)
    present = [r for r in ROWS if any(r in rows for rows in images.values())]
    lines = [*result_header(f"DIV2KRK ×{scale} end to end, `kernel` preset's own budget (issue #28)"),
             f"Records: `results/div2krk/cpu/runs` (written by `run_div2krk_cpu.sh`). Y-PSNR/SSIM as `zssr bench` "
             "scores every table (MATLAB protocol). Dev ids with ground truth; every ZSSR row seed 0, preset "
             "`kernel` at its own budget (`--kernel auto` falls back to bicubic-kernel `ideal` where its check "
             f"fires). Images with every core row: {len(complete)} of 18"
             + (f"; in progress (not in the means): {', '.join(partial)}" if partial else "") + ".", ""]
    if not complete:
        return [*lines, "No image has every core row yet.", ""]
    lines += ["## Per image", "",
              "Y-PSNR (dB); for estimated-kernel rows also Δ vs bicubic-kernel ZSSR and, where the gap is at least "
              f"{MIN_GAP} dB, the share of the gap.", "",
              "| image | " + " | ".join(ROWS[r] for r in present) + " | gap true − bicubic-kernel | `auto` fell back |",
              "|---" * (len(present) + 3) + "|"]
    for image in complete:
        rows = images[image]
        base, true = rows[BICUBIC_KERNEL]["psnr"], rows[TRUE]["psnr"]
        cells = []
        for r in present:
            if r not in rows:
                cells.append("–")
                continue
            psnr = rows[r]["psnr"]
            text = f"{psnr:.2f}"
            if r in ESTIMATED:  # the share only where the gap is worth dividing by
                text += f" ({psnr - base:+.2f}" + (f", {share(psnr, base, true):.0%})" if true - base >= MIN_GAP else ")")
            cells.append(text)
        info = rows[AUTO]["info"]
        fell = info.get("kernel_fallback")
        reason = info.get("kernel_harm") or info.get("kernel_fallback_reason") or "estimate not reliable"
        lines.append(f"| {image} | " + " | ".join(cells) + f" | {true - base:+.2f} | "
                     f"{'yes: ' + reason if fell else 'no'} |")
    lines += ["", "## Means", "",
              f"Share of the gap: the mean over images with a gap ≥ {MIN_GAP} dB, and the ratio of the means over the "
              "same images. Worst: the largest drop under bicubic-kernel ZSSR.", "",
              "| row | images | Y-PSNR | SSIM | Δ vs bicubic-kernel | mean share of the gap | ratio of means | worst Δ "
              "| images > 0.3 dB under | median seconds |", "|---|---|---|---|---|---|---|---|---|---|"]
    clock = timing_machine([images[i][r] for i in complete for r in present if r in images[i]])
    for r in present:
        have = [i for i in complete if r in images[i]]
        if not have:
            continue
        recs = [images[i][r] for i in have]
        psnr = statistics.fmean(x["psnr"] for x in recs)
        ssim = statistics.fmean(x["ssim"] for x in recs)
        deltas = [images[i][r]["psnr"] - images[i][BICUBIC_KERNEL]["psnr"] for i in have]
        gapped = [i for i in have if images[i][TRUE]["psnr"] - images[i][BICUBIC_KERNEL]["psnr"] >= MIN_GAP]
        mean_share = ratio = "–"
        if r not in (BICUBIC, BICUBIC_KERNEL, TRUE) and gapped:
            base = [images[i][BICUBIC_KERNEL]["psnr"] for i in gapped]
            true = [images[i][TRUE]["psnr"] for i in gapped]
            mine = [images[i][r]["psnr"] for i in gapped]
            mean_share = f"{statistics.fmean(share(m, b, t) for m, b, t in zip(mine, base, true, strict=True)):.0%}" \
                         f" ({len(gapped)})"
            ratio = f"{(statistics.fmean(mine) - statistics.fmean(base)) / (statistics.fmean(true) - statistics.fmean(base)):.0%}"
        under = sum(d < -HARM for d in deltas)
        timed = [x["seconds"] for x in recs if _machine(x) == clock]
        seconds = f"{statistics.median(timed):,.0f} ({len(timed)})" if timed else "–"
        lines.append(f"| {ROWS[r]} | {len(have)} | {psnr:.2f} | {ssim:.4f} | {statistics.fmean(deltas):+.2f} | "
                     f"{mean_share} | {ratio} | {min(deltas):+.2f} | {under} | {seconds} |")
    lines += ["", f"Seconds: medians over the rows' records from {clock} (their count in brackets); records from "
              "other machines or thread counts are left out of them.", "",
              "## Acceptance (issue #28)", ""]
    lines += acceptance(scale, images, complete)
    lines += ["", "## Published means (full DIV2KRK, 100 images; the sets differ: these are 18 dev images)", ""]
    auto = statistics.fmean(images[i][AUTO]["psnr"] for i in complete)
    ours = f"- here: `--kernel auto` {auto:.2f} dB over {len(complete)} images"
    kernelgan = [i for i in complete if KERNELGAN in images[i]]
    if kernelgan:
        ours += (f"; this package's KernelGAN + ZSSR {statistics.fmean(images[i][KERNELGAN]['psnr'] for i in kernelgan):.2f}"
                 f" over {len(kernelgan)}")
    lines.append(ours + ". Published: " + "; ".join(f"{name} {p:.2f}/{s:.4f}" for name, (p, s) in PUBLISHED[scale].items())
                 + " (blind_sr_anchors.md).")
    return [*lines, ""]


def acceptance(scale: int, images: dict[str, dict[str, dict[str, Any]]], complete: list[str]) -> list[str]:
    """The three checks of `--kernel auto` on the images scored so far (pass/fail and the numbers)."""
    gapped = [i for i in complete if images[i][TRUE]["psnr"] - images[i][BICUBIC_KERNEL]["psnr"] >= MIN_GAP]
    shares = [share(images[i][AUTO]["psnr"], images[i][BICUBIC_KERNEL]["psnr"], images[i][TRUE]["psnr"])
              for i in gapped]
    worst = min(images[i][AUTO]["psnr"] - images[i][BICUBIC_KERNEL]["psnr"] for i in complete)
    need = ACCEPT_SHARE[scale]
    out = [f"So far ({len(complete)} of 18 images; the checks hold only once all 18 are scored):", ""]
    if shares:
        mean_share = statistics.fmean(shares)
        out.append(f"- mean share of the gap ≥ {need:.0%}: {mean_share:.1%} over {len(shares)} images — "
                   f"{'met' if mean_share >= need else 'NOT met'}")
    else:
        out.append(f"- mean share of the gap ≥ {need:.0%}: no image with a gap ≥ {MIN_GAP} dB yet")
    out.append(f"- no image more than {HARM} dB under bicubic-kernel ZSSR: worst {worst:+.2f} — "
               f"{'met' if worst >= -HARM else 'NOT met'}")
    both = [i for i in complete if KERNELGAN in images[i]]
    what = "beats KernelGAN + ZSSR on the mean" + ("" if scale == 2 else " (not a ×4 criterion; shown)")
    if both:
        a = statistics.fmean(images[i][AUTO]["psnr"] for i in both)
        k = statistics.fmean(images[i][KERNELGAN]["psnr"] for i in both)
        verdict = ("met" if a > k else "NOT met") if scale == 2 else ("ahead" if a > k else "behind")
        out.append(f"- {what}: {a:.2f} vs {k:.2f} over the {len(both)} images with both — {verdict}")
    else:
        out.append(f"- {what}: no KernelGAN row scored yet")
    return out


def main() -> None:
    """Write one table per scale with records."""
    records = load(RUNS)
    if not records:
        raise SystemExit(f"no DIV2KRK records under {RUNS}")
    for scale, images in sorted(records.items()):
        write_result(HERE / "results" / "div2krk" / f"table_x{scale}.md", table(scale, images))


if __name__ == "__main__":
    main()
