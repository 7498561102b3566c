"""``run_batch``: many images, resumable and fault-isolating, serially, in worker processes or on Ray.

The driver plans (fingerprints every input, skips what the manifest says is finished,
checks the rest can be read), hands the remaining images to a backend, and records each
result in the manifest as it arrives. One image that fails is one line; the others go on.
A Ctrl-C stops the backend (no partial output is left) with the manifest valid.

Byte-identical outputs: with the same settings and seed, an image comes out the same in
every backend on the same device type *when it runs with the same number of torch CPU
threads* (``Execution.threads``): CPU convolutions in torch sum in an order that depends
on the thread count (measured: 64² and 128² inputs differ between 1 and 2 threads). Each
image's thread count is recorded in the manifest; it is not part of the resume check,
because it changes only float rounding, not the method.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TextIO

import torch

from .._atomic import one_line, say
from ..errors import ZSSRError
from ..limits import check_threads
from ..pipeline import TqdmProgress, resolve_device
from .manifest import FolderLock, InputFingerprint, Manifest, remove_stale_temps
from .work import BatchItem, Done, Event, Failed, ImageTask, describe_error, execute

__all__ = ["BatchReport", "Execution", "run_batch", "workers_started"]

Backend = Literal["serial", "processes", "ray"]


@dataclass(frozen=True)
class Execution:
    """Where a batch runs.

    Attributes:
        backend: ``serial`` (this process), ``processes`` (one spawned worker per entry of
            ``devices``) or ``ray`` (one Ray task per image).
        devices: ``processes``: one device per worker (``cpu`` repeated for CPU workers);
            ``serial``/``ray``: the first entry is the device.
        threads: torch CPU threads per image. ``None``: a serial run keeps torch's default
            (all cores), workers split the cores evenly, a Ray task uses its ``ray_cpus``.
        ray_address: ``auto``, ``HOST:PORT``, ``ray://HOST:PORT`` or ``local``.
        ray_cpus: CPUs each Ray task reserves.
        ray_gpus: GPUs each Ray task reserves.
        retries: runs of an image again after its worker process (or Ray node) died.
    """

    backend: Backend = "serial"
    devices: tuple[str, ...] = ("auto",)
    threads: int | None = None
    ray_address: str = "auto"
    ray_cpus: float = 1.0
    ray_gpus: float = 0.0
    retries: int = 2

    def __post_init__(self) -> None:
        if self.backend not in ("serial", "processes", "ray"):
            raise ZSSRError(f"backend must be serial, processes or ray, got {self.backend!r}")
        if not self.devices:
            raise ZSSRError("devices must name at least one device")
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ZSSRError(f"threads must be an integer >= 1, got {self.threads!r}")
        if self.backend != "ray":  # a Ray node's CPUs are not this machine's
            check_threads(self.threads)
        if not (0 < self.ray_cpus < math.inf and 0 <= self.ray_gpus < math.inf):  # (nan fails both)
            raise ZSSRError(f"ray_cpus must be a finite number > 0 and ray_gpus one >= 0, got {self.ray_cpus!r} and "
                            f"{self.ray_gpus!r}")
        if isinstance(self.retries, bool) or self.retries < 0:
            raise ZSSRError(f"retries must be an integer >= 0, got {self.retries!r}")


@dataclass(frozen=True)
class BatchReport:
    """What a batch did: images run now, skipped as already done, and failed (item → one line)."""

    done: tuple[BatchItem, ...]
    skipped: tuple[BatchItem, ...]
    failed: dict[BatchItem, str] = field(default_factory=dict)
    manifest: Path | None = None

    @property
    def total(self) -> int:
        """Images in the batch."""
        return len(self.done) + len(self.skipped) + len(self.failed)


def run_batch(
    items: Sequence[BatchItem],
    task: ImageTask,
    *,
    settings: Mapping[str, Any],
    folder: Path | None,
    execution: Execution = Execution(),
    overwrite: bool = False,
    precheck: Callable[[BatchItem], None] | None = None,
    progress: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> BatchReport:
    """Run ``task`` on every item; with a ``folder``, resumably and with one failure not stopping the rest.

    Args:
        items: the images (input → output); outputs must be distinct.
        task: the picklable per-image work.
        settings: JSON-able description of everything that decides an output (the Config
            as a dict, seed, scale steps, kernel, …): an image is skipped only when the
            manifest recorded it with equal settings.
        folder: the output folder holding the manifest. ``None`` (a single ``-o`` output):
            no manifest, nothing skipped, and an error is raised as it happens.
        execution: the backend and its resources.
        overwrite: redo every image, whatever the manifest says.
        precheck: run in this process on each image to run, before any training; an
            exception marks that image failed up front (e.g. unreadable, too small).
        progress: a batch bar (images done, ETA) above the per-image bar, on stderr.
        out: where the per-image summary lines go (default stdout).
        err: where warnings, failures and the bars go (default stderr).

    Raises:
        KeyboardInterrupt: after stopping the backend and saving the manifest.
        ZSSRError: with ``folder=None``, the image's own error; a locked folder; a backend
            that cannot start (Ray not installed or not reachable).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if folder is None:
        return _run_single(items, task, execution, precheck, progress, err)
    folder.mkdir(parents=True, exist_ok=True)
    with FolderLock(folder):
        manifest, warning = Manifest.load(folder)
        if warning:
            say(f"zssr: warning: {warning}", err)
            manifest.save()  # what was dropped is gone from the file too, whatever happens next
        remove_stale_temps([p for item in items for p in item.paths] + [manifest.path], older_than=0.0)  # a live writer holds a lock
        fingerprints, skipped, to_run, failed = _plan(items, manifest, settings, overwrite, precheck)
        if skipped:
            say(f"zssr: {len(skipped)} of {len(items)} images already done (recorded in {manifest.path}), "
                f"{len(items) - len(skipped)} to run; --overwrite redoes them all", err)
        for item, message in failed.items():
            say(_failure_line(item, message), err)
            manifest.record_failed(item, fingerprints.get(item), settings, message)
        if failed:
            manifest.save()
        done: list[BatchItem] = []
        show_bar = progress and len(items) > 1
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), initial=len(skipped) + len(failed), desc="batch", unit="image", file=err,
                   position=0, dynamic_ncols=True, disable=not show_bar, smoothing=0.1)
        image_progress = partial(TqdmProgress, file=err, leave=False, position=1 if show_bar else 0) if progress else None
        events = _backend(to_run, task, execution, image_progress, isolate=True)
        try:
            for event in events:
                fingerprint = fingerprints[event.item]
                if isinstance(event, Done) and fingerprint is not None:  # (unreadable inputs never run)
                    if event.source_digest is not None:  # the bytes trained on, not those hashed when planning
                        fingerprint = InputFingerprint(*event.source_digest)
                    manifest.record_done(event, fingerprint, settings)
                    done.append(event.item)
                    for line in event.warnings:
                        bar.write(one_line(f"zssr: warning: {line}"), file=err)
                    bar.write(event.line, file=out)
                elif isinstance(event, Failed):
                    manifest.record_failed(event.item, fingerprint, settings, event.message)
                    failed[event.item] = event.message
                    bar.write(_failure_line(event.item, event.message), file=err)
                manifest.save()
                bar.update(1)
        except KeyboardInterrupt:
            events.close()
            bar.close()
            remove_stale_temps([manifest.path], older_than=0.0)  # a save cut short; the file itself is the last complete one
            finished = len(skipped) + len(done)
            # Name the manifest only if there is one (stopped before any image ended: none was written).
            where = f"recorded in {manifest.path}" if manifest.path.is_file() else "no manifest written yet"
            print(file=err)  # off the bar's line
            say(f"zssr: batch stopped: {finished} of {len(items)} images done ({where}); "
                "run the same command again to resume", err)
            raise
        finally:
            events.close()
            bar.close()
    return BatchReport(tuple(done), tuple(skipped), failed, manifest.path)


