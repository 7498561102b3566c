"""Each image as a Ray task: a folder run spread over a Ray cluster (the optional ``ray`` extra).

The driver (``zssr upscale … --ray``) connects to a running cluster (``auto``: the one
started on this machine with ``ray start``, or ``HOST:PORT`` / ``ray://HOST:PORT``), or
starts a private one for the run (``local``). Every image becomes one task asking for
``num_cpus``/``num_gpus``; inputs and outputs are paths on a filesystem every node sees.
A task whose worker process or node dies is retried by Ray (``max_retries``); an error
of the image itself (unreadable, too small) is returned as a failure and not retried.
The driver alone writes the manifest, so resuming works exactly as for a local run.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Generator, Sequence
from typing import Any

import torch

from .._atomic import one_line
from ..errors import ZSSRError
from ..pipeline import resolve_device
from .manifest import remove_stale_temps
from .work import BatchItem, Done, Event, Failed, ImageTask, execute

__all__ = ["INSTALL_HINT", "import_ray", "ray_task", "run_ray"]

INSTALL_HINT = 'pip install "zssr[ray]" (or pip install ray)'


def import_ray() -> Any:
    """The ``ray`` module, or a ZSSRError saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ZSSRError(f"--ray needs the optional Ray package, which is not installed: {INSTALL_HINT}") from None


def ray_task(task: ImageTask, item: BatchItem, device: str, threads: int) -> Event:
    """What runs on a Ray worker: one image, with ``threads`` torch threads, on ``device`` resolved there."""
    torch.set_num_threads(threads)
    return execute(task, item, resolve_device(device))


def _absolute(item: BatchItem) -> BatchItem:
    return BatchItem(item.source.resolve(), item.target.resolve(), tuple(p.resolve() for p in item.extras))


def _connect(ray: Any, address: str) -> None:
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = " (start one with 'ray start --head', or use --ray local)" if address == "auto" else ""
        raise ZSSRError(f"--ray {address}: cannot connect to a Ray cluster{hint}: {one_line(exc)}") from None


def run_ray(
    items: Sequence[BatchItem], task: ImageTask, *, address: str = "auto", device: str = "auto", threads: int = 1,
    num_cpus: float = 1.0, num_gpus: float = 0.0, retries: int = 2,
) -> Generator[Event, None, None]:
    """Submit every item as a Ray task; yield each item's event as it finishes (in completion order).

    Args:
        items: the images to run.
        task: the picklable per-image task (sent to the object store once).
        address: ``auto``, ``HOST:PORT``, ``ray://HOST:PORT`` or ``local`` (a cluster for this run only).
        device: resolved on the worker (``auto`` picks the GPU Ray gave the task, if any).
        threads: torch CPU threads per task.
        num_cpus: CPUs each task reserves.
        num_gpus: GPUs (or a fraction) each task reserves.
        retries: Ray's ``max_retries``: runs again after a worker or node died.

    Closing the generator cancels (force-kills) unfinished tasks, removes their temp files
    and disconnects (a ``local`` cluster is shut down).
    """
    ray = import_ray()
    _connect(ray, address)
    pending: dict[Any, BatchItem] = {}
    try:
        remote = ray.remote(ray_task).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_retries=retries, retry_exceptions=False, name="zssr_image",
        )
        task_ref = ray.put(task)
        # Workers run in their own folders: they get absolute paths; events carry the caller's items.
        pending = {remote.remote(task_ref, _absolute(item), device, threads): item for item in items}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                item = pending.pop(ref)
                try:
                    event = ray.get(ref)
                    if isinstance(event, Done):
                        line = event.line.replace(str(item.target.resolve()), str(item.target), 1)
                        event = dataclasses.replace(event, line=line)
                    yield dataclasses.replace(event, item=item)
                except ray.exceptions.RayError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    lines = str(cause).strip().splitlines() or [type(cause).__name__]
                    yield Failed(item, f"Ray task failed ({type(exc).__name__}): {one_line(lines[-1])}")
    finally:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
        for item in pending.values():
            remove_stale_temps(item.paths)
        ray.shutdown()
