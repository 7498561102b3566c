"""Table 2 protocol with the edge-profile estimator, on the held-out photos and on Set14.

``run`` adds rows to a ``zssr bench`` folder (resumable): ZSSR given the edge-profile
estimate (``zssr+estimated-kernel:estimator=edges,preset=kernel``) and, beside it, ZSSR
given the fixed generic kernel of ``kernel_checks.generic_kernel_method`` (σ = 1.33 px; its
Table 2 row alone: ``experiments/kernel_estimation/generic_kernel_baseline.py``): the
estimator is worth something only where it beats a kernel that ignores the image.

``report`` reads ``results/gpu_h200_edges`` (``refs/``: bicubic-kernel and true-kernel ZSSR;
``v1/``: the estimator's first version and the generic kernel; ``v2/``: the estimator as
committed; all on one H200, see its README), sets the earlier KernelGAN (CPU) and
cross-scale (H100) rows of the same inputs beside them, and gives each row's share of the
bicubic-kernel → true-kernel gap, per image and in the mean, and how wide each edge
estimate is along the true kernel's axes. Writes ``results/edgeblur_table2.md``.

Usage (from the repository root):
    # on the GPU machine (data as .carry/data, held-out photos as .carry/heldout):
    PYTHONPATH=src python benchmarks/edgeblur_table2.py run --set Set14 --data-root .carry/data \
        --out RUNS/table2_set14 --device cuda --jobs 5
    PYTHONPATH=src python benchmarks/edgeblur_table2.py run --set .carry/heldout --out RUNS/heldout ...
    # here, from the committed records:
    PYTHONPATH=src python benchmarks/edgeblur_table2.py report   (reads benchmarks/results/gpu_h200_edges)
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from kernel_checks import GENERIC_LABEL, axis_ratios, generic_kernel_method  # noqa: E402
from kernel_checks import GENERIC_SIGMA as SIGMA  # noqa: E402
from machine import read_method_records as _records  # noqa: E402
from machine import read_results_csv, result_header, write_result  # noqa: E402
from table2_safeguard import KERNELGAN_LABEL, KERNELGAN_RUN  # noqa: E402

from zssr.bench import METHODS, run_benchmark  # noqa: E402
from zssr.kernels import load_kernel  # noqa: E402

EDGES_LABEL = "zssr+estimated-kernel:estimator=edges,preset=kernel"
RESULTS = HERE / "results" / "gpu_h200_edges"
CROSSSCALE = HERE / "results" / "gpu_h100_crossscale"  # the cross-scale row (H100, earlier session)
SETS = {"Set14": ("table2_set14", "Set14_x2_gaussian-kernel-div2krk_seed0"),
        "heldout": ("heldout", "heldout_x2_gaussian-kernel-div2krk_seed0")}
BASE, TRUE = "bicubic-kernel ZSSR (`ideal`)", "true kernel"
FIRST, FINAL = "edge-profile, first version (σ₀ 1.5, calibration 0.85)", "**edge-profile estimate** (as committed)"


def _folder(label: str) -> str:
    return label.replace(":", "@")


def run(args: argparse.Namespace) -> None:
    registry = {**METHODS, "zssr+generic-kernel": generic_kernel_method}
    run_benchmark(
        [args.set], out=args.out, degradations=["gaussian-kernel"], data_root=args.data_root,
        methods=["bicubic", *args.methods.split(";")], registry=registry, jobs=args.jobs, device=args.device,
        progress=True, limit=args.limit, data_seed=args.data_seed,
    )


def _rows(name: str, runs: Path) -> dict[str, dict[str, tuple[float, str]]]:
    folder, condition = SETS[name]
    refs = runs / "refs" / folder
    rows = {BASE: _records(refs, condition, "zssr:preset=ideal")}
    if name == "Set14":
        kgan = read_results_csv(KERNELGAN_RUN / "results.csv")
        rows["KernelGAN estimate (CPU run)"] = {n: (float(r["psnr"]), "C")
                                               for (m, n), r in kgan.items() if m == KERNELGAN_LABEL}
    xs = "zssr+estimated-kernel:estimator=crossscale,preset=kernel"
    rows["cross-scale estimate (H100 run)"] = {**_records(CROSSSCALE / "cpu_completion", condition, xs),
                                               **_records(CROSSSCALE / folder, condition, xs)}
    rows[f"generic σ = {SIGMA} (no estimate)"] = _records(runs / "v1" / folder, condition, GENERIC_LABEL)
    rows[FIRST] = _records(runs / "v1" / folder, condition, EDGES_LABEL)
    rows[FINAL] = _records(runs / "v2" / folder, condition, EDGES_LABEL)
    rows[TRUE] = _records(refs, condition, "zssr+true-kernel:preset=kernel")
    return rows


def _check_same_inputs(name: str, runs: Path) -> None:
    """Stop unless every run folder's bicubic PSNR is the reference's: the same LR inputs."""
    folder, condition = SETS[name]
    ref = _records(runs / "refs" / folder, condition, "bicubic")
    others = {sub: _records(runs / sub / folder, condition, "bicubic") for sub in ("v1", "v2")}
    others["cross-scale run"] = _records(CROSSSCALE / folder, condition, "bicubic")
    if name == "Set14":
        kgan = read_results_csv(KERNELGAN_RUN / "results.csv")
        others["KernelGAN run"] = {n: (float(r["psnr"]), "C") for (m, n), r in kgan.items() if m == "bicubic"}
    for sub, records in others.items():
        for n, (v, _) in records.items():
            if abs(v - ref[n][0]) > 1e-5:
                raise SystemExit(f"{sub}, {name}/{n}: bicubic PSNR differs from the reference run: not the same inputs")


def _ratios(name: str, runs: Path, sub: str) -> dict[str, tuple[float, float]]:
    """image → the estimate's std along the true kernel's minor / major axis over the true one."""
    folder, condition = SETS[name]
    kdir = runs / sub / folder / "runs" / condition / _folder(EDGES_LABEL)
    inputs = runs / "refs" / folder / "inputs" / condition
    return {p.name.removesuffix("_seed0_kernel.mat"): axis_ratios(load_kernel(p).numpy(),
                                                                  load_kernel(inputs / p.name.replace("_seed0", "")).numpy())
            for p in sorted(kdir.glob("*_seed0_kernel.mat"))}


def _table(name: str, runs: Path) -> list[str]:
    _check_same_inputs(name, runs)
    rows = _rows(name, runs)
    names = sorted(rows[TRUE])
    lines = [f"## {name}: {len(names)} images", "",
             "| image | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{r[n][0]:.2f} {r[n][1]}" if n in r else "–" for r in rows.values()) + " |")
    lines += ["", "Share of the bicubic-kernel → true-kernel gap (reference rows averaged over the images the row has):",
              "", "| row | images | mean | bicubic-kernel ZSSR | true kernel | share of the gap | images above bicubic-kernel ZSSR |",
              "|---|---|---|---|---|---|---|"]
    base, true = rows[BASE], rows[TRUE]
    for label, r in rows.items():
        have = [n for n in names if n in r and n in base]
        if label in (BASE, TRUE) or not have:
            continue
        m, b, t = (statistics.mean(x[n][0] for n in have) for x in (r, base, true))
        above = sum(r[n][0] > base[n][0] for n in have)
        lines.append(f"| {label} | {len(have)} | {m:.2f} | {b:.2f} | {t:.2f} | **{(m - b) / (t - b):.0%}** | {above}/{len(have)} |")
    lines += ["", "Each edge-profile estimate's standard deviation along the true kernel's minor / major axis over the "
              "true one (1 = right; `kernel_width_correction.md` part 3: ZSSR's gain collapses past ~1.15 on the minor axis):", "",
              "| image | first version | as committed |", "|---|---|---|"]
    first, final = _ratios(name, runs, "v1"), _ratios(name, runs, "v2")
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{r[n][0]:.2f} / {r[n][1]:.2f}" if n in r else "–" for r in (first, final)) + " |")
    for label, r in (("first version", first), ("as committed", final)):
        lines.append(f"\n{label}: median {statistics.median(a for a, _ in r.values()):.2f} / "
                     f"{statistics.median(b for _, b in r.values()):.2f}; minor axis over 1.15: "
                     f"{sum(a > 1.15 for a, _ in r.values())}/{len(r)}, under 0.6: {sum(a < 0.6 for a, _ in r.values())}/{len(r)}.")
    return lines + [""]


def _cpu_check(runs: Path, cpu: Path) -> list[str]:
    """The committed estimator's Set14 row on the 2-core CPU, image by image beside the H200 cells."""
    _, condition = SETS["Set14"]
    mine = _records(cpu, condition, EDGES_LABEL)
    if not mine:
        return []
    gpu = _records(runs / "v2" / "table2_set14", condition, EDGES_LABEL)
    ref_bicubic = _records(runs / "refs" / "table2_set14", condition, "bicubic")
    for n, (v, _) in _records(cpu, condition, "bicubic").items():
        if abs(v - ref_bicubic[n][0]) > 1e-5:
            raise SystemExit(f"CPU check, {n}: bicubic PSNR differs from the reference run: not the same inputs")
    lines = ["## CPU check: the committed estimator's Set14 cells on the 2-core CPU", "",
             f"Run folder `{cpu.relative_to(HERE.parent) if cpu.is_relative_to(HERE.parent) else cpu}` (JSON records "
             "and kernels; command in its README). Same inputs and seed as the H200 row; ZSSR's CPU and GPU numerics "
             "differ, the kernel does not (it is computed on the CPU in both).", "",
             "| image | H200 | CPU | CPU − H200 |", "|---|---|---|---|"]
    for n in sorted(mine):
        lines.append(f"| {n} | {gpu[n][0]:.2f} | {mine[n][0]:.2f} | {mine[n][0] - gpu[n][0]:+.2f} |")
    return lines + [""]


