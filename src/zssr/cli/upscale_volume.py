"""``zssr upscale`` on stacks and volumes (issue #29): TIFF stacks and NIfTI volumes in, the same kind out.

A run whose inputs are stacks (a TIFF with more than one plane, a NIfTI file), or that
names ``--axis`` or ``--axes``, comes here instead of the per-image path: each volume is
read with its axes and voxel sizes, one net is trained for it (:mod:`zssr.volume`), and
the result is written in the input's format, dtype and axes with the voxel sizes divided
by the factor. Volumes run one after another in this process.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .._atomic import check_writable, say
from ..config import Config
from ..errors import ConfigError, ImageReadError, ImageWriteError, ScaleError
from ..io import collect_inputs, missing_reason
from ..io.volume import NIFTI_SUFFIXES, TIFF_SUFFIXES, Volume, is_volume_file, read_volume, volume_suffix, write_volume
from ..limits import check_threads
from ..volume import through_plane_factor, upscale_volume
from .inputs import check_not_inputs, no_empty_folders_left

__all__ = ["add_volume_options", "is_volume_run", "run_volumes"]

# Options of the per-image path a volume run does not take (flag, attribute, value when unset).
_IMAGE_ONLY = (("--kernel", "kernel", None), ("--gradual", "gradual", None), ("--save-curves", "save_curves", False),
               ("--jobs", "jobs", None), ("--devices", "devices", None), ("--ray", "ray", None), ("--nets", "nets", None))


def add_volume_options(p: argparse.ArgumentParser) -> None:
    """Add ``--axis``, ``--axes`` and ``--slice-thickness`` (stacks and volumes)."""
    g = p.add_argument_group("stacks and volumes (TIFF stacks, NIfTI; one net per stack)")
    g.add_argument("--axis", choices=("z", "y", "x"),
                   help="enlarge through-plane along this axis only (isotropic SR); without -s the factor is the "
                   "voxel sizes' ratio. For NIfTI, z is the axis with the largest voxel size. Without --axis a "
                   "stack is enlarged in-plane, every slice by one net")
    g.add_argument("--axes", metavar="LETTERS",
                   help="the input's axes in tifffile/napari letters (ZYX, TZCYX, …), replacing the file's own")
    g.add_argument("--slice-thickness", type=float, metavar="T",
                   help="with --axis: the slice profile's FWHM in the file's voxel-size unit (default: the slice "
                   "spacing)")


def is_volume_run(args: argparse.Namespace) -> bool:
    """Whether the inputs are stacks or volumes (or ``--axis``/``--axes`` say so).

    Raises:
        ConfigError: stacks and 2-D images mixed in one run.
    """
    try:
        sources = collect_inputs(list(args.inputs))
    except ImageReadError:  # reported where the inputs are read (here, or by the per-image path)
        return args.axis is not None or args.axes is not None
    volumes = [s for s in sources if is_volume_file(s)]
    if args.axis is None and args.axes is None and not volumes:
        return False
    # A pipe, a device or a folder named like an image is neither kind: its reader reports it.
    flats = [s for s in sources if s not in volumes and s.is_file()]
    if flats:
        flat = flats[0]
        if volumes:
            raise ConfigError(f"inputs mix stacks/volumes ({volumes[0]}) and 2-D images ({flat}); run them separately")
        flag = "--axis" if args.axis is not None else "--axes"
        raise ConfigError(f"{flag} applies to stacks and volumes, but {flat} is a 2-D image")
    return True


def run_volumes(args: argparse.Namespace, config: Config) -> int:
    """Enlarge every volume input and write it; returns the exit status (0).

    Everything is checked before the first training: options, every input's axes and
    factor, every output path and suffix.
    """
    for flag, name, unset in _IMAGE_ONLY:
        if getattr(args, name, unset) not in (unset, 1):
            raise ConfigError(f"{flag} applies to 2-D images; it is not available for stacks and volumes")
    if args.threads is not None:  # the one net's threads (no workers here)
        if args.threads < 1:
            raise ConfigError(f"--threads must be an integer >= 1, got {args.threads}")
        check_threads(args.threads, "--threads")
    if args.slice_thickness is not None and args.axis is None:
        raise ConfigError("--slice-thickness applies to through-plane runs (--axis z)")
    if args.scale is None and args.axis is None:
        raise ScaleError("-s/--scale is required for in-plane SR of a stack (only --axis reads the factor from "
                         "the voxel sizes)")
    sources = collect_inputs(list(args.inputs))
    jobs = _plan_outputs(sources, args.output, args.out_dir)
    volumes = []
    for source, target in jobs:
        volume = read_volume(source, axes=args.axes)
        _check_suffix(volume, target)
        if args.axis is not None and args.scale is None:
            through_plane_factor(volume.spacing, args.axis.upper(), source=str(source), name="-s/--scale")
        volumes.append(volume)
    previous = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with no_empty_folders_left(t for _, t in jobs):
        try:
            _run_each(args, config, jobs, volumes)
        finally:
            torch.set_num_threads(previous)
    return 0


def _run_each(args: argparse.Namespace, config: Config, jobs: list[tuple[Path, Path]], volumes: list[Volume]) -> None:
    """Train, enlarge and write each volume in turn."""
    for (source, target), volume in zip(jobs, volumes):
        run = upscale_volume(volume, args.scale, axis=args.axis, slice_thickness=args.slice_thickness,
                             preset=config, seed=args.seed, device=args.device, progress=not args.quiet)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_volume(target, run.volume)
        say(f"zssr: {target}: {_describe(volume)} → {_describe(run.volume)}, "
            f"{run.history.iterations} iterations, {run.planes} planes, {run.seconds:.1f} s on {run.device}")


def _plan_outputs(sources: list[Path], output: str | None, out_dir: str | None) -> list[tuple[Path, Path]]:
    if output is not None:
        if len(sources) != 1:
            raise ImageWriteError(f"-o/--output names one file but {len(sources)} inputs were given; use --out-dir")
        targets = [Path(output)]
        parent = targets[0].parent
        if not parent.is_dir():
            reason = "is a file, not a folder" if parent.exists() else missing_reason(parent)
            raise ImageWriteError(f"cannot write {targets[0]}: output folder {parent} {reason}")
    else:
        folder = Path(str(out_dir))
        if folder.exists() and not folder.is_dir():
            raise ImageWriteError(f"--out-dir {folder} exists and is not a folder")
        targets = [folder / s.name for s in sources]
    check_not_inputs(targets, sources)
    for folder in dict.fromkeys(t.parent for t in targets):
        check_writable(folder, what="output folder")
    return list(zip(sources, targets))


def _check_suffix(volume: Volume, target: Path) -> None:
    wanted = NIFTI_SUFFIXES if volume.format == "nifti" else TIFF_SUFFIXES
    if volume_suffix(target) not in wanted:
        raise ImageWriteError(f"output {target} must end in {' or '.join(wanted)} (same kind as the input "
                              f"{volume.path}), got {target.suffix or 'no suffix'!r}")


def _describe(volume: Volume) -> str:
    size = "×".join(str(n) for n in volume.shape)
    spacing = ", ".join(f"{k} {v:.4g}" for k, v in volume.spacing.items() if k in "ZYX")
    return f"{volume.axes} {size} {volume.data.dtype}" + (f" ({spacing}{' ' + volume.unit if volume.unit else ''})"
                                                          if spacing else "")
