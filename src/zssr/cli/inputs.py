"""Input and output planning shared by the image commands: every path checked before the first write."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .._atomic import check_name_fits, check_writable, remove_stale_temps
from ..errors import ImageWriteError, ShapeError
from ..io import IMAGE_SUFFIXES, collect_inputs, missing_reason, output_path_for, read_image
from ..pipeline import MIN_INPUT_SIDE


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
        parent = targets[0].parent
        if not parent.is_dir():
            reason = "is a file, not a folder" if parent.exists() else missing_reason(parent)
            raise ImageWriteError(f"cannot write {targets[0]}: output folder {parent} {reason}")
        check_name_fits(targets[0])  # a folder run checks each output's names per image (its precheck)
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
    # A folder we cannot write to (read-only, not ours, under a file, names longer than it takes)
    # is found now, not after training: the probe's name is as long as the longest output's temp.
    for folder in dict.fromkeys(target.parent for target in targets):
        check_writable(folder, what="output folder", names=[t.name for t in targets if t.parent == folder])
    return list(zip(sources, targets))


def clear_stale_temps(targets: Iterable[Path]) -> None:
    """Remove the temps a killed earlier run left in the output folders (see ``remove_stale_temps``)."""
    for folder in dict.fromkeys(Path(t).parent for t in targets):
        remove_stale_temps(folder)


@contextlib.contextmanager
def no_empty_folders_left(targets: Iterable[Path]) -> Iterator[None]:
    """Folders a run creates for its outputs are removed again if it fails before filling them.

    The missing folders are listed on entry; on any exception (disk full, Ctrl-C)
    those still empty are removed, deepest first (``rmdir`` never removes content).
    """
    missing: set[Path] = set()
    for target in targets:
        folder = Path(target).parent
        while not folder.exists() and folder != folder.parent:
            missing.add(folder)
            folder = folder.parent
    try:
        yield
    except BaseException:
        for folder in sorted(missing, key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def check_readable(
    sources: Iterable[Path], *, min_side: int = MIN_INPUT_SIDE, why: str = ""
) -> list[tuple[int, int, int]]:
    """Decode every input once before any output is written, and check its size.

    A folder run fails on its first bad file before training anything, rather than
    hours later with earlier outputs already written (raises ImageReadError/ShapeError).

    Returns:
        ``(H, W, C)`` of each input's colour planes, for the memory plan.
    """
    shapes = []
    for source in sources:
        h, w, c = read_image(source).color.shape[:3]
        if min(h, w) < min_side:
            raise ShapeError(f"{source}: image must be at least {min_side}×{min_side} pixels{why}, got {h}×{w}")
        shapes.append((h, w, c))
    return shapes


