"""The one atomic writer: every output of the package (images, kernels, reports, figures).

A file appears under its final name only when complete: the bytes go to a hidden
``.<name>.<12 hex digits>.tmp`` file in the same folder, are fsynced and renamed over
the target. A crash or a full disk never leaves a half-written output, and the temp
name ends in ``.tmp`` so a leftover is never taken for an input image. The temp's name
is bounded by the file system's name limit (``NAME_MAX``, 255 bytes on most): for a
long output name only its start is kept (:func:`temp_name`), so any name the folder
accepts can be written.

Nothing is left behind: the writer owns the temp's name before the file exists
(Ctrl-C at any moment is cleaned up), holds a lock on it while writing, and the
temps a killed process could not clean (SIGKILL, power loss) are removed by the
next run writing to that folder (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from zssr.errors import ImageWriteError

__all__ = [
    "STALE_AFTER_SECONDS", "TEMP_NAME", "atomic_write", "check_name_fits", "check_writable", "name_max", "one_line",
    "remove_stale_temps", "say", "temp_name", "write_bytes", "write_json", "write_text",
]

#: Our temp files and only them: ``.<target name>.<12 lowercase hex digits>.tmp``.
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$", re.DOTALL)

#: The name limit assumed where the file system does not say (POSIX's common ``NAME_MAX``).
DEFAULT_NAME_MAX = 255

#: What a temp adds to the kept part of the name: ``.`` before it, ``.<12 hex>.tmp`` after it.
_TEMP_EXTRA = 1 + 1 + 12 + 4

#: A temp of ours is stale once unmodified this long *and* not locked by a live writer.
STALE_AFTER_SECONDS = 60.0

try:  # POSIX advisory locks: released by the kernel when the writer dies, even by SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - Windows: the age rule alone decides
    fcntl = None  # type: ignore[assignment]


def one_line(message: object) -> str:
    """A message folded onto one line: the CLI prints every error as a single line."""
    return " ".join(str(message).split())


def say(message: object, file: TextIO | None = None) -> None:
    """Print ``message`` as one line on stderr (or ``file``).

    Every ``zssr:`` warning, error and status line goes through here: scripts read them a
    line each, and a file name or manifest field holding a line break must not split one.
    """
    print(one_line(message), file=sys.stderr if file is None else file)


def name_max(folder: str | os.PathLike[str]) -> int:
    """The longest file name (in bytes) ``folder``'s file system takes: ``pathconf(PC_NAME_MAX)``, else 255."""
    try:
        value = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), a missing folder, an unknown name
        return DEFAULT_NAME_MAX
    return value if value > _TEMP_EXTRA else DEFAULT_NAME_MAX  # -1: no limit stated


def _kept(name: str, limit: int) -> str:
    """The start of ``name`` a temp keeps so that ``.<kept>.<12 hex>.tmp`` fits in ``limit`` bytes."""
    room = max(1, limit - _TEMP_EXTRA)
    if len(os.fsencode(name)) <= room:
        return name
    kept = name[:room]  # a character is at least one byte: never shorter than the answer
    while len(os.fsencode(kept)) > room:
        kept = kept[:-1]
    return kept or "x"


def temp_name(name: str, limit: int = DEFAULT_NAME_MAX) -> str:
    """A fresh temp name for the output ``name``: ``.<name or its start>.<12 random hex>.tmp``, at most ``limit`` bytes.

    The random part stays whole (it keeps concurrent writers apart); a name too long for it
    is cut on a character boundary, so the temp is never longer than the folder allows.
    """
    return f".{_kept(name, limit)}.{secrets.token_hex(6)}.tmp"


