"""Command-line inputs expanded to image files, and where each result goes."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from zssr.errors import ImageReadError, ImageWriteError
from zssr.io._formats import IMAGE_SUFFIXES, one_line

__all__ = ["collect_inputs", "missing_reason", "open_regular", "output_path_for", "read_regular"]


def collect_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Expand command-line inputs into image files.

    A file is taken as given (its content decides the format); a folder gives its
    entries named like images (:data:`IMAGE_SUFFIXES`), sorted by name, not
    recursively, skipping hidden files (e.g. macOS ``._*`` or leftover temp files).
    Entries that are not regular files (a named pipe, a device, a folder, a broken
    link) are listed too, so that the run reports each one (:func:`open_regular`)
    instead of skipping it silently. A file named twice is kept once, in its first position.

    Raises:
        ImageReadError: no paths, a path that does not exist, or a folder with no images.
    """
    if isinstance(paths, (str, Path)) or len(paths) == 0:
        raise ImageReadError(f"paths must be a non-empty list of files or folders; got {paths!r}")
    found: list[Path] = []
    seen: set[Path] = set()
    for entry in paths:
        location = Path(entry)
        if location.is_dir():
            images = sorted(
                (
                    child
                    for child in location.iterdir()
                    if child.suffix.lower() in IMAGE_SUFFIXES and not child.name.startswith(".")
                ),
                key=lambda child: child.name,
            )
            if not images:
                raise ImageReadError(
                    f"input folder {location} contains no images (suffixes {', '.join(sorted(IMAGE_SUFFIXES))})"
                )
        elif location.exists():
            images = [location]
        else:
            raise ImageReadError(f"input path {location} {missing_reason(location)}")
        for image in images:
            key = image.resolve()
            if key not in seen:
                seen.add(key)
                found.append(image)
    return found


def output_path_for(input_path: str | Path, out_dir: str | Path, suffix: str | None = None) -> Path:
    """Where the result for ``input_path`` goes in ``out_dir``: same name, optional new suffix.

    Args:
        input_path: the input image.
        out_dir: the output folder (not created here).
        suffix: new suffix such as ``".png"`` or ``"png"``; ``None`` keeps the input's.

    Raises:
        ImageWriteError: the resulting suffix is not a writable image suffix.
    """
    source = Path(input_path)
    if suffix is None:
        new_suffix = source.suffix
    else:
        new_suffix = suffix if suffix.startswith(".") else f".{suffix}"
    if new_suffix.lower() not in IMAGE_SUFFIXES:
        raise ImageWriteError(
            f"suffix must be one of {', '.join(sorted(IMAGE_SUFFIXES))}; got {new_suffix!r} for {source.name}"
        )
    return Path(out_dir) / f"{source.stem}{new_suffix}"


def missing_reason(path: str | Path) -> str:
    """Why ``path`` cannot be opened, as the end of a sentence (``does not exist``, ``is a symbolic link loop``).

    ``Path.exists`` is false for a link loop and a dangling link alike; saying
    "does not exist" of a file the user can see in ``ls`` sends them the wrong way.
    """
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (or has one in its path)"
        if os.path.islink(path):
            try:
                return f"is a broken symbolic link (to {os.readlink(path)}, which does not exist)"
            except OSError:
                return "is a broken symbolic link"
        if exc.errno == errno.ENOTDIR:
            return "does not exist (a part of its path is a file, not a folder)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "cannot be reached (permission denied)"
        return "does not exist"
    except ValueError:  # an embedded NUL byte
        return "is not a valid path"
    return "exists"


def _kind(mode: int) -> str:
    """What a file that is not a regular one is, for a message."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def open_regular(path: str | Path, *, what: str = "image") -> BinaryIO:
    """Open ``path`` for reading, but only a regular file: checked before the first byte is read.

    A named pipe would block forever and ``/dev/zero`` never ends, so the kind is checked
    with ``stat`` (following links) before opening, the open never blocks (``O_NONBLOCK``,
    which regular files ignore), and ``fstat`` checks the opened file again (it may have
    been replaced in between).

    Raises:
        ImageReadError: one line: missing, a broken link, a folder, a pipe, a device, unreadable.
    """
    source = Path(path)
    prefix = f"cannot read {what} {source}"
    try:
        mode = os.stat(source).st_mode
    except (OSError, ValueError):
        reason = missing_reason(source)
        raise ImageReadError(f"{prefix}: " + ("no such file" if reason == "does not exist" else f"it {reason}")) from None
    if not stat.S_ISREG(mode):
        raise ImageReadError(f"{prefix}: it is {_kind(mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(source, flags)
    except OSError as exc:
        raise ImageReadError(f"{prefix}: {one_line(exc.strerror or exc)}") from exc
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise ImageReadError(f"{prefix}: it is {_kind(mode)}, not a regular file")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: str | Path, *, what: str = "image") -> bytes:
    """All of a regular file's bytes (:func:`open_regular`'s checks first)."""
    with open_regular(path, what=what) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise ImageReadError(f"cannot read {what} {path}: {one_line(exc.strerror or exc)}") from exc
        except MemoryError as exc:
            raise ImageReadError(f"cannot read {what} {path}: too large to read into memory") from exc