def _plan(
    items: Sequence[BatchItem], manifest: Manifest, settings: Mapping[str, Any], overwrite: bool,
    precheck: Callable[[BatchItem], None] | None,
) -> tuple[dict[BatchItem, InputFingerprint | None], list[BatchItem], list[BatchItem], dict[BatchItem, str]]:
    """Fingerprint every input; split into done before (skipped), to run, and failed up front (item → why)."""
    fingerprints: dict[BatchItem, InputFingerprint | None] = {}
    skipped, to_run, failed = [], [], {}
    for item in items:
        try:
            fingerprint = fingerprints[item] = InputFingerprint.of(item.source)
        except (OSError, ZSSRError) as exc:  # missing, unreadable, not a regular file (never read)
            fingerprints[item] = None
            failed[item] = describe_error(exc)
            continue
        if not overwrite and manifest.is_done(item, fingerprint, settings):
            skipped.append(item)
            continue
        try:
            if precheck is not None:
                precheck(item)
        except (ZSSRError, OSError) as exc:
            failed[item] = describe_error(exc)
        else:
            to_run.append(item)
    return fingerprints, skipped, to_run, failed


def _failure_line(item: BatchItem, message: str) -> str:
    """``zssr: failed: <input>: <why>`` (the input named once, even when the message names it too)."""
    line = f"zssr: failed: {message}" if str(item.source) in message else f"zssr: failed: {item.source}: {message}"
    return one_line(line)


