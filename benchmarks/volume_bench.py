"""Volumes (issue #29, item 6): through-plane ×4 and in-plane ×2 on the MNI152 T1 template.

Data: the MNI152 T1 template that ships inside ``nilearn``'s wheel
(``nilearn.datasets.load_mni152_template(resolution=1)``: 1 mm isotropic, 197×233×189;
nothing is downloaded). Without nilearn the script says so and exits 2; ``--synthetic``
runs the same protocol on a small smooth phantom (for checking the script, not for results).

Through-plane ×4: slices made 4 mm thick (a Gaussian slice profile of FWHM 4 mm along z,
then every 4th slice from the first), restored to 1 mm. ZSSR's grid puts output voxel ``k``
at input position ``k − 1.5`` (the centred-block grid of ``imresize``; zssr.volume), so its
output is read at the truth's positions by cubic interpolation along z (a shift of 1.5
voxels). Rows: cubic interpolation along z (``scipy.interpolate.CubicSpline`` through the
slice positions) and through-plane ZSSR (``zssr.volume.upscale_volume(axis="z")``).

In-plane ×2: a slab of ``--slab`` axial slices from the middle, each downscaled ×2 by MATLAB
bicubic (``zssr.imresize``); rows: cubic interpolation, per-slice ZSSR (one net per slice)
and one-net ZSSR (one net for the slab).

Metrics: PSNR over the head (voxels of the HR volume above 5 % of its maximum) with the HR
volume's range as the data range, and SSIM (``skimage.metrics.structural_similarity``) in
3-D over the whole volume, same data range. Seconds are wall time on this machine. All
ZSSR rows use the same preset (``--preset``, named in the table).

ECLARE (Remedios et al., ``pip install eclare``) needs its own virtual environment (it pins
other packages); ``--eclare PATH/run-eclare`` runs that venv's command on the same thick
volume (saved as NIfTI, voxel 1×1×4 mm), its defaults unless ``--eclare-patches`` says
otherwise, on the CPU, and scores it like ZSSR. Its output has round(48·4) = 192 slices on
the same centred grid as ZSSR's (radifox ``resize(same_fov=True)``), so it is read at the
truth's positions the same way.

``--stardist-img3d PATH``: the functional check on stardist's ``img3d.tif`` (synthetic nuclei,
31×61×57 uint16, shipped in stardist's wheel: ``pip download --no-deps stardist`` and unzip
``stardist/data/images/img3d.tif``): ``zssr upscale`` on the file as a Z×Y×X stack must give a
uint16 Z×2Y×2X stack; and the stack downscaled ×2 in-plane is restored by one-net ZSSR and by
cubic interpolation (PSNR over the whole stack, its range as data range).

Usage: python benchmarks/volume_bench.py [--preset ideal] [--max-iterations N] [--slab 32]
       [--rows through,inplane,stardist] [--eclare RUN_ECLARE] [--eclare-patches N]
       [--stardist-img3d PATH] [--synthetic] [--save-inputs DIR] [--out FILE]
Writes benchmarks/results/volume_bench.md (or --out).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine import result_header, write_result
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d
from skimage.metrics import structural_similarity

from zssr.cli.options import parse_override
from zssr.resize import imresize
from zssr.volume import upscale_volume

RESULTS = Path(__file__).resolve().parent / "results"
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def load_template(synthetic: bool) -> tuple[np.ndarray, str]:
    """The HR volume (x, y, z; float32) and its name; exits 2 without nilearn (unless synthetic)."""
    if synthetic:
        rng = np.random.default_rng(0)
        grids = np.meshgrid(*[np.linspace(0, 1, n) for n in (48, 56, 44)], indexing="ij")
        field = sum(np.cos(2 * np.pi * sum(rng.uniform(0.5, 4) * g for g in grids) + rng.uniform(0, 6)) for _ in range(6))
        ball = sum((g - 0.5) ** 2 for g in grids) < 0.2
        return (np.where(ball, field - field.min(), 0.0) * 100).astype(np.float32), "synthetic phantom 48×56×44"
    try:
        from nilearn.datasets import load_mni152_template
    except ImportError:
        print("volume_bench: nilearn is not installed; the MNI152 template ships in its wheel: pip install nilearn "
              "(or run with --synthetic to check the script)", file=sys.stderr)
        sys.exit(2)
    image = load_mni152_template(resolution=1)
    data = np.asarray(image.get_fdata(dtype=np.float32))
    return data, f"MNI152 T1 template (nilearn), {'×'.join(map(str, data.shape))}, 1 mm"


def head_psnr(hr: np.ndarray, out: np.ndarray) -> float:
    """PSNR over the voxels above 5 % of the HR maximum, data range = the HR volume's range."""
    mask = hr > 0.05 * float(hr.max())
    mse = float(np.mean((hr[mask].astype(np.float64) - out[mask]) ** 2))
    span = float(hr.max() - hr.min())
    return math.inf if mse == 0 else 10.0 * math.log10(span * span / mse)


