"""The ``zssr`` command: resize, metrics, kernels, ZSSR upscaling and a demo.

Every subcommand is a thin layer over the library: it parses and checks its
arguments, plans every output path before the first (possibly hour-long) run,
calls the library and writes results atomically through :mod:`zssr.io`.

Conventions of the command line:
    * A bad input of any kind (missing or non-image file, bad scale, kernel,
      preset, ``--set`` value, an output that would overwrite an input, an
      unavailable device) prints one line ``zssr: error: <message>`` on stderr
      and exits with status 2, with no traceback; Ctrl-C exits with 130.
    * Outputs keep the input's bit depth, alpha plane and ICC profile, never
      overwrite an input, and never appear half-written.
    * Scales are ``vertical x horizontal`` (``0.5x0.25``); sizes are ``HxW``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import json
import math
import os
import sys
import tempfile
import typing
import warnings
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from .config import PRESET_DOCS, PRESETS, Config, resolve_config
from .errors import (
    ConfigError, ImageReadError, ImageWriteError, KernelError, ScaleError, ShapeError, StructureError, ZSSRError,
)
from .io import IMAGE_SUFFIXES, Picture, collect_inputs, output_path_for, read_image, to_array, to_tensor, write_image
from .kernels import (
    align_kernel,
    center_of_mass,
    compose_x4,
    downscale,
    gaussian_kernel,
    kernel_picture,
    load_kernel,
    random_gaussian_kernel,
    save_kernel,
)
from .metrics import evaluate
from .pipeline import MIN_INPUT_SIDE, TqdmProgress, UpscaleResult, parse_scale, plan_steps, resolve_device, upscale_tensor
from .resize import INTERP_KERNELS, imresize, output_size

__all__ = ["build_parser", "main", "parse_override"]

#: Exit status for bad input (argparse's own convention) and for Ctrl-C (128 + SIGINT).
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_KERNEL_FILE_SUFFIXES = (".mat", ".npy", ".txt", ".csv")
_DEVICE_HELP = "auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps"

#: Demo crops: (top, left) of a 160×160 HR region with texture (face, eyes, spoon)
#: rather than flat background, so the bicubic/ZSSR difference is visible. The LR
#: image is the whole training crop (fast preset: 400 iterations on 80×80 at ×2);
#: 192 px HR took ~6 CPU-minutes, 160 px keeps the demo near 2–3 min on two cores.
_DEMO_SIDE = 160
_DEMO_CROPS: dict[str, tuple[int, int]] = {
    "astronaut": (24, 128),
    "chelsea": (60, 130),
    "coffee": (100, 230),
}


class _UsageError(Exception):
    """An argparse error, re-raised so that ``main`` prints it as one line like every other error."""


class _Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (``zssr: error: …``), not usage + message."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zssr`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # restored on exit by catch_warnings
            parser = build_parser()
            args = parser.parse_args(argv)
            return int(args.handler(args) or 0)
    except SystemExit as exc:  # --help, --version, or a handler that exits
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(f"zssr: error: {_one_line(exc.code)}", file=sys.stderr)
        return 1
    except (_UsageError, ZSSRError, OSError) as exc:
        print(f"zssr: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except torch.cuda.OutOfMemoryError as exc:
        print(f"zssr: error: out of GPU memory ({_one_line(exc).split('.')[0]}); try --device cpu", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nzssr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None,
) -> None:
    """Warnings as one line too (not the file/line/source block Python prints by default)."""
    print(f"zssr: warning: {_one_line(message)}", file=sys.stderr)


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The full ``zssr`` parser; each subcommand stores its handler in ``args.handler``."""
    parser = _Parser(
        prog="zssr",
        description="Zero-Shot Super-Resolution (Shocher, Cohen & Irani, CVPR 2018) with MATLAB-exact resampling.",
        epilog="Run 'zssr COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    _add_upscale(sub)
    _add_resize(sub)
    _add_metrics(sub)
    _add_kernel(sub)
    _add_demo(sub)
    _add_bench(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zssr")
    except PackageNotFoundError:
        return "unknown"


def _add_outputs(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("-o", "--output", metavar="OUT", help="output file (one input only); its suffix picks the format")
    group.add_argument("--out-dir", metavar="DIR", help="output folder (created if needed); input file names are kept")


def _add_upscale(sub: Any) -> None:
    presets = "\n".join(f"  {name:8s} {PRESET_DOCS.get(name, '')}" for name in PRESETS)
    p = sub.add_parser(
        "upscale",
        help="super-resolve images with ZSSR (trained on each image alone)",
        description="Super-resolve each image with ZSSR: a small CNN is trained on the image itself\n"
        "(paper §3) and then applied to it, with self-ensemble and back-projection.",
        epilog=f"presets:\n{presets}\n\nexamples:\n"
        "  zssr upscale photo.png -s 2 -o photo_x2.png\n"
        "  zssr upscale in/ -s 4 --preset gradual --out-dir out/\n"
        "  zssr upscale photo.png -s 2 --kernel auto -o photo_x2.png --save-curves\n"
        "  zssr upscale photo.png -s 2 -o x2.png --set max_iterations=500 --set crop_size=96",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders of images")
    p.add_argument(
        "-s", "--scale", required=True, metavar="S",
        help="target factor (2; the preset's gradual pattern applies), vertical x horizontal (1.5x2), "
        "or explicit steps each relative to the input (1.5,2)",
    )
    _add_outputs(p)
    p.add_argument("--preset", choices=sorted(PRESETS), help="configuration preset (default: ideal, or kernel with --kernel)")
    p.add_argument(
        "--kernel", metavar="FILE|auto",
        help="downscaling kernel of the input (.mat/.npy/.txt/.csv), or 'auto' to estimate it (see --estimator; "
        "saved as <out>_kernel.mat/.png)",
    )
    p.add_argument("--estimator", choices=ESTIMATORS, default="edges",
                   help="for --kernel auto: 'edges' (default; the blur across the strongest edges, instant, 57%% of "
                   "Table 2's gap) or 'kernelgan' (KernelGAN, about a minute on 2 cores, 45%%)")
    p.add_argument("--kernel-iterations", type=int, metavar="N",
                   help="for --estimator kernelgan: training iterations (authors: 3000)")
    p.add_argument("--kernel-restarts", type=int, metavar="N",
                   help="for --estimator kernelgan: seeds to retry after a degenerate estimate (default 2)")
    p.add_argument("--width-correction", action="store_true",
                   help="for --estimator kernelgan: widen the kernel by 2/sqrt(3) (closer to the true blur, "
                   "but ZSSR usually does worse with it; see zssr.kernel_estimation)")
    p.add_argument("--noise-std", type=float, metavar="F", help="std of the noise added to the LR sons (real preset: 0.0125)")
    p.add_argument("--no-back-projection", action="store_true", help="skip back-projection (for noisy inputs)")
    p.add_argument("--gradual", type=int, metavar="N", help="reach a single target in N equal steps")
    p.add_argument("--max-iterations", type=int, metavar="N", help="training iterations per step at most")
    _add_run_options(p, seed_help="seed of weights, crops and noise (default 0)")
    p.add_argument("--save-curves", action="store_true", help="also write <out>_curves.png (loss, error, learning rate)")
    p.add_argument(
        "--set", action="append", metavar="FIELD=VALUE",
        help="override any Config field, e.g. crop_size=96, allow_rotation=false, back_projection_iters=6,8, "
        "gradual_pattern=0.5x0.5,1x1 (repeatable; applied last)",
    )
    p.set_defaults(handler=_cmd_upscale)


def _add_run_options(p: argparse.ArgumentParser, *, seed_help: str = "seed (default 0)") -> None:
    """``--seed``, ``--device`` and ``-q``: shared by every command that trains something."""
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--device", default="auto", help=_DEVICE_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _add_resize(sub: Any) -> None:
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
    _add_outputs(p)
    p.set_defaults(handler=_cmd_resize)


def _add_metrics(sub: Any) -> None:
    p = sub.add_parser(
        "metrics",
        help="PSNR/SSIM under the MATLAB protocol of the SR papers",
        description="PSNR and SSIM on the luminance Y of MATLAB rgb2ycbcr with the border shaved (the "
        "protocol behind the paper's tables). Folders are matched by file name.",
    )
    p.add_argument("--reference", required=True, metavar="A", help="ground-truth image or folder")
    p.add_argument("--test", required=True, metavar="B", help="image or folder to score")
    border = p.add_mutually_exclusive_group()
    border.add_argument("--scale", metavar="S", help="SR factor: shaves round(S) pixels per side")
    border.add_argument("--shave", type=int, metavar="N", help="pixels to shave per side (default 0)")
    p.add_argument("--rgb", action="store_true", help="score all RGB channels instead of Y")
    p.add_argument("--json", action="store_true", help="print JSON (per image and mean) instead of a table")
    p.set_defaults(handler=_cmd_metrics)


def _add_kernel(sub: Any) -> None:
    p = sub.add_parser(
        "kernel",
        help="make, show, compose or estimate downscaling kernels",
        description="Downscaling kernels as files (.mat with variable Kernel, as the authors' code reads; "
        ".npy, .txt, .csv; .png writes a picture only).",
    )
    ksub = p.add_subparsers(dest="kernel_command", metavar="ACTION", required=True, parser_class=_Parser)

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
    g.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    g.add_argument("--recipe", choices=("zssr", "div2krk"), default="zssr", help="random recipe (default zssr)")
    g.add_argument("-o", "--output", required=True, metavar="FILE", help="kernel file (.mat/.npy/.txt/.csv/.png)")
    g.set_defaults(handler=_cmd_kernel_gaussian)

    s = ksub.add_parser("show", help="save a picture of a kernel", description="Save a PNG picture of a kernel file.")
    s.add_argument("kernel", metavar="FILE", help="kernel file")
    s.add_argument("-o", "--output", metavar="PNG", help="picture to write (default: FILE with .png)")
    s.set_defaults(handler=_cmd_kernel_show)

    c = ksub.add_parser(
        "compose", help="turn a ×2 kernel into the ×4 kernel of two ×2 steps",
        description="The ×4 kernel of two successive ×2 downscales with the same kernel (KernelGAN's rule).",
    )
    c.add_argument("kernel", metavar="FILE", help="the ×2 kernel file")
    c.add_argument("-o", "--output", required=True, metavar="FILE", help="the ×4 kernel file")
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
    e.add_argument("-o", "--output", required=True, metavar="FILE", help="kernel file (.mat/.npy/.txt/.csv/.png)")
    e.add_argument("--estimator", choices=ESTIMATORS, default="edges",
                   help="'edges' (default: the blur across the strongest edges) or 'kernelgan'")
    e.add_argument("--iterations", type=int, metavar="N",
                   help="for --estimator kernelgan: training iterations (authors: 3000)")
    e.add_argument("--restarts", type=int, metavar="N",
                   help="for --estimator kernelgan: seeds to retry after a degenerate estimate (default 2)")
    e.add_argument("--width-correction", action="store_true",
                   help="for --estimator kernelgan: widen the kernel by 2/sqrt(3): closer to the true blur (LR "
                   "re-synthesis), but not the better kernel to give ZSSR (see zssr.kernel_estimation)")
    _add_run_options(e)
    e.set_defaults(handler=_cmd_kernel_estimate)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="bicubic vs ZSSR on a photo shipped with scikit-image",
        description="Crop a photo from scikit-image, downscale it with MATLAB bicubic, then compare bicubic "
        "upscaling with ZSSR (Y-PSNR, as in the paper) and write the images and a comparison figure.",
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="fast", help="ZSSR preset (default fast)")
    p.add_argument("--scale", type=float, default=2.0, metavar="S", help="SR factor (default 2)")
    p.add_argument("--out-dir", default="zssr-demo", metavar="DIR", help="output folder (default ./zssr-demo)")
    p.add_argument("--max-iterations", type=int, metavar="N", help="training iterations at most")
    p.add_argument("--image", choices=sorted(_DEMO_CROPS), default="astronaut", help="photo (default astronaut)")
    _add_run_options(p)
    p.set_defaults(handler=_cmd_demo)


def _add_bench(sub: Any) -> None:
    """Register ``zssr bench`` when :mod:`zssr.bench` provides its two hooks (it is optional)."""
    try:
        bench = importlib.import_module("zssr.bench")
    except ImportError:
        return
    add = getattr(bench, "add_bench_arguments", None)
    run = getattr(bench, "run_bench", None)
    if not (callable(add) and callable(run)):
        return
    summary = (bench.__doc__ or "run the paper-table benchmarks").strip().splitlines()[0]
    p = sub.add_parser("bench", help=summary, description=summary)
    add(p)
    p.set_defaults(handler=run)


# ----------------------------------------------------------------------------- shared helpers


def _parse_factor_pair(text: str, name: str) -> tuple[float, float]:
    """``"0.5"`` or ``"0.5x0.25"`` (vertical x horizontal) as two finite positive floats."""
    fields = str(text).strip().lower().split("x")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2:
        raise ScaleError(f"{name} must be a number or VERTICALxHORIZONTAL (e.g. 0.5 or 0.5x0.25), got {text!r}")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ScaleError(f"{name} must be finite and > 0, got {text!r}")
    return values[0], values[1]


def _parse_size(text: str) -> tuple[int, int]:
    fields = str(text).strip().lower().split("x")
    try:
        values = [int(f) for f in fields]
    except ValueError:
        values = []
    if len(values) != 2 or min(values) < 1:
        raise ScaleError(f"--size must be HEIGHTxWIDTH in pixels, both >= 1 (e.g. 256x320), got {text!r}")
    return values[0], values[1]


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _check_not_inputs(outputs: Iterable[Path], inputs: Sequence[Path]) -> None:
    """Refuse outputs that are an input or are written twice (checked before any work)."""
    seen: dict[Path, Path] = {}
    for out in outputs:
        for source in inputs:
            if _same_path(out, source):
                raise ImageWriteError(f"output {out} is the input {source}; refusing to overwrite an input")
        key = out.resolve()
        if key in seen:
            raise ImageWriteError(f"two outputs would be written to the same file {out}; use distinct names")
        seen[key] = out
        if out.is_dir():
            raise ImageWriteError(f"output {out} is a folder, expected a file name")


def _plan_jobs(inputs: Sequence[str], output: str | None, out_dir: str | None) -> list[tuple[Path, Path]]:
    """Pair each input image with its output path, and check every path before any work."""
    sources = collect_inputs(list(inputs))
    if output is not None:
        if len(sources) != 1:
            raise ImageWriteError(
                f"-o/--output names one file but {len(sources)} input images were given; use --out-dir for several"
            )
        targets = [Path(output)]
        if not targets[0].parent.is_dir():
            raise ImageWriteError(f"cannot write {targets[0]}: output folder {targets[0].parent} does not exist")
    else:
        folder = Path(str(out_dir))
        if folder.exists() and not folder.is_dir():
            raise ImageWriteError(f"--out-dir {folder} exists and is not a folder")
        targets = [output_path_for(source, folder) for source in sources]
    for target in targets:
        if target.suffix.lower() not in IMAGE_SUFFIXES:
            raise ImageWriteError(
                f"output {target} must end in one of {', '.join(sorted(IMAGE_SUFFIXES))}, got {target.suffix or 'no suffix'!r}"
            )
    _check_not_inputs(targets, sources)
    return list(zip(sources, targets))


def _check_readable(sources: Iterable[Path], *, min_side: int = MIN_INPUT_SIDE, why: str = "") -> None:
    """Decode every input once before any output is written, and check its size.

    A folder run fails on its first bad file before training anything, rather than
    hours later with earlier outputs already written (raises ImageReadError/ShapeError).
    """
    for source in sources:
        h, w = read_image(source).color.shape[:2]
        if min(h, w) < min_side:
            raise ShapeError(f"{source}: image must be at least {min_side}×{min_side} pixels{why}, got {h}×{w}")


def _resize_alpha(alpha: np.ndarray | None, scale: tuple[float, float], size: tuple[int, int]) -> np.ndarray | None:
    """Alpha is resampled bicubically (never learned), clipped to [0, 1]."""
    if alpha is None:
        return None
    plane = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None]
    return imresize(plane, scale, size=size).clamp(0.0, 1.0)[0, 0].numpy()


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, then ``os.replace``: never a half-written file under ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_figure(fig: Any, path: Path) -> None:
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    _write_bytes_atomic(path, buffer.getvalue())


def _progress_factory(quiet: bool) -> Callable[..., Any] | None:
    return None if quiet else partial(TqdmProgress, file=sys.stderr, leave=False)


def _fmt_scale(sf: Sequence[float]) -> str:
    return f"×{sf[0]:g}" if sf[0] == sf[1] else f"×{sf[0]:g}x{sf[1]:g}"


# ----------------------------------------------------------------------------- --set FIELD=VALUE


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``FIELD=VALUE`` into a :class:`~zssr.config.Config` field name and a typed value.

    The value is read by the field's declared type, so every field can be set
    from the command line: ``int``, ``float``, ``bool`` (true/false, yes/no, on/off,
    1/0), ``str`` and tuples, written comma-separated with ``x`` inside pairs
    (``back_projection_iters=6,8``, ``adam_betas=0.9,0.99``,
    ``gradual_pattern=0.5x0.5,1x1``) or as a Python literal (``((0.5, 0.5), (1, 1))``).

    Raises:
        ConfigError: no ``=``, an unknown field, or a value of the wrong type.
    """
    name, sep, raw = str(text).partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(f"--set expects FIELD=VALUE (e.g. max_iterations=500), got {text!r}")
    types = typing.get_type_hints(Config)
    fields = [f.name for f in dataclasses.fields(Config)]
    if name not in fields:
        raise ConfigError(f"--set {text!r}: unknown config field {name!r}; known fields: {', '.join(fields)}")
    raw = raw.strip()
    node: Any = raw
    if raw[:1] in ("(", "["):
        try:
            node = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise ConfigError(f"--set {text!r}: {name} value is not a valid literal") from None
    try:
        return name, _coerce(node, types[name], name, depth=0)
    except ConfigError as exc:
        raise ConfigError(f"--set {text!r}: {exc}") from None


def _coerce(node: Any, tp: Any, name: str, *, depth: int) -> Any:
    """``node`` (a string from the command line, or a literal's value) as type ``tp``."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(node, str):
            separator = "," if depth == 0 else "x"
            items: list[Any] = [part.strip() for part in node.lower().split(separator)] if node.strip() else []
        elif isinstance(node, (list, tuple)):
            items = list(node)
        else:
            items = [node]
        if len(args) == 2 and args[1] is Ellipsis:
            kinds = [args[0]] * len(items)
            if not items:
                raise ConfigError(f"{name} needs at least one value, got {node!r}")
        else:
            kinds = list(args)
            if len(items) != len(kinds):
                form = ",".join("AB"[: len(kinds)]) if depth == 0 else "x".join("AB"[: len(kinds)])
                raise ConfigError(f"{name} needs {len(kinds)} values (as {form}), got {node!r}")
        return tuple(_coerce(item, kind, name, depth=depth + 1) for item, kind in zip(items, kinds))
    if tp is bool:
        if isinstance(node, bool):
            return node
        text = str(node).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{name} must be true or false, got {node!r}")
    if tp is int:
        if isinstance(node, int) and not isinstance(node, bool):
            return node
        try:
            return int(str(node).strip())
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {node!r}") from None
    if tp is float:
        if isinstance(node, bool):
            raise ConfigError(f"{name} must be a number, got {node!r}")
        try:
            value = float(node) if isinstance(node, (int, float)) else float(str(node).strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {node!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {node!r}")
        return value
    if tp is str:
        return str(node)
    raise ConfigError(f"{name} has type {tp}, which --set cannot parse")  # pragma: no cover


# ----------------------------------------------------------------------------- resize


def _cmd_resize(args: argparse.Namespace) -> int:
    scale = _parse_factor_pair(args.scale, "--scale") if args.scale is not None else None
    size = _parse_size(args.size) if args.size is not None else None
    kernel = _load_kernel(args.kernel) if args.kernel is not None else None
    if kernel is not None:
        if args.no_antialias:
            raise ZSSRError("--no-antialias applies to --method interpolation, not to --kernel")
        if scale is not None and (max(scale) > 1.0 or min(scale) == 1.0):
            raise ScaleError(f"--kernel only downscales: --scale must be < 1 (<= 1 on one axis), got {args.scale!r}")
    jobs = _plan_jobs(args.inputs, args.output, args.out_dir)
    sources = [source for source, _ in jobs]
    _check_readable(sources, min_side=1)  # all or nothing: a bad file in a folder stops the run before any write
    for source, target in jobs:
        picture = read_image(source)
        color, alpha = _resize_picture(picture, scale, size, kernel, args.method, not args.no_antialias)
        if args.out_dir is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        write_image(
            target, color, alpha=alpha, bit_depth=picture.bit_depth, icc_profile=picture.icc_profile, protect=sources,
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
        return to_array(y.clamp(0.0, 1.0)), _resize_alpha(picture.alpha, used_scale, out)
    # Numeric kernel: factor = 1/scale (or in/out sizes), the output size as imresize would give it.
    used_scale, out = output_size((h, w), scale, size)
    factor = (h / out[0], w / out[1]) if scale is None else (1.0 / used_scale[0], 1.0 / used_scale[1])
    if min(factor) < 1.0 or factor == (1.0, 1.0):
        raise ScaleError(f"--kernel only downscales: {h}×{w} cannot be reduced to {out[0]}×{out[1]} with it")
    y = downscale(x.double(), align_kernel(kernel, factor), factor, size=out)
    return to_array(y.clamp(0.0, 1.0)), _resize_alpha(picture.alpha, used_scale, out)


# ----------------------------------------------------------------------------- metrics


def _cmd_metrics(args: argparse.Namespace) -> int:
    from .metrics import SizeMismatchWarning

    scale = _parse_factor_pair(args.scale, "--scale") if args.scale is not None else None
    if args.shave is not None and args.shave < 0:
        raise ScaleError(f"--shave must be >= 0, got {args.shave}")
    pairs = _metric_pairs(Path(args.reference), Path(args.test))
    channel = "rgb" if args.rgb else "y"
    rows: list[tuple[str, float, float]] = []
    for name, ref_path, test_path in pairs:
        reference, test = read_image(ref_path).color, read_image(test_path).color
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SizeMismatchWarning)
            result = evaluate(reference, test, scale=scale, shave=args.shave, channel=channel)
        for warning in caught:
            print(f"zssr: warning: {name}: {_one_line(warning.message)}", file=sys.stderr)
        rows.append((name, result.psnr, result.ssim))
    mean_psnr = float(np.mean([r[1] for r in rows]))
    mean_ssim = float(np.mean([r[2] for r in rows]))
    # The border evaluate() shaves: round(scale) per axis (half away from zero), or --shave.
    if scale is not None and args.shave is None:
        shave = [_round_half_away(s) for s in scale]
    else:
        shave = [args.shave or 0] * 2
    if args.json:
        report = {
            "channel": channel,
            "scale": list(scale) if scale is not None else None,
            "shave": shave,
            "images": [{"name": n, "psnr": _json_number(p), "ssim": _json_number(s)} for n, p, s in rows],
            "mean": {"psnr": _json_number(mean_psnr), "ssim": _json_number(mean_ssim), "count": len(rows)},
        }
        print(json.dumps(report, indent=2))
        return 0
    width = max(len("mean"), max(len(r[0]) for r in rows))
    border = f"{shave[0]}" if shave[0] == shave[1] else f"{shave[0]}x{shave[1]}"
    print(f"# {'Y' if channel == 'y' else 'RGB'} channel, {border}-px border shaved")
    print(f"{'image':<{width}}  {'PSNR (dB)':>9}  {'SSIM':>6}")
    for name, p, s in rows:
        print(f"{name:<{width}}  {p:9.2f}  {s:6.4f}")
    print(f"{'mean':<{width}}  {mean_psnr:9.2f}  {mean_ssim:6.4f}")
    return 0


def _round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1))


def _json_number(value: float) -> float | None:
    # JSON has no infinity: identical images (PSNR = inf) are written as null.
    return value if math.isfinite(value) else None


def _metric_pairs(reference: Path, test: Path) -> list[tuple[str, Path, Path]]:
    """``(name, reference, test)`` for two files, or for two folders matched by file name (then stem)."""
    for label, path in (("--reference", reference), ("--test", test)):
        if not path.exists():
            raise ImageReadError(f"{label} {path} does not exist")
    if reference.is_file() and test.is_file():
        return [(reference.name, reference, test)]
    if not (reference.is_dir() and test.is_dir()):
        raise ZSSRError(f"--reference and --test must both be files or both be folders, got {reference} and {test}")
    references = collect_inputs([reference])
    tests = collect_inputs([test])
    by_name = {p.name: p for p in tests}
    by_stem: dict[str, list[Path]] = {}
    for p in tests:
        by_stem.setdefault(p.stem, []).append(p)
    pairs, missing = [], []
    for ref in references:
        match = by_name.get(ref.name)
        if match is None and len(by_stem.get(ref.stem, [])) == 1:
            match = by_stem[ref.stem][0]
        if match is None:
            missing.append(ref.name)
        else:
            pairs.append((ref.name, ref, match))
    if missing:
        raise ImageReadError(
            f"test folder {test} has no image for {len(missing)} of {len(references)} reference images: "
            f"{', '.join(missing)}"
        )
    return pairs


# ----------------------------------------------------------------------------- kernel


def _check_kernel_output(path: Path, *, inputs: Sequence[Path] = ()) -> None:
    suffixes = _KERNEL_FILE_SUFFIXES + (".png",)
    if path.suffix.lower() not in suffixes:
        raise ImageWriteError(f"kernel output {path} must end in {', '.join(suffixes)}, got {path.suffix or 'no suffix'!r}")
    if not path.parent.is_dir():
        raise ImageWriteError(f"cannot write {path}: output folder {path.parent} does not exist")
    _check_not_inputs([path], inputs)


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
        k = gaussian_kernel(size, sy, sx, 0.0 if args.theta is None else args.theta)
        what = f"gaussian σ=({sy:g}, {sx:g}), θ={args.theta or 0.0:g} rad"
    save_kernel(k, out)
    print(f"{out}: {what}, {_describe_kernel(k)}")
    return 0


def _cmd_kernel_show(args: argparse.Namespace) -> int:
    source = Path(args.kernel)
    k = _load_kernel(source)
    out = Path(args.output) if args.output is not None else source.with_suffix(".png")
    if out.suffix.lower() != ".png":
        raise ImageWriteError(f"kernel picture {out} must end in .png, got {out.suffix or 'no suffix'!r}")
    _check_kernel_output(out, inputs=[source])
    kernel_picture(k, out)
    print(f"{out}: {_describe_kernel(k)}")
    return 0


def _cmd_kernel_compose(args: argparse.Namespace) -> int:
    source, out = Path(args.kernel), Path(args.output)
    k2 = _load_kernel(source)
    _check_kernel_output(out, inputs=[source])
    k4 = compose_x4(k2, size=args.size)
    save_kernel(k4, out)
    print(f"{out}: ×4 from ×2 {k2.shape[0]}×{k2.shape[1]}, {_describe_kernel(k4)}")
    return 0


def _load_kernel(path: str | Path) -> torch.Tensor:
    """``load_kernel``, without numpy's warning for an empty text file (the KernelError says it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
        return load_kernel(path)


def _kernel_picture_path(out: Path) -> Path | None:
    return None if out.suffix.lower() == ".png" else out.with_suffix(".png")


#: ``--estimator`` choices; ``edges`` is the default (Table 2: 57% of the bicubic → true kernel gap, KernelGAN 45%:
#: benchmarks/results/edgeblur_table2.md).
ESTIMATORS = ("edges", "kernelgan")
KernelEstimator = Callable[[torch.Tensor, float, int, torch.device, bool], Any]


def _kernel_estimator(name: str, *, iterations: int | None, restarts: int | None, width_correction: bool,
                      flags: tuple[str, str, str]) -> KernelEstimator:
    """``(image, factor, seed, device, progress) → KernelEstimate`` for ``--estimator name``.

    ``flags`` are the command's names of the KernelGAN-only options (iterations, restarts,
    width correction), for the error that says one was given to the edge estimator.
    """
    if iterations is not None and iterations < 1:
        raise ConfigError(f"{flags[0]} must be >= 1, got {iterations}")
    if restarts is not None and restarts < 0:
        raise ConfigError(f"{flags[1]} must be >= 0, got {restarts}")
    if name == "edges":
        given = [f for f, v in zip(flags, (iterations, restarts, width_correction or None)) if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} apply to --estimator kernelgan only (the edge estimator does not train)")
        from .kernel_estimation import estimate_kernel_edges

        return lambda image, factor, seed, device, progress: estimate_kernel_edges(image, factor)
    try:
        from .kernel_estimation import RESTARTS, TqdmKernelProgress, estimate_kernel
    except ImportError as exc:
        raise ZSSRError(f"kernel estimation needs zssr.kernel_estimation (KernelGAN), which failed to import: {exc}") from exc
    return lambda image, factor, seed, device, progress: estimate_kernel(
        image, factor, iterations=3000 if iterations is None else iterations, seed=seed, device=device,
        progress=partial(TqdmKernelProgress, file=sys.stderr, leave=False) if progress else None,
        restarts=RESTARTS if restarts is None else restarts, width_correction=width_correction,
    )


def _cmd_kernel_estimate(args: argparse.Namespace) -> int:
    source, out = Path(args.input), Path(args.output)
    picture_path = _kernel_picture_path(out)
    _check_kernel_output(out, inputs=[source])
    if picture_path is not None:
        _check_not_inputs([picture_path], [source])
    if not math.isfinite(args.scale) or args.scale < 1.0:
        raise ScaleError(f"--scale must be a finite SR factor >= 1, got {args.scale!r}")
    estimate_kernel = _kernel_estimator(args.estimator, iterations=args.iterations, restarts=args.restarts,
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
        print(f"zssr: warning: {source}: the estimated kernel is degenerate ({estimate.spread:.0%} of its mass far "
              f"from its centre, seeds {', '.join(map(str, estimate.seeds))}); do not use it", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- upscale


def _upscale_config(args: argparse.Namespace, *, with_kernel: bool | None = None) -> Config:
    """The preset with the dedicated flags applied, then every ``--set`` (which win).

    Without ``--preset`` a kernel selects ``kernel``, no kernel ``ideal``; ``with_kernel``
    overrides the guess (an estimate rejected as unreliable runs without one).
    """
    has_kernel = args.kernel is not None if with_kernel is None else with_kernel
    preset = args.preset or ("kernel" if has_kernel else "ideal")
    overrides: dict[str, Any] = {}
    if args.noise_std is not None:
        overrides["noise_std"] = args.noise_std
    if args.no_back_projection:
        overrides["back_projection_iters"] = (0,)
    if args.gradual is not None:
        if args.gradual < 1:
            raise ConfigError(f"--gradual must be an integer >= 1, got {args.gradual}")
        overrides["gradual_pattern"] = tuple((k / args.gradual, k / args.gradual) for k in range(1, args.gradual + 1))
    if args.max_iterations is not None:
        overrides["max_iterations"] = args.max_iterations
    for item in args.set or ():
        name, value = parse_override(item)
        overrides[name] = value
    return resolve_config(preset, **overrides)


def _cmd_upscale(args: argparse.Namespace) -> int:
    # STEP 1 - everything that can be wrong is checked before the first (long) training.
    config = _upscale_config(args)
    steps = parse_scale(args.scale)
    if len(steps) == 1:
        steps = plan_steps(steps[0], config)
    elif args.gradual is not None:
        raise ConfigError(f"--gradual splits a single target scale; -s {args.scale!r} already lists the steps")
    device = resolve_device(args.device)
    auto_kernel = args.kernel is not None and args.kernel.strip().lower() == "auto"
    fixed_kernels: list[torch.Tensor | None] = [None] * len(steps)
    estimate_kernel = None
    if auto_kernel:
        if steps[-1][0] != steps[-1][1]:
            raise ScaleError(f"--kernel auto needs the same factor on both axes, got final step {steps[-1]}")
        estimate_kernel = _kernel_estimator(
            args.estimator, iterations=args.kernel_iterations, restarts=args.kernel_restarts,
            width_correction=args.width_correction,
            flags=("--kernel-iterations", "--kernel-restarts", "--width-correction"),
        )
    elif args.kernel is not None:
        fixed_kernels[-1] = align_kernel(_load_kernel(args.kernel), steps[-1])
    jobs = _plan_jobs(args.inputs, args.output, args.out_dir)
    sources = [source for source, _ in jobs]
    extras = []
    for _, target in jobs:
        if args.save_curves:
            extras.append(_sibling(target, "_curves.png"))
        if auto_kernel:
            extras += [_sibling(target, "_kernel.mat"), _sibling(target, "_kernel.png")]
    _check_not_inputs([t for _, t in jobs] + extras, sources)
    if auto_kernel:
        from .kernel_estimation import MIN_SIZE as kernel_min_side

        _check_readable(sources, min_side=max(MIN_INPUT_SIDE, kernel_min_side), why=" for --kernel auto")
    else:
        _check_readable(sources)

    # STEP 2 - one image at a time: (estimate the kernel,) train, super-resolve, write.
    progress = _progress_factory(args.quiet)
    for source, target in jobs:
        picture = read_image(source)
        x = to_tensor(picture.color)
        kernels = fixed_kernels
        run_config = config
        if estimate_kernel is not None:
            try:
                estimate = estimate_kernel(x, steps[-1][0], args.seed, device, not args.quiet)
            except StructureError as exc:  # nothing to measure: no kernel files, the bicubic kernel
                estimate, why = None, str(exc)
            else:
                if args.out_dir is not None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                save_kernel(estimate.kernel, _sibling(target, "_kernel.mat"))
                kernel_picture(estimate.kernel, _sibling(target, "_kernel.png"))
                why = f"the estimated kernel is degenerate ({estimate.spread:.0%} of its mass far from its centre)"
            if estimate is not None and estimate.reliable:
                kernels = [None] * (len(steps) - 1) + [align_kernel(estimate.kernel, steps[-1])]
            else:
                print(f"zssr: warning: {source}: {why}; using the bicubic kernel instead", file=sys.stderr)
                kernels = [None] * len(steps)
                run_config = _upscale_config(args, with_kernel=False)
        result = upscale_tensor(x, steps, config=run_config, kernels=kernels, seed=args.seed, device=device, progress=progress)
        color = to_array(result.image)
        alpha = _resize_alpha(picture.alpha, steps[-1], color.shape[:2])
        if args.out_dir is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        write_image(
            target, color, alpha=alpha, bit_depth=picture.bit_depth, icc_profile=picture.icc_profile, protect=sources,
        )
        if args.save_curves:
            _save_curves(result, _sibling(target, "_curves.png"), title=f"{source.name}, preset {config.name}")
        iterations = sum(h.iterations for h in result.steps)
        print(
            f"{target}: {picture.height}×{picture.width} → {color.shape[0]}×{color.shape[1]}, "
            f"preset {run_config.name}, {iterations} iterations in {len(result.steps)} step(s), "
            f"{result.seconds:.1f} s on {result.device}"
        )
    return 0


def _sibling(target: Path, tail: str) -> Path:
    return target.with_name(f"{target.stem}{tail}")


def _save_curves(result: UpscaleResult, path: Path, *, title: str) -> None:
    """Loss, reconstruction error and learning rate per iteration; one column per scale step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(result.steps)
    fig = Figure(figsize=(3.8 * n + 0.8, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, n, squeeze=False, sharex="col")
    for j, history in enumerate(result.steps):
        loss_ax, error_ax, lr_ax = axes[0, j], axes[1, j], axes[2, j]
        loss_ax.plot(np.arange(len(history.losses)), history.losses, lw=0.7, color="tab:blue")
        loss_ax.set_title(f"step {j + 1}/{n}: {_fmt_scale(history.scale)}, {history.iterations} it", fontsize=9)
        error_ax.plot(history.test_iterations, history.test_errors, marker="o", ms=2.5, lw=1.0, color="tab:orange")
        lr_ax.step(np.arange(len(history.learning_rates)), history.learning_rates, where="post", color="tab:green")
        for change in history.lr_changes:
            for ax in (error_ax, lr_ax):
                ax.axvline(change, color="grey", lw=0.6, ls=":")
        for ax, values in ((loss_ax, history.losses), (error_ax, history.test_errors), (lr_ax, history.learning_rates)):
            if values and min(values) > 0:
                ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
        lr_ax.set_xlabel("iteration")
    axes[0, 0].set_ylabel("L1 loss (training)")
    axes[1, 0].set_ylabel("reconstruction MSE\n(input vs SR of its son)")
    axes[2, 0].set_ylabel("learning rate")
    fig.suptitle(title, fontsize=10)
    _save_figure(fig, path)


# ----------------------------------------------------------------------------- demo


def _modcrop(image: np.ndarray, scale: float) -> np.ndarray:
    """Crop so that ``H/scale`` and ``W/scale`` are integers (sides a multiple of scale's numerator)."""
    step = Fraction(scale).limit_denominator(100).numerator
    h, w = image.shape[0] - image.shape[0] % step, image.shape[1] - image.shape[1] % step
    return image[:h, :w]


def _busiest_window(gray: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left of the ``side×side`` window with the most gradient energy (where SR differs most)."""
    gy, gx = np.gradient(gray.astype(np.float64))
    energy = np.pad((gy * gy + gx * gx).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = gray.shape
    best, where = -1.0, (0, 0)
    stride = max(1, side // 4)
    for top in range(0, h - side + 1, stride):
        for left in range(0, w - side + 1, stride):
            total = (energy[top + side, left + side] - energy[top, left + side]
                     - energy[top + side, left] + energy[top, left])
            if total > best:
                best, where = total, (top, left)
    return where


def _cmd_demo(args: argparse.Namespace) -> int:
    import skimage.data

    scale = float(args.scale)
    if not math.isfinite(scale) or scale <= 1.0:
        raise ScaleError(f"--scale must be a finite SR factor > 1, got {args.scale!r}")
    config = resolve_config(args.preset, max_iterations=args.max_iterations)
    device = resolve_device(args.device)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ImageWriteError(f"--out-dir {out_dir} exists and is not a folder")

    # STEP 1 - ground truth: a textured crop of the photo, modcropped so the LR size is exact.
    top, left = _DEMO_CROPS[args.image]
    photo = getattr(skimage.data, args.image)()
    hr8 = _modcrop(photo[top : top + _DEMO_SIDE, left : left + _DEMO_SIDE], scale)
    hr = to_tensor(hr8.astype(np.float32) / 255.0)
    # STEP 2 - the LR input as the benchmarks make it: MATLAB bicubic on the uint8 image.
    lr = imresize(hr, 1.0 / scale, quantize=True)
    bicubic = imresize(lr, scale, size=tuple(hr.shape[-2:]), quantize=True)
    # STEP 3 - ZSSR, trained on the LR image alone; scored as the 8-bit PNG it is saved as.
    steps = plan_steps((scale, scale), config)
    print(f"demo: {args.image} {hr8.shape[0]}×{hr8.shape[1]} crop at ({top}, {left}), ×{scale:g}, preset {config.name}")
    result = upscale_tensor(lr, steps, config=config, seed=args.seed, device=device, progress=_progress_factory(args.quiet))
    zssr = torch.round(result.image.clamp(0.0, 1.0) * 255.0) / 255.0
    hr_a, bic_a, zssr_a = to_array(hr), to_array(bicubic), to_array(zssr)
    m_bic = evaluate(hr_a, bic_a, scale=scale)
    m_zssr = evaluate(hr_a, zssr_a, scale=scale)
    gain = m_zssr.psnr - m_bic.psnr

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, image in (("lr", to_array(lr)), ("bicubic", bic_a), ("zssr", zssr_a), ("hr", hr_a)):
        write_image(out_dir / f"{name}.png", image)
    _save_comparison(hr_a, bic_a, zssr_a, m_bic.psnr, m_zssr.psnr, out_dir / "comparison.png", scale=scale)
    iterations = sum(h.iterations for h in result.steps)
    print(f"bicubic  Y-PSNR {m_bic.psnr:6.2f} dB  SSIM {m_bic.ssim:.4f}")
    print(
        f"ZSSR     Y-PSNR {m_zssr.psnr:6.2f} dB  SSIM {m_zssr.ssim:.4f}  "
        f"({iterations} iterations, {result.seconds:.1f} s on {result.device})"
    )
    print(f"gain     {gain:+.2f} dB")
    print(f"wrote {', '.join(str(out_dir / f'{n}.png') for n in ('lr', 'bicubic', 'zssr', 'hr', 'comparison'))}")
    return 0


def _save_comparison(
    hr: np.ndarray, bicubic: np.ndarray, zssr: np.ndarray, psnr_bic: float, psnr_zssr: float, path: Path, *, scale: float,
) -> None:
    """HR | bicubic | ZSSR, whole and zoomed (nearest-neighbour) on the most textured region."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    side = max(8, min(hr.shape[:2]) // 3)
    top, left = _busiest_window(hr.mean(axis=2), side)
    fig = Figure(figsize=(10.5, 7.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    panels = (
        ("HR (ground truth)", hr),
        (f"bicubic: {psnr_bic:.2f} dB", bicubic),
        (f"ZSSR: {psnr_zssr:.2f} dB ({psnr_zssr - psnr_bic:+.2f})", zssr),
    )
    for j, (title, image) in enumerate(panels):
        whole, zoom = axes[0, j], axes[1, j]
        whole.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), side, side, fill=False, edgecolor="yellow", lw=1.2))
        whole.set_title(title, fontsize=10)
        zoom.imshow(np.clip(image[top : top + side, left : left + side], 0.0, 1.0), interpolation="nearest")
        zoom.set_title("zoom", fontsize=8)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"×{scale:g} super-resolution; Y-PSNR with {_round_half_away(scale)}-px border shaved", fontsize=11)
    _save_figure(fig, path)


if __name__ == "__main__":
    sys.exit(main())
