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
from collections.abc import Callable, Generator, Sequence
from typing import Any

import torch

from .._atomic import one_line
from ..errors import ZSSRError
from ..pipeline import resolve_device
from .manifest import remove_stale_temps
from .work import BatchItem, Done, Event, Failed, ImageTask, execute

__all__ = ["INSTALL_HINT", "import_ray", "ray_map", "ray_task", "run_ray"]

INSTALL_HINT = 'pip install "zssr[ray]" (or pip install ray)'


def import_ray() -> Any:
    """The ``ray`` module, or a ZSSRError saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ZSSRError(f"--ray needs the optional Ray package, which is not installed: {INSTALL_HINT}") from None


def ray_task(task: ImageTask, item: BatchItem, device: str, threads: int) -> Event:
    """What runs on a Ray worker for one image: the task on ``device``, resolved there."""
    return execute(task, item, resolve_device(device))


def _call(function: Callable[..., Any], threads: int, args: tuple[Any, ...]) -> Any:
    """The Ray task around every call: ``threads`` torch threads, then ``function(*args)``."""
    torch.set_num_threads(threads)
    return function(*args)


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


def ray_map(
    function: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, address: str = "auto", threads: int = 1,
    num_cpus: float = 1.0, num_gpus: float = 0.0, retries: int = 2, name: str = "zssr_task",
) -> Generator[tuple[int, Any, BaseException | None], None, None]:
    """Run ``function(*call)`` for every call as a Ray task; yield ``(index, result, error)`` as each ends.

    Args:
        function: a module-level (importable) function; it runs on the cluster's workers.
        calls: the argument tuples, one per task.
        address: ``auto``, ``HOST:PORT``, ``ray://HOST:PORT`` or ``local`` (a cluster for this run only).
        threads: torch CPU threads per task.
        num_cpus: CPUs each task reserves.
        num_gpus: GPUs (or a fraction) each task reserves.
        retries: Ray's ``max_retries``: runs again after a worker or node died (an exception
            raised by ``function`` is not retried).
        name: the tasks' name (shown as ``ray::<name>`` in the workers' process titles).

    ``error`` is the exception ``function`` raised (or Ray's, when retries ran out), else None.
    Closing the generator cancels (force-kills) unfinished tasks and disconnects (a ``local``
    cluster is shut down).
    """
    ray = import_ray()
    _connect(ray, address)
    pending: dict[Any, int] = {}
    try:
        remote = ray.remote(_call).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_retries=retries, retry_exceptions=False, name=name,
        )
        function_ref = ray.put(function)
        pending = {remote.remote(function_ref, threads, call): i for i, call in enumerate(calls)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                index = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    yield index, None, cause if isinstance(cause, BaseException) else exc
                except ray.exceptions.RayError as exc:
                    yield index, None, exc
                else:
                    yield index, result, None
    finally:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
        ray.shutdown()


def run_ray(
    items: Sequence[BatchItem], task: ImageTask, *, address: str = "auto", device: str = "auto", threads: int = 1,
    num_cpus: float = 1.0, num_gpus: float = 0.0, retries: int = 2,
) -> Generator[Event, None, None]:
    """Submit every item as a Ray task; yield each item's event as it finishes (in completion order).

    Args:
        items: the images to run.
        task: the picklable per-image task.
        address: ``auto``, ``HOST:PORT``, ``ray://HOST:PORT`` or ``local`` (a cluster for this run only).
        device: resolved on the worker (``auto`` picks the GPU Ray gave the task, if any).
        threads: torch CPU threads per task.
        num_cpus: CPUs each task reserves.
        num_gpus: GPUs (or a fraction) each task reserves.
        retries: Ray's ``max_retries``: runs again after a worker or node died.

    Closing the generator cancels unfinished tasks and removes their temp files.
    """
    # Workers run in their own folders: they get absolute paths; events carry the caller's items.
    calls = [(task, _absolute(item), device, threads) for item in items]
    finished: set[int] = set()
    try:
        for index, event, error in ray_map(
            ray_task, calls, address=address, threads=threads, num_cpus=num_cpus, num_gpus=num_gpus,
            retries=retries, name="zssr_image",
        ):
            finished.add(index)
            item = items[index]
            if error is not None:
                lines = str(error).strip().splitlines() or [type(error).__name__]
                yield Failed(item, f"Ray task failed ({type(error).__name__}): {one_line(lines[-1])}")
                continue
            if isinstance(event, Done):
                event = dataclasses.replace(event, line=event.line.replace(str(item.target.resolve()), str(item.target), 1))
            yield dataclasses.replace(event, item=item)
    finally:
        for index, item in enumerate(items):
            if index not in finished:
                remove_stale_temps(item.paths, older_than=0.0)