def ssim3d(hr: np.ndarray, out: np.ndarray) -> float:
    """3-D SSIM with the HR volume's range."""
    return float(structural_similarity(hr.astype(np.float64), out.astype(np.float64),
                                       data_range=float(hr.max() - hr.min())))


def thick_slices(hr: np.ndarray, factor: int) -> np.ndarray:
    """Slices ``factor`` mm thick: Gaussian profile of FWHM ``factor`` along z, every ``factor``-th slice from the first."""
    blurred = gaussian_filter1d(hr.astype(np.float64), factor / FWHM_PER_SIGMA, axis=2, mode="nearest")
    return blurred[:, :, ::factor].astype(np.float32)


def cubic_along_z(lr: np.ndarray, factor: int, depth: int) -> np.ndarray:
    """Cubic spline through slice ``j`` at position ``factor·j``, read at ``0 … depth−1``."""
    spline = CubicSpline(np.arange(lr.shape[2]) * factor, lr, axis=2)
    return spline(np.arange(depth)).astype(np.float32)


def on_truth_grid(out: np.ndarray, factor: int, depth: int) -> np.ndarray:
    """ZSSR's output (voxel ``k`` at position ``k − (factor−1)/2``) read at positions ``0 … depth−1``."""
    shift = (factor - 1) / 2.0
    spline = CubicSpline(np.arange(out.shape[2]) - shift, out, axis=2)
    return spline(np.arange(depth)).astype(np.float32)


def run_through(hr: np.ndarray, args: argparse.Namespace, rows: list[list[str]]) -> None:
    """Through-plane ×4 rows: cubic along z, through-plane ZSSR."""
    factor = 4
    lr = thick_slices(hr, factor)
    if args.save_inputs:
        _save_nifti(lr, (1.0, 1.0, float(factor)), Path(args.save_inputs) / f"thick_x{factor}.nii.gz")
    start = time.perf_counter()
    cubic = cubic_along_z(lr, factor, hr.shape[2])
    rows.append([f"through-plane ×{factor}", "cubic interpolation along z", "—", f"{head_psnr(hr, cubic):.2f}",
                 f"{ssim3d(hr, cubic):.4f}", f"{time.perf_counter() - start:.1f}"])
    run = upscale_volume(lr, factor, axes="YXZ", axis="z", spacing={"Y": 1.0, "X": 1.0, "Z": float(factor)},
                         preset=args.preset, seed=0, device=args.device, progress=not args.quiet,
                         **_overrides(args))
    out = on_truth_grid(np.asarray(run.volume.data), factor, hr.shape[2])
    rows.append([f"through-plane ×{factor}", "through-plane ZSSR (one net, Z×X and Z×Y planes averaged)", args.preset,
                 f"{head_psnr(hr, out):.2f}", f"{ssim3d(hr, out):.4f}", f"{run.seconds:.1f}"])
    if args.eclare:
        rows.append(run_eclare(hr, lr, factor, args))


