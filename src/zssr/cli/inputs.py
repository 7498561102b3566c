"""Input and output planning shared by the image commands: every path checked before the first write."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import ImageWriteError, ShapeError
from ..io import IMAGE_SUFFIXES, collect_inputs, output_path_for, read_image
from ..kernels import load_kernel
from ..pipeline import MIN_INPUT_SIDE
from ..resize import imresize


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_not_inputs(outputs: Iterable[Path], inputs: Sequence[Path]) -> None:
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


def plan_jobs(inputs: Sequence[str], output: str | None, out_dir: str | None) -> list[tuple[Path, Path]]:
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
    check_not_inputs(targets, sources)
    return list(zip(sources, targets))


def check_readable(sources: Iterable[Path], *, min_side: int = MIN_INPUT_SIDE, why: str = "") -> None:
    """Decode every input once before any output is written, and check its size.

    A folder run fails on its first bad file before training anything, rather than
    hours later with earlier outputs already written (raises ImageReadError/ShapeError).
    """
    for source in sources:
        h, w = read_image(source).color.shape[:2]
        if min(h, w) < min_side:
            raise ShapeError(f"{source}: image must be at least {min_side}×{min_side} pixels{why}, got {h}×{w}")


def resize_alpha(alpha: np.ndarray | None, scale: tuple[float, float], size: tuple[int, int]) -> np.ndarray | None:
    """Alpha is resampled bicubically (never learned), clipped to [0, 1]."""
    if alpha is None:
        return None
    plane = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None]
    return imresize(plane, scale, size=size).clamp(0.0, 1.0)[0, 0].numpy()


def sibling(target: Path, tail: str) -> Path:
    """A path next to ``target`` with ``tail`` after its stem (``out_curves.png`` for ``out.png``)."""
    return target.with_name(f"{target.stem}{tail}")


def read_kernel(path: str | Path) -> torch.Tensor:
    """``load_kernel``, without numpy's warning for an empty text file (the KernelError says it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
        return load_kernel(path)
