"""Each image as a Ray task: a folder run spread over a Ray cluster (the optional ``ray`` extra).

The driver (``zssr upscale … --ray``) connects to a running cluster (``auto``: the one
started on this machine with ``ray start``, or ``HOST:PORT`` / ``ray://HOST:PORT``), or
starts a private one for the run (``local``). Every image becomes one task asking for
``num_cpus``/``num_gpus``; inputs and outputs are paths on a filesystem every node sees.
A task whose worker process or node dies is retried by Ray (``max_retries``); an error
of the image itself (unreadable, too small) is returned as a failure and not retried.
The driver alone writes the manifest, so resuming works exactly as for a local run.

Connecting is bounded: the address is first dialled with a plain TCP connect
(:data:`CONNECT_TIMEOUT` seconds), so a cluster that is not there is one line at once
instead of Ray's minutes of retries; Ray's own handshake then runs with its connect
timeouts set to the same few seconds and its log lines held back (they would otherwise
print dozens of raw lines on stderr).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import os
import socket
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import torch

from .._atomic import one_line
from ..errors import ZSSRError
from ..pipeline import resolve_device
from .manifest import remove_stale_temps
from .work import BatchItem, Done, Event, Failed, ImageTask, execute

__all__ = ["CONNECT_TIMEOUT", "INSTALL_HINT", "check_reachable", "import_ray", "ray_map", "ray_task", "run_ray"]

INSTALL_HINT = 'pip install "zssr[ray]" (or pip install "ray[client]")'
#: Seconds to reach a cluster (the TCP probe; each of Ray's own connect steps gets as long).
CONNECT_TIMEOUT = 5.0
#: The port of a ``ray://`` address without one (Ray's client server default).
CLIENT_PORT = 10001
_NOT_THERE = "is it running? ('ray start --head' starts one here; --ray local runs a private one for the run)"


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


def _split(address: str, default_port: int | None) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``) → (host, port); a ZSSRError naming ``--ray`` otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or "]" in port or (":" in host and not host.startswith("[")):
        host, port = address, ""  # no port (a bare host, or an unbracketed IPv6 literal)
    host = host.removeprefix("[").removesuffix("]")
    if not port and default_port is not None:
        return host, default_port
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ZSSRError(f"--ray {address!r}: expected auto, local, HOST:PORT or ray://HOST:PORT")
    return host, int(port)


def _endpoint(address: str) -> tuple[str, int] | None:
    """Where ray.init will dial for ``address`` (None: nothing to dial, or Ray finds it itself)."""
    if address == "local":
        return None
    if address == "auto":
        recorded = os.environ.get("RAY_ADDRESS", "").strip()
        if recorded.startswith("ray://"):
            return _split(recorded.removeprefix("ray://"), CLIENT_PORT)
        try:  # RAY_ADDRESS, else the cluster 'ray start' recorded here (None: Ray says none runs)
            from ray._private.services import canonicalize_bootstrap_address  # noqa: PLC0415

            found = canonicalize_bootstrap_address("auto")
        except Exception:  # noqa: BLE001 - a private helper: on any surprise, let ray.init decide
            return None
        return None if found is None else _split(found, None)
    if address.startswith("ray://"):
        return _split(address.removeprefix("ray://"), CLIENT_PORT)
    host, port = _split(address, None)
    with contextlib.suppress(Exception):  # Ray dials a local name at this machine's address, as here
        from ray._private.services import resolve_ip_for_localhost  # noqa: PLC0415

        host = resolve_ip_for_localhost(host)
    return host, port


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """A TCP connect to the cluster at ``address`` within ``timeout`` seconds, or one ZSSRError line.

    Why: ``ray.init`` retries an address where nothing listens for minutes, printing raw
    log lines and ignoring Ctrl-C while it does; a plain connect answers in milliseconds
    (refused) or ``timeout`` seconds (dropped). ``local`` is not dialled; ``auto`` dials
    the cluster ``RAY_ADDRESS`` or ``ray start`` recorded, if any.
    """
    endpoint = _endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise ZSSRError(f"cannot reach the Ray cluster at {address} within {timeout:g} s "
                        f"(--ray; {endpoint[0]}:{endpoint[1]}: {why}); {_NOT_THERE}") from None


@contextlib.contextmanager
def _ray_quiet(address: str) -> Iterator[None]:
    """Ray's connect with bounded timeouts and its log lines (C++ on fd 2, Python loggers) held back.

    The timeouts go in Ray's environment settings (read when ray.init starts its core),
    only for a remote cluster and only where the user set none: a ``local`` cluster's
    processes inherit the environment and keep Ray's defaults.
    """
    settings = {} if address == "local" else {
        "RAY_gcs_rpc_server_connect_timeout_s": f"{CONNECT_TIMEOUT:.0f}",
        "RAY_py_gcs_connect_timeout_s": f"{CONNECT_TIMEOUT:.0f}",
        "RAY_gcs_server_port_wait_time_s": "1",  # one handshake, not NUM_REDIS_GET_RETRIES of them
    }
    added = [name for name in settings if name not in os.environ]
    for name in added:
        os.environ[name] = settings[name]
    previous_disable = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    saved = null = None
    try:
        with contextlib.suppress(OSError):
            saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if null is not None:
            os.close(null)
        logging.disable(previous_disable)
        for name in added:
            os.environ.pop(name, None)


def _connect(ray: Any, address: str) -> None:
    check_reachable(address)
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        with _ray_quiet(address):
            if address == "local":
                ray.init(include_dashboard=False, **options)
            else:
                ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        message = one_line(exc)
        if "ray[client]" in message:
            raise ZSSRError(f"--ray {address}: a ray:// address needs Ray's client: {INSTALL_HINT}") from None
        if address == "local":
            raise ZSSRError(f"--ray local: cannot start a Ray cluster here: {message}") from None
        if address == "auto" and _endpoint(address) is None:
            raise ZSSRError(f"--ray auto: no Ray cluster recorded on this machine ({message}); {_NOT_THERE}") from None
        # The address answered the TCP probe, but no Ray handshake completed in Ray's (shortened) timeouts.
        raise ZSSRError(f"cannot reach the Ray cluster at {address} (--ray; the port answers, but no Ray "
                        f"handshake completed: {message}); is it a Ray cluster's address?") from None


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