def check_name_fits(path: str | os.PathLike[str], *, what: str = "output") -> None:
    """Refuse an output whose file name is longer than its folder's file system allows (before any work).

    Raises:
        ImageWriteError: one line naming the file, its length and the limit.
    """
    target = Path(path)
    size = len(os.fsencode(target.name))
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    limit = name_max(folder)
    if size > limit:
        raise ImageWriteError(
            f"cannot write {what} {target}: its file name is {size} bytes long, and the file system of {folder} "
            f"allows at most {limit}; choose a shorter name"
        )


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
    lock: int | None = None
    try:
        limit = name_max(path.parent)
        for _ in range(100):
            # The name is ours before the file exists: an interrupt between the
            # create and the next line can no longer orphan it (the cleanup below sees it).
            temp = path.with_name(temp_name(path.name, limit))
            try:
                lock = os.open(temp, _CREATE_FLAGS, 0o666)
            except FileExistsError:
                temp = None  # someone else's file: never ours to delete
                continue
            break
        if temp is None or lock is None:
            raise ImageWriteError(f"cannot write {what} {path}: no free temporary file name in {path.parent}")
        _lock(lock)
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
    finally:
        if lock is not None:
            with contextlib.suppress(OSError):
                os.close(lock)


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _lock(descriptor: int) -> None:
    """Hold an exclusive lock on our temp while writing: :func:`remove_stale_temps` skips locked ones."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _locked_by_someone(path: Path) -> bool:
    if fcntl is None:
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # also releases our probe lock
    return False


def remove_stale_temps(
    folder: str | os.PathLike[str], *, older_than: float = STALE_AFTER_SECONDS, targets: Iterable[str] | None = None,
) -> list[Path]:
    """Remove the temps a killed writer left in ``folder`` (not recursive); return what was removed.

    The rule (docs/LIMITS.md): a regular file (not a link) whose name matches
    :data:`TEMP_NAME` exactly, unmodified for ``older_than`` seconds, and not
    locked by a live writer (where POSIX locks exist). A temp being written by
    another run is fresh or locked, so two runs into one folder do not collide.
    ``targets`` (file names) limits it to the temps of those outputs: a batch
    whose worker died clears that image's temps at once (``older_than=0``). A long
    name's temps keep only its start (:func:`temp_name`), so outputs sharing that start
    share their stale temps too.
    Errors are ignored: this is housekeeping, never a reason to fail a run.
    """
    removed: list[Path] = []
    limit = name_max(folder)
    wanted = None if targets is None else {_kept(name, limit) for name in targets}
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not TEMP_NAME.match(entry.name):
            continue
        if wanted is not None and entry.name[1:-17] not in wanted:  # ".<name>.<12 hex>.tmp"
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                continue
        except OSError:
            continue
        path = Path(entry.path)
        if _locked_by_someone(path):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
}


def check_writable(
    folder: str | os.PathLike[str], *, what: str = "output folder", names: Iterable[str] = (),
) -> None:
    """Check, before any work, that files can be created in ``folder`` (or that it can be made).

    A write probe, not a permission-bit check, so it tells the truth as root, on
    read-only mounts and under ACLs: a temp of ours is created and removed in the
    folder, or, when the folder does not exist yet, in its nearest existing
    ancestor (where it would be created). With ``names`` (the outputs to come), the
    probe is the temp name of the longest one that fits the name limit, so a file
    system that takes fewer bytes than it claims fails here, not after training.
    (Names over the limit are :func:`check_name_fits`'s to refuse, per output.)

    Raises:
        ImageWriteError: one line naming the folder and why (not a folder,
            permission denied, read-only file system, disk full).
    """
    wanted = Path(folder)
    probe_in = wanted
    while not probe_in.exists():
        if probe_in.is_symlink():
            raise ImageWriteError(f"cannot create {what} {wanted}: {probe_in} is a broken symbolic link")
        parent = probe_in.parent
        if parent == probe_in:
            break
        probe_in = parent
    if not probe_in.is_dir():
        raise ImageWriteError(
            f"cannot create {what} {wanted}: {probe_in} is a file, not a folder" if probe_in != wanted
            else f"{what} {wanted} is a file, not a folder"
        )
    limit = name_max(probe_in)
    fitting = [name for name in names if len(os.fsencode(name)) <= limit]
    longest = max(fitting, key=lambda name: len(os.fsencode(name)), default="zssr-write-probe")
    temp = probe_in / temp_name(longest, limit)
    try:
        os.close(os.open(temp, _CREATE_FLAGS, 0o666))
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0, one_line(exc.strerror or exc))
        if probe_in == wanted:
            raise ImageWriteError(f"cannot write to {what} {wanted}: {reason}") from exc
        raise ImageWriteError(f"cannot create {what} {wanted}: cannot write to {probe_in} ({reason})") from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


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
