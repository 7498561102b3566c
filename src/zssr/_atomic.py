"""The one atomic writer: every output of the package (images, kernels, reports, figures).

A file appears under its final name only when complete: the bytes go to a hidden
``.<name>.<random>.tmp`` file in the same folder, are fsynced and renamed over the
target. A crash or a full disk never leaves a half-written output, and the temp
name ends in ``.tmp`` so a leftover is never taken for an input image.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from zssr.errors import ImageWriteError

__all__ = ["atomic_write", "one_line", "write_bytes", "write_json", "write_text"]


def one_line(message: object) -> str:
    """A message folded onto one line: the CLI prints every error as a single line."""
    return " ".join(str(message).split())


def atomic_write(target: str | os.PathLike[str], encode: Callable[[BinaryIO], None], *, what: str = "file") -> None:
    """Run ``encode`` into a temp file next to ``target``, then rename it over ``target``.

    The temp file is created with ``O_EXCL`` and mode 0o666 (so the umask applies,
    unlike ``tempfile.mkstemp``'s 0o600: outputs get the user's usual permissions).

    Args:
        target: the final path; its folder must exist.
        encode: writes the content to the open binary handle. The handle is opened
            by name, so encoders that need ``handle.name`` (tifffile) work.
        what: the kind of output, for the error message ("image", "kernel", ...).

    Raises:
        ImageWriteError: the write failed (the OS message is kept, on one line); an
            ``ImageWriteError`` raised by ``encode`` passes through unchanged.
    """
    path = Path(target)
    temp: Path | None = None
    try:
        temp = _create_temp(path, what)
        with temp.open("wb") as handle:
            encode(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        temp = None
        _sync_folder(path.parent)
    except BaseException as exc:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
        if isinstance(exc, ImageWriteError) or not isinstance(exc, Exception):
            raise
        reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        raise ImageWriteError(f"cannot write {what} {path}: {one_line(reason)}") from exc


def write_bytes(target: str | os.PathLike[str], data: bytes, *, what: str = "file") -> None:
    """Write ``data`` atomically (see :func:`atomic_write`)."""

    def encode(handle: BinaryIO) -> None:
        handle.write(data)

    atomic_write(target, encode, what=what)


def write_text(target: str | os.PathLike[str], text: str, *, what: str = "file") -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write`)."""
    write_bytes(target, text.encode("utf-8"), what=what)


def write_json(target: str | os.PathLike[str], payload: Any, *, what: str = "record") -> None:
    """Write ``payload`` as indented JSON (one record per line of output) atomically."""
    write_text(target, json.dumps(payload, indent=1, sort_keys=False) + "\n", what=what)


def _create_temp(target: Path, what: str) -> Path:
    """Create an empty, uniquely named file next to ``target`` and return its path."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(temp, flags, 0o666))
        except FileExistsError:
            continue
        return temp
    raise ImageWriteError(f"cannot write {what} {target}: no free temporary file name in {target.parent}")


def _sync_folder(folder: Path) -> None:
    """Flush the rename to disk where the OS allows it (POSIX); best effort."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
