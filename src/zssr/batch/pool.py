"""Worker processes on one node: one image per worker at a time, one device per worker.

Each worker is a spawned process (never forked: a forked CUDA or OpenMP runtime is not
safe) that receives the task once at start, then items one by one over its own pipe.
The driver always knows which item each worker holds, so a worker that dies (killed,
out of memory, a crash in native code) costs only that item: it is retried on a fresh
worker up to ``retries`` times, then reported as failed, and the other workers go on.

Workers ignore SIGINT: a Ctrl-C reaches the whole process group, and the driver alone
decides what happens (it kills the workers and removes the temp files of the images
they held). A worker also exits when its driver is gone (a SIGKILL of ``zssr`` would
otherwise leave orphans training and writing into a stopped run).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from ..pipeline import resolve_device
from .manifest import remove_stale_temps
from .work import BatchItem, Done, Event, Failed, ImageTask, execute

__all__ = ["run_processes", "worker_main"]


def worker_main(conn: Connection, task: ImageTask, device: str, threads: int, parent: int) -> None:
    """A worker process: set threads and device, then run items from ``conn`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="zssr-parent-watch", daemon=True).start()
    torch.set_num_threads(threads)
    where = resolve_device(device)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        conn.send(execute(task, item, where))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    device: str
    item: BatchItem | None = None


def run_processes(
    items: Sequence[BatchItem], task: ImageTask, devices: Sequence[str], threads: int, *, retries: int = 2,
) -> Generator[Event, None, None]:
    """Run ``items`` on ``len(devices)`` spawned workers; yield each item's event as it finishes.

    Args:
        items: the images to run.
        task: the picklable per-image task.
        devices: one device name per worker (``cpu``, ``cuda:0``, …).
        threads: torch CPU threads in each worker.
        retries: how many times an item whose worker died is run again.

    Closing the generator (normally, on an error or a Ctrl-C) stops every worker and
    removes the temp files of the items they held.
    """
    context = multiprocessing.get_context("spawn")
    queue = deque(items)
    deaths: dict[BatchItem, int] = {}

    def start(device: str) -> _Worker:
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=worker_main, args=(child_end, task, device, threads, os.getpid()), name=f"zssr-worker-{device}",
            daemon=True,
        )
        process.start()
        child_end.close()
        return _Worker(process, parent_end, device)

    slots: list[_Worker | None] = [None] * max(1, min(len(devices), len(items)))
    clean = False
    try:
        while queue or any(w is not None and w.item is not None for w in slots):
            for i, w in enumerate(slots):  # a worker is (re)started only when there is work for it
                if queue and (w is None or w.item is None):
                    w = slots[i] = w or start(devices[i])
                    w.item = queue.popleft()
                    w.conn.send(w.item)
            busy = [w for w in slots if w is not None and w.item is not None]
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for i, w in enumerate(slots):
                if w is None or w.item is None or (w.conn not in ready and w.process.sentinel not in ready):
                    continue
                event = _receive(w)
                item, w.item = w.item, None
                if event is not None:
                    yield event
                    continue
                # The worker died holding ``item``: retry the item (on a fresh worker) or report it.
                w.process.join(timeout=5)
                code = w.process.exitcode
                w.conn.close()
                slots[i] = None
                remove_stale_temps(item.paths, older_than=0.0)
                deaths[item] = deaths.get(item, 0) + 1
                if deaths[item] <= retries:
                    queue.appendleft(item)
                else:
                    yield Failed(item, f"its worker process died {deaths[item]} times (last exit code {code})")
        clean = True
    finally:
        _stop([w for w in slots if w is not None], clean)


def _receive(worker: _Worker) -> Event | None:
    """The worker's answer, or None when it died before answering."""
    try:
        if worker.conn.poll():
            answer = worker.conn.recv()
            if isinstance(answer, (Done, Failed)):
                return answer
    except (EOFError, OSError):
        pass
    return None


def _stop(workers: list[_Worker], clean: bool) -> None:
    """Stop the workers: politely after a clean finish, by SIGKILL otherwise (then drop their temp files)."""
    held = [w.item for w in workers if w.item is not None]
    for w in workers:
        if clean and w.process.is_alive():
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        else:
            w.process.kill()
    for w in workers:
        w.process.join(timeout=10)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()
    for item in held:
        remove_stale_temps(item.paths, older_than=0.0)
