"""``zssr resize``: MATLAB ``imresize`` (or a numeric-kernel downscale) of image files."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from ..errors import ScaleError, ZSSRError
from ..io import Picture, read_image, to_array, to_tensor, write_image
from ..kernels import align_kernel, downscale
from ..limits import check_resize
from ..resize import INTERP_KERNELS, imresize, output_size
from ..task import read_kernel, resize_alpha
from .inputs import (
    check_readable,
    clear_stale_temps,
    no_empty_folders_left,
    plan_jobs,
)
from .options import add_outputs, parse_factor_pair, parse_size


def add_parser(sub: Any) -> None:
    """Register ``zssr resize`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "resize",
        help="resize images exactly like MATLAB imresize (or downscale with a numeric kernel)",
        description="Resize like MATLAB imresize: 8-bit images take MATLAB's uint8 path (rounded after each "
        "pass, bit-exact), 16-bit and float images the float path. --kernel downscales with a numeric kernel "
        "(the authors' numeric_kernel), e.g. to make LR test images.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders of images")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--scale", metavar="S", help="factor, or vertical x horizontal (0.5 or 0.5x0.25)")
    how.add_argument("--size", metavar="HxW", help="output size in pixels, e.g. 256x320")
    method = p.add_mutually_exclusive_group()
    method.add_argument("--method", choices=sorted(INTERP_KERNELS), default="cubic", help="interpolation (default cubic)")
    method.add_argument("--kernel", metavar="FILE", help="downscale with this kernel (.mat/.npy/.txt/.csv) instead")
    p.add_argument("--no-antialias", action="store_true", help="do not widen the kernel when shrinking")
    add_outputs(p)
    p.set_defaults(handler=_cmd_resize)


def _cmd_resize(args: argparse.Namespace) -> int:
    scale = parse_factor_pair(args.scale, "--scale") if args.scale is not None else None
    size = parse_size(args.size) if args.size is not None else None
    kernel = read_kernel(args.kernel) if args.kernel is not None else None
    if kernel is not None:
        if args.no_antialias:
            raise ZSSRError("--no-antialias applies to --method interpolation, not to --kernel")
        if scale is not None and (max(scale) > 1.0 or min(scale) == 1.0):
            raise ScaleError(f"--kernel only downscales: --scale must be < 1 (<= 1 on one axis), got {args.scale!r}")
    jobs = plan_jobs(args.inputs, args.output, args.out_dir)
    sources = [source for source, _ in jobs]
    shapes = check_readable(sources, min_side=1)  # all or nothing: a bad file in a folder stops the run before any write
    for source, (h, w, c) in zip(sources, shapes):
        check_resize(str(source), (h, w), c, scale, size)
    clear_stale_temps(t for _, t in jobs)
    with no_empty_folders_left(t for _, t in jobs):
        for source, target in jobs:
            picture = read_image(source)
            color, alpha = _resize_picture(picture, scale, size, kernel, args.method, not args.no_antialias)
            if args.out_dir is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
            write_image(
                target, color, alpha=alpha, bit_depth=picture.bit_depth, icc_profile=picture.icc_profile,
                protect=sources,
            )
            print(f"{target}: {picture.height}×{picture.width} → {color.shape[0]}×{color.shape[1]}")
    return 0


def _resize_picture(
    picture: Picture,
    scale: tuple[float, float] | None,
    size: tuple[int, int] | None,
    kernel: torch.Tensor | None,
    method: str,
    antialias: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize colour (and alpha) of one picture; 8-bit sources take MATLAB's uint8 path."""
    h, w = picture.height, picture.width
    x = to_tensor(picture.color)
    if kernel is None:
        y = imresize(x, scale, size=size, method=method, antialias=antialias,  # type: ignore[arg-type]
                     quantize=picture.bit_depth == 8)
        used_scale, out = output_size((h, w), scale, size)
        return to_array(y.clamp(0.0, 1.0)), resize_alpha(picture.alpha, used_scale, out)
    # Numeric kernel: factor = 1/scale (or in/out sizes), the output size as imresize would give it.
    used_scale, out = output_size((h, w), scale, size)
    factor = (h / out[0], w / out[1]) if scale is None else (1.0 / used_scale[0], 1.0 / used_scale[1])
    if min(factor) < 1.0 or factor == (1.0, 1.0):
        raise ScaleError(f"--kernel only downscales: {h}×{w} cannot be reduced to {out[0]}×{out[1]} with it")
    y = downscale(x.double(), align_kernel(kernel, factor), factor, size=out)
    return to_array(y.clamp(0.0, 1.0)), resize_alpha(picture.alpha, used_scale, out)
