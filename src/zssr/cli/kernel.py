"""``zssr kernel``: make, show, compose or estimate downscaling kernel files."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .._atomic import check_writable, say
from .._validate import scale_value
from ..errors import ImageWriteError, KernelError, ScaleError
from ..io import read_image, to_tensor
from ..kernels import (
    center_of_mass,
    compose_x4,
    gaussian_kernel,
    kernel_picture,
    random_gaussian_kernel,
    save_kernel,
)
from ..kernels.validate import MAX_FACTOR, MAX_SIDE
from ..pipeline import resolve_device
from ..task import ESTIMATORS, kernel_estimator, read_kernel
from .inputs import check_not_inputs, clear_stale_temps
from .options import Parser, add_run_options, output_file, seed_argument

_KERNEL_FILE_SUFFIXES = (".mat", ".npy", ".txt", ".csv")


def add_parser(sub: Any) -> None:
    """Register ``zssr kernel`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "kernel",
        help="make, show, compose or estimate downscaling kernels",
        description="Downscaling kernels as files (.mat with variable Kernel, as the authors' code reads; "
        ".npy, .txt, .csv; .png writes a picture only).",
    )
    ksub = p.add_subparsers(dest="kernel_command", metavar="ACTION", required=True, parser_class=Parser)

    g = ksub.add_parser(
        "gaussian", help="an anisotropic Gaussian kernel (given or random)",
        description="Write an anisotropic Gaussian kernel: given sigmas and angle, or drawn at random "
        "(--random) by the paper's §4.2 recipe ('zssr') or KernelGAN's DIV2KRK one ('div2krk').",
    )
    g.add_argument("--size", type=int, metavar="N", help="side in pixels (default: 2·ceil(3σ)+1, or the recipe's)")
    g.add_argument("--sigma", type=float, nargs=2, metavar=("SY", "SX"), help="standard deviations in pixels")
    g.add_argument("--theta", type=float, metavar="T", help="rotation in radians (default 0)")
    g.add_argument("--random", action="store_true", help="draw the kernel at random")
    g.add_argument("--scale", type=float, metavar="S", help="SR factor the random kernel is for")
    g.add_argument("--seed", type=seed_argument, default=0, metavar="N",
                   help="seed for --random, an integer in [0, 2**63) (default 0)")
    g.add_argument("--recipe", choices=("zssr", "div2krk"), default="zssr", help="random recipe (default zssr)")
    g.add_argument("-o", "--output", type=output_file, required=True, metavar="FILE", help="kernel file (.mat/.npy/.txt/.csv/.png)")
    g.set_defaults(handler=_cmd_kernel_gaussian)

    s = ksub.add_parser("show", help="save a picture of a kernel", description="Save a PNG picture of a kernel file.")
    s.add_argument("kernel", metavar="FILE", help="kernel file")
    s.add_argument("-o", "--output", type=output_file, metavar="PNG", help="picture to write (default: FILE with .png)")
    s.set_defaults(handler=_cmd_kernel_show)

    c = ksub.add_parser(
        "compose", help="turn a ×2 kernel into the ×4 kernel of two ×2 steps",
        description="The ×4 kernel of two successive ×2 downscales with the same kernel (KernelGAN's rule).",
    )
    c.add_argument("kernel", metavar="FILE", help="the ×2 kernel file")
    c.add_argument("-o", "--output", type=output_file, required=True, metavar="FILE", help="the ×4 kernel file")
    c.add_argument("--size", type=int, metavar="N", help="centre-crop to N×N (default: full support 3k−2)")
    c.set_defaults(handler=_cmd_kernel_compose)

    e = ksub.add_parser(
        "estimate", help="estimate an image's downscaling kernel",
        description="Estimate the downscaling kernel of an LR image from the image alone: by default from the "
        "blur across its strongest edges (zssr.kernel_estimation, instant), or with KernelGAN (Bell-Kligler et al. 2019, "
        "trained on the image; about a minute on 2 cores). Also writes a picture <stem>.png next to the "
        "output.",
    )
    e.add_argument("input", metavar="IN", help="the LR image (at least 84×84)")
    e.add_argument("-s", "--scale", type=float, default=2.0, metavar="S",
                   help="SR factor (default 2; edges: the kernel scales with it; KernelGAN: ×4 composes ×2)")
    e.add_argument("-o", "--output", type=output_file, required=True, metavar="FILE", help="kernel file (.mat/.npy/.txt/.csv/.png)")
    e.add_argument("--estimator", choices=ESTIMATORS, default="edges",
                   help="'edges' (default: the blur across the strongest edges) or 'kernelgan'")
    e.add_argument("--iterations", type=int, metavar="N",
                   help="for --estimator kernelgan: training iterations (authors: 3000)")
    e.add_argument("--restarts", type=int, metavar="N",
                   help="for --estimator kernelgan: seeds to retry after a degenerate estimate (default 2)")
    e.add_argument("--width-correction", action="store_true",
                   help="for --estimator kernelgan: widen the kernel by 2/sqrt(3): closer to the true blur (LR "
                   "re-synthesis), but not the better kernel to give ZSSR (see zssr.kernel_estimation)")
    add_run_options(e)
    e.set_defaults(handler=_cmd_kernel_estimate)


def _check_kernel_output(path: Path, *, inputs: Sequence[Path] = ()) -> None:
    suffixes = _KERNEL_FILE_SUFFIXES + (".png",)
    if path.suffix.lower() not in suffixes:
        raise ImageWriteError(f"kernel output {path} must end in {', '.join(suffixes)}, got {path.suffix or 'no suffix'!r}")
    if not path.parent.is_dir():
        raise ImageWriteError(f"cannot write {path}: output folder {path.parent} does not exist")
    check_not_inputs([path], inputs)
    check_writable(path.parent, what="output folder")
    clear_stale_temps([path])


def _describe_kernel(k: torch.Tensor) -> str:
    cy, cx = center_of_mass(k)
    return f"{k.shape[0]}×{k.shape[1]}, sum {float(k.sum()):.6g}, centre of mass ({cy:.2f}, {cx:.2f})"


def _cmd_kernel_gaussian(args: argparse.Namespace) -> int:
    out = Path(args.output)
    _check_kernel_output(out)
    if args.random:
        if args.sigma is not None or args.theta is not None:
            raise KernelError("--random draws sigma and theta itself; do not pass --sigma or --theta with it")
        if args.scale is None:
            raise ScaleError("--random needs --scale S (the SR factor the kernel is for)")
        k = random_gaussian_kernel(args.scale, generator=args.seed, recipe=args.recipe, size=args.size)
        what = f"random ({args.recipe}, ×{args.scale:g}, seed {args.seed})"
    else:
        if args.sigma is None:
            raise KernelError("give --sigma SY SX (and optionally --theta), or --random --scale S")
        if args.scale is not None:
            raise ScaleError("--scale is for --random kernels; a given Gaussian is set by --sigma and --theta")
        sy, sx = args.sigma
        size = args.size
        if size is None:
            spread = max(abs(sy), abs(sx)) if all(math.isfinite(v) for v in (sy, sx)) else 1.0
            size = 2 * math.ceil(3.0 * spread) + 1  # ±3σ
            if size > MAX_SIDE:
                raise KernelError(f"--sigma {sy:g} {sx:g} needs a {float(size):.3g}-tap kernel (±3σ); at most {MAX_SIDE} taps "
                                  "per side: give smaller sigmas (or --size to crop)")
        k = gaussian_kernel(size, sy, sx, 0.0 if args.theta is None else args.theta)
        what = f"gaussian σ=({sy:g}, {sx:g}), θ={args.theta or 0.0:g} rad"
    save_kernel(k, out)
    print(f"{out}: {what}, {_describe_kernel(k)}")
    return 0


def _cmd_kernel_show(args: argparse.Namespace) -> int:
    source = Path(args.kernel)
    k = read_kernel(source)
    out = Path(args.output) if args.output is not None else source.with_suffix(".png")
    if out.suffix.lower() != ".png":
        raise ImageWriteError(f"kernel picture {out} must end in .png, got {out.suffix or 'no suffix'!r}")
    _check_kernel_output(out, inputs=[source])
    kernel_picture(k, out)
    print(f"{out}: {_describe_kernel(k)}")
    return 0


def _cmd_kernel_compose(args: argparse.Namespace) -> int:
    source, out = Path(args.kernel), Path(args.output)
    k2 = read_kernel(source)
    _check_kernel_output(out, inputs=[source])
    k4 = compose_x4(k2, size=args.size)
    save_kernel(k4, out)
    print(f"{out}: ×4 from ×2 {k2.shape[0]}×{k2.shape[1]}, {_describe_kernel(k4)}")
    return 0


def _kernel_picture_path(out: Path) -> Path | None:
    return None if out.suffix.lower() == ".png" else out.with_suffix(".png")


def _cmd_kernel_estimate(args: argparse.Namespace) -> int:
    source, out = Path(args.input), Path(args.output)
    picture_path = _kernel_picture_path(out)
    _check_kernel_output(out, inputs=[source])
    if picture_path is not None:
        check_not_inputs([picture_path], [source])
    scale_value(args.scale, "--scale", minimum=1.0, strict=False, hint=" (an SR factor)")
    if args.scale > MAX_FACTOR:
        raise ScaleError(f"--scale must be at most {MAX_FACTOR:g} to estimate a kernel (a larger one is never usable), "
                         f"got {args.scale!r}")
    estimate_kernel = kernel_estimator(args.estimator, iterations=args.iterations, restarts=args.restarts,
                                        width_correction=args.width_correction,
                                        flags=("--iterations", "--restarts", "--width-correction"))
    device = resolve_device(args.device)
    picture = read_image(source)
    estimate = estimate_kernel(to_tensor(picture.color), args.scale, args.seed, device, not args.quiet)
    save_kernel(estimate.kernel, out)
    if picture_path is not None:
        kernel_picture(estimate.kernel, picture_path)
    written = f"{out}" + (f" and {picture_path}" if picture_path is not None else "")
    name, detail = ("KernelGAN", f", {estimate.iterations} iterations") if args.estimator == "kernelgan" else ("edge-profile", "")
    print(f"{written}: ×{args.scale:g} {name} kernel, {_describe_kernel(estimate.kernel)}{detail} in {estimate.seconds:.1f} s")
    if not estimate.reliable:
        say(f"zssr: warning: {source}: the estimated kernel is degenerate ({estimate.spread:.0%} of its mass "
            f"far from its centre, seeds {', '.join(map(str, estimate.seeds))}); do not use it")
    return 0