def _another_draw(folder: Path) -> list[str]:
    """A CPU run on another kernel draw (data seed 1) of the first Set14 images: all four rows there."""
    condition = "Set14_x2_gaussian-kernel-div2krk_seed1"
    rows = {BASE: _records(folder, condition, "zssr:preset=ideal"),
            FINAL: _records(folder, condition, EDGES_LABEL),
            TRUE: _records(folder, condition, "zssr+true-kernel:preset=kernel")}
    names = sorted(set.intersection(*(set(r) for r in rows.values())))
    if not names:
        return []
    lines = [f"## Another kernel draw: Set14 data seed 1, the first {len(names)} images (CPU)", "",
             f"Run folder `{folder.relative_to(HERE.parent) if folder.is_relative_to(HERE.parent) else folder}` (command "
             "in its README): new random kernels for the same images; every row on the 2-core CPU.", "",
             "| image | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    lines += [f"| {n} | " + " | ".join(f"{r[n][0]:.2f}" for r in rows.values()) + " |" for n in names]
    b, m, t = (statistics.mean(r[n][0] for n in names) for r in rows.values())
    edges = rows[FINAL]
    above = sum(edges[n][0] > rows[BASE][n][0] for n in names)
    lines += ["", f"Mean {m:.2f} dB between {b:.2f} (bicubic kernel) and {t:.2f} (true kernel): **{(m - b) / (t - b):.0%}** "
              f"of the gap; above bicubic-kernel ZSSR on {above}/{len(names)} images.", ""]
    return lines


def report(args: argparse.Namespace) -> None:
    runs = Path(args.runs)
    lines = result_header("Table 2 protocol (×2, DIV2KRK-recipe kernels): ZSSR given the edge-profile kernel estimate")
    lines += [
        f"Runs: `{runs.relative_to(HERE.parent) if runs.is_relative_to(HERE.parent) else runs}` (H200; its README has the "
        "device commands and the commit of each run). Inputs: data seed 0, ZSSR seed 0, `kernel` preset for every given "
        "kernel, `ideal` for bicubic-kernel ZSSR. Cells: Y-PSNR (dB); G = GPU, C = CPU (2 cores). Every row except "
        "KernelGAN's and the cross-scale one ran on the same H200; those two are earlier runs of the same inputs (checked: "
        "bicubic PSNR identical).", "",
        "How the estimator was chosen: its parameters were set on scikit-image photos only "
        "(`edgeblur_tracking.md`). The first version was then run here once; its Set14 failures (zebra, monarch, "
        "coastguard read 0.4-0.6× too narrow) showed that fine texture defeats a wide re-blur. The re-blur width, "
        "derivative width and calibration were re-chosen on the scikit-image photos plus six texture-heavy ones, "
        "then frozen (commit 0e86c9b) and run here once. Set14 thus informed *what to fix*, not the numbers: both "
        "versions are reported.", "",
    ]
    for name in ("heldout", "Set14"):
        lines += _table(name, runs)
    lines += _cpu_check(runs, Path(args.cpu))
    lines += _another_draw(Path(args.seed1))
    write_result(Path(args.out), lines)
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--set", required=True, help="Set14, or a folder of HR photos (the held-out set)")
    r.add_argument("--data-root", default="../shared/data")
    r.add_argument("--out", required=True)
    r.add_argument("--methods", default=f"{EDGES_LABEL};{GENERIC_LABEL}", help="';'-separated method specs")
    r.add_argument("--device", default="auto")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--limit", type=int, default=None, help="the first N images only (dry runs)")
    r.add_argument("--data-seed", type=int, default=0, help="another random-kernel draw (Table 2: 0)")
    p = sub.add_parser("report")
    p.add_argument("--runs", default=str(RESULTS))
    p.add_argument("--out", default=str(HERE / "results" / "edgeblur_table2.md"))
    p.add_argument("--cpu", default=str(HERE / "results" / "cpu_edges_check"),
                   help="a CPU zssr bench folder with cells of the committed estimator's Set14 row")
    p.add_argument("--seed1", default=str(HERE / "results" / "cpu_edges_seed1"),
                   help="a CPU zssr bench folder of Set14 at data seed 1 (bicubic-kernel, edge, true-kernel rows)")
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
