"""One image of a batch: what a task is given, what it returns, and the wrapper every backend runs.

A *task* is a picklable callable (a frozen dataclass with ``__call__``, or a module-level
function) that turns one :class:`BatchItem` into files and a :class:`TaskResult`. The
same task object runs in-process, in a spawned worker process or as a Ray task, so it
must not close over open files, locks or lambdas.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from .._atomic import one_line
from ..errors import ZSSRError
from ..io.paths import open_regular

__all__ = ["BatchItem", "Done", "Event", "Failed", "ImageTask", "TaskResult", "describe_error", "execute", "file_digest", "file_sha256"]

ProgressFactory = Callable[..., Any]


@dataclass(frozen=True)
class BatchItem:
    """One image of a batch: its input and the output (plus the side files) it produces.

    ``extras`` are files the task may write next to ``target`` (a kernel, curves); they are
    named up front so that leftovers of a killed run can be recognised and removed.
    """

    source: Path
    target: Path
    extras: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file this item may write: the output first."""
        return (self.target, *self.extras)


@dataclass(frozen=True)
class TaskResult:
    """What a task reports: the files it wrote (output first), one summary line, any warnings, what it read."""

    files: tuple[Path, ...]
    line: str
    warnings: tuple[str, ...] = ()
    device: str = "cpu"
    #: ``(size, SHA-256)`` of the exact input bytes the task decoded, when it read them once
    #: (:func:`zssr.io.read_regular`, then :func:`zssr.io.decode_image`): the manifest records
    #: these, not the hash taken when the run was planned, so a file replaced meanwhile is redone.
    source_digest: tuple[int, str] | None = None


class ImageTask(Protocol):
    """The per-image work of a batch; must pickle (it travels to worker processes and Ray tasks)."""

    def __call__(self, item: BatchItem, device: torch.device, progress: ProgressFactory | None) -> TaskResult:
        """Process ``item`` on ``device``; ``progress`` is the pipeline's per-step progress factory, or None."""
        ...


@dataclass(frozen=True)
class Done:
    """An image finished: every written file with its SHA-256, the time taken and where it ran."""

    item: BatchItem
    files: tuple[tuple[str, str], ...]
    line: str
    warnings: tuple[str, ...]
    seconds: float
    device: str
    threads: int
    source_digest: tuple[int, str] | None = None


@dataclass(frozen=True)
class Failed:
    """An image failed; ``message`` is one line."""

    item: BatchItem
    message: str


Event = Done | Failed


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a regular file's bytes, read in 1 MiB blocks.

    Raises:
        ImageReadError: not a regular file (a pipe would block, ``/dev/zero`` never ends:
            refused before any read; see :func:`zssr.io.open_regular`), or unreadable.
    """
    return file_digest(path)[1]


def file_digest(path: str | Path, *, what: str = "file") -> tuple[int, str]:
    """A regular file's size and SHA-256, both from one read (:func:`file_sha256`'s checks)."""
    digest, size = hashlib.sha256(), 0
    with open_regular(path, what=what) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def describe_error(exc: BaseException) -> str:
    """One line for an image that failed: the message of a user error, the type too for anything else."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return f"out of GPU memory ({one_line(exc).split('.')[0]})"
    if isinstance(exc, (ZSSRError, OSError)):
        return one_line(exc)
    return f"{type(exc).__name__}: {one_line(exc)}"


def execute(
    task: ImageTask, item: BatchItem, device: torch.device, progress: ProgressFactory | None = None, *,
    isolate: bool = True,
) -> Event:
    """Run ``task`` on ``item`` and hash what it wrote; a failure becomes :class:`Failed` when ``isolate``.

    Hashing happens here, where the task ran (a worker process or a Ray node), so the
    driver never has to read the outputs back over a shared filesystem.
    """
    start = time.perf_counter()
    try:
        result = task(item, device, progress)
        files = tuple((str(path), file_sha256(path)) for path in result.files)
    except Exception as exc:
        if not isolate:
            raise
        return Failed(item, describe_error(exc))
    return Done(
        item=item, files=files, line=result.line, warnings=result.warnings, seconds=time.perf_counter() - start,
        device=result.device, threads=torch.get_num_threads(), source_digest=result.source_digest,
    )