def run_eclare(hr: np.ndarray, lr: np.ndarray, factor: int, args: argparse.Namespace) -> list[str]:
    """ECLARE's row: its command on the thick volume (NIfTI, 1×1×``factor`` mm), scored like ZSSR."""
    import nibabel as nib

    with tempfile.TemporaryDirectory(prefix="eclare-") as folder:
        source = Path(folder) / "thick.nii.gz"
        _save_nifti(lr, (1.0, 1.0, float(factor)), source)
        command = [args.eclare, "--in-fpath", str(source), "--out-dir", str(Path(folder) / "out")]
        if args.eclare_patches is not None:
            command += ["--n-patches", str(args.eclare_patches)]
        if args.eclare_thickness is not None:  # the true profile, as ZSSR gets it, instead of ESPRESO's estimate
            command += ["--relative-slice-thickness", str(args.eclare_thickness)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"volume_bench: ECLARE failed ({done.returncode}):\n{done.stderr[-2000:]}")
        if args.eclare_log:  # its own timings (ESPRESO, training + inference) and progress, for the record
            Path(args.eclare_log).write_text(done.stdout + done.stderr, encoding="utf-8")
        result = np.asarray(nib.load(str(Path(folder) / "out" / "thick_eclare.nii.gz")).get_fdata(dtype=np.float32))
    if result.shape[2] != round(lr.shape[2] * factor):
        raise SystemExit(f"volume_bench: ECLARE gave {result.shape}, expected {round(lr.shape[2] * factor)} slices")
    out = on_truth_grid(result, factor, hr.shape[2])
    budget = "its default budget" if args.eclare_patches is None else f"--n-patches {args.eclare_patches}"
    profile = ("slice profile estimated by ESPRESO" if args.eclare_thickness is None
               else f"Gaussian slice profile of FWHM {args.eclare_thickness:g} given")
    return [f"through-plane ×{factor}", f"ECLARE ({budget}, {profile})", "—",
            f"{head_psnr(hr, out):.2f}", f"{ssim3d(hr, out):.4f}", f"{seconds:.1f}"]


def run_inplane(hr: np.ndarray, args: argparse.Namespace, rows: list[list[str]]) -> None:
    """In-plane ×2 rows on a slab: cubic, per-slice ZSSR, one-net ZSSR."""
    middle = hr.shape[2] // 2
    slab = hr[:, :, max(0, middle - args.slab // 2): max(0, middle - args.slab // 2) + args.slab]
    planes = torch.from_numpy(np.ascontiguousarray(np.moveaxis(slab, 2, 0)))[:, None]  # Z×1×X×Y
    lr = imresize(planes, 0.5)
    h, w = slab.shape[:2]

    def back(stack: torch.Tensor | np.ndarray) -> np.ndarray:
        array = stack.numpy() if isinstance(stack, torch.Tensor) else stack
        return np.moveaxis(np.asarray(array).reshape(-1, *array.shape[-2:])[:, :h, :w], 0, 2)

    start = time.perf_counter()
    cubic = back(imresize(lr, 2.0)[:, 0])
    label = f"in-plane ×2, {slab.shape[2]} slices"
    rows.append([label, "cubic interpolation", "—", f"{head_psnr(slab, cubic):.2f}", f"{ssim3d(slab, cubic):.4f}",
                 f"{time.perf_counter() - start:.1f}"])
    lr_stack = lr[:, 0].numpy()
    start = time.perf_counter()
    per_slice = [np.asarray(upscale_volume(plane[None], 2, axes="ZYX", preset=args.preset, seed=0, device=args.device,
                                           **_overrides(args)).volume.data)[0] for plane in lr_stack]
    seconds = time.perf_counter() - start
    out = back(np.stack(per_slice))
    rows.append([label, "per-slice ZSSR (one net per slice)", args.preset, f"{head_psnr(slab, out):.2f}",
                 f"{ssim3d(slab, out):.4f}", f"{seconds:.1f}"])
    run = upscale_volume(lr_stack, 2, axes="ZYX", preset=args.preset, seed=0, device=args.device,
                         progress=not args.quiet, **_overrides(args))
    out = back(np.asarray(run.volume.data))
    rows.append([label, "one-net ZSSR (fathers from all slices)", args.preset, f"{head_psnr(slab, out):.2f}",
                 f"{ssim3d(slab, out):.4f}", f"{run.seconds:.1f}"])


def run_stardist(args: argparse.Namespace, rows: list[list[str]]) -> None:
    """The stardist img3d.tif check: the CLI on the file (dtype, shape), then in-plane ×2 restored (one net vs cubic)."""
    import tifffile

    source = Path(args.stardist_img3d)
    stack = tifffile.imread(source)
    with tempfile.TemporaryDirectory(prefix="img3d-") as folder:
        target = Path(folder) / "img3d_x2.tif"
        command = [sys.executable, "-m", "zssr", "upscale", str(source), "--axes", "ZYX", "-s", "2", "-o", str(target),
                   "--preset", args.preset, "--device", args.device, "--quiet", "--seed", "0"]
        command += ["--max-iterations", str(args.max_iterations)] if args.max_iterations is not None else []
        command += [f"--set={item}" for item in args.set or ()]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"volume_bench: zssr upscale failed on {source}: {done.stderr.strip()}")
        back = tifffile.imread(target)
    expected = (stack.shape[0], 2 * stack.shape[1], 2 * stack.shape[2])
    if back.dtype != stack.dtype or back.shape != expected:
        raise SystemExit(f"volume_bench: {source} ({stack.dtype}, {stack.shape}) came back {back.dtype} {back.shape}, "
                         f"expected {stack.dtype} {expected}")
    label = f"stardist img3d {'×'.join(map(str, stack.shape))} {stack.dtype}"
    rows.append([label, f"CLI `zssr upscale -s 2 --axes ZYX`: {back.dtype} {'×'.join(map(str, back.shape))} back",
                 args.preset, "—", "—", f"{seconds:.1f}"])
    hr = stack.astype(np.float32)
    h, w = (s - s % 2 for s in hr.shape[1:])
    hr = hr[:, :h, :w]
    lr = imresize(torch.from_numpy(hr)[:, None], 0.5)[:, 0]
    span = float(hr.max() - hr.min())

    def psnr(out: np.ndarray) -> str:
        return f"{10 * math.log10(span * span / float(np.mean((hr.astype(np.float64) - out) ** 2))):.2f}"

    start = time.perf_counter()
    cubic = imresize(lr[:, None], 2.0)[:, 0].numpy()
    rows.append([f"{label}, in-plane ×2", "cubic interpolation", "—", psnr(cubic),
                 f"{structural_similarity(hr, cubic, data_range=span):.4f}", f"{time.perf_counter() - start:.1f}"])
    run = upscale_volume(lr.numpy(), 2, axes="ZYX", preset=args.preset, seed=0, device=args.device,
                         progress=not args.quiet, **_overrides(args))
    out = np.asarray(run.volume.data, dtype=np.float32)
    rows.append([f"{label}, in-plane ×2", "one-net ZSSR", args.preset, psnr(out),
                 f"{structural_similarity(hr, out, data_range=span):.4f}", f"{run.seconds:.1f}"])


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if args.max_iterations is not None:
        overrides["max_iterations"] = args.max_iterations
    for item in args.set or ():
        name, value = parse_override(item)
        overrides[name] = value
    return overrides


def _save_nifti(data: np.ndarray, zooms: tuple[float, float, float], path: Path) -> None:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([*zooms, 1.0])), str(path))