def _run_single(
    items: Sequence[BatchItem], task: ImageTask, execution: Execution, precheck: Callable[[BatchItem], None] | None,
    progress: bool, err: TextIO,
) -> BatchReport:
    """Outputs named one by one (``-o``): no manifest, and the first error is raised as is."""
    if precheck is not None:
        for item in items:
            precheck(item)
    image_progress = partial(TqdmProgress, file=err, leave=False) if progress else None
    done = []
    for event in _backend(list(items), task, execution, image_progress, isolate=False):
        if isinstance(event, Failed):
            raise ZSSRError(f"{event.item.source}: {event.message}")
        for line in event.warnings:
            say(f"zssr: warning: {line}", err)
        print(event.line)
        done.append(event.item)
    return BatchReport(tuple(done), ())


def workers_started(execution: Execution, images: int) -> int:
    """Worker processes a run of ``images`` starts: one per device of ``execution``, never more than images."""
    return max(1, min(len(execution.devices), images)) if execution.backend == "processes" else 1


def _backend(
    items: Sequence[BatchItem], task: ImageTask, execution: Execution, progress: Any, isolate: bool,
) -> Generator[Event, None, None]:
    """The event stream of the chosen backend (a generator: closing it stops the work)."""
    if not items:
        return _run_serial((), task, execution, progress, isolate)
    if execution.backend == "ray":
        from .ray_backend import run_ray

        return run_ray(
            items, task, address=execution.ray_address, device=execution.devices[0],
            threads=execution.threads or max(1, int(execution.ray_cpus)), num_cpus=execution.ray_cpus,
            num_gpus=execution.ray_gpus, retries=execution.retries,
        )
    if execution.backend == "processes":
        from .pool import run_processes

        threads = execution.threads or max(1, torch.get_num_threads() // workers_started(execution, len(items)))
        return run_processes(items, task, execution.devices, threads, retries=execution.retries)
    return _run_serial(items, task, execution, progress, isolate)


def _run_serial(
    items: Sequence[BatchItem], task: ImageTask, execution: Execution, progress: Any, isolate: bool,
) -> Generator[Event, None, None]:
    """In this process, one image after the other (a Ctrl-C removes the temp files of the current one)."""
    device = resolve_device(execution.devices[0])
    previous = torch.get_num_threads()
    if execution.threads is not None:
        torch.set_num_threads(execution.threads)
    current: BatchItem | None = None
    try:
        for current in items:
            yield execute(task, current, device, progress, isolate=isolate)
        current = None
    finally:
        torch.set_num_threads(previous)
        if current is not None:
            remove_stale_temps(current.paths, older_than=0.0)