def main() -> None:
    """Parse the options, run the rows, write the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="ideal")
    p.add_argument("--max-iterations", type=int)
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a Config override, as zssr upscale --set")
    p.add_argument("--slab", type=int, default=32)
    p.add_argument("--rows", default="through,inplane")
    p.add_argument("--device", default="cpu")
    p.add_argument("--eclare", metavar="RUN_ECLARE", help="ECLARE's run-eclare command (in its own venv)")
    p.add_argument("--eclare-patches", type=int, help="ECLARE's --n-patches (default: its own, 1,000,000)")
    p.add_argument("--eclare-thickness", type=float, metavar="FWHM",
                   help="give ECLARE the Gaussian slice profile (--relative-slice-thickness) instead of its estimate")
    p.add_argument("--eclare-log", metavar="FILE", help="keep ECLARE's own output (its timings) in FILE")
    p.add_argument("--stardist-img3d", metavar="PATH", help="stardist's img3d.tif, for the functional check")
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--save-inputs", metavar="DIR")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    hr, name = load_template(args.synthetic)
    rows: list[list[str]] = []
    wanted = {r.strip() for r in args.rows.split(",")}
    if "through" in wanted:
        run_through(hr, args, rows)
    if "inplane" in wanted:
        run_inplane(hr, args, rows)
    if "stardist" in wanted or args.stardist_img3d:
        if not args.stardist_img3d:
            raise SystemExit("volume_bench: the stardist row needs --stardist-img3d PATH")
        run_stardist(args, rows)
    lines = result_header("Volumes: through-plane ×4 and in-plane ×2 (issue #29)")
    lines += [f"Data: {name}. PSNR over the head (HR > 5 % of max), data range = HR range; SSIM in 3-D.", ""]
    lines += ["| task | method | preset | PSNR (dB) | SSIM | seconds |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    out = args.out or RESULTS / ("volume_bench_synthetic.md" if args.synthetic else "volume_bench.md")
    write_result(out, lines)


if __name__ == "__main__":
    main()
