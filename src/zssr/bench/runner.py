"""Running the benchmark's tasks: one per (column, method, image, seed), in-process or in a spawned pool.

A finished task leaves ``runs/<condition>/<method>/<image>_seed<k>.{png,json}``; the JSON is
written last, so a task whose JSON loads back is skipped on the next run (resuming). The JSON is
the result (scores, cost, the machine it ran on); the PNG is only the picture, so a run folder whose
JSONs were committed without their PNGs resumes on a fresh checkout (benchmarks/run_table1_cpu.sh).
A built-in ZSSR method's JSON also keeps the Config it ran with: a record whose preset has changed
since is run again rather than resumed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._atomic import write_json
from ..errors import ShapeError, ZSSRError
from ..io import read_image, write_image
from ..kernels import load_kernel, save_kernel
from ..metrics import evaluate
from ..pipeline import resolve_device
from .datasets import BenchInput, Condition
from .degradations import to_8bit
from .methods import METHODS, Method, MethodInput, MethodOutput, MethodSpec, resolved_config

__all__ = ["RayOptions", "Record", "Task", "Where", "condition_of", "machine", "run_tasks"]


@dataclass(frozen=True)
class Where:
    """The column (condition) and row (method) of a result in the tables."""

    dataset: str
    scale: float
    degradation: str
    variant: str
    data_seed: int
    method: str


@dataclass(frozen=True)
class Record(Where):
    """One scored result: (condition, method, image, seed) → PSNR/SSIM and cost."""

    image: str
    seed: int
    psnr: float
    ssim: float
    seconds: float
    iterations: int | None
    device: str
    sr: str
    resumed: bool = False
    machine: str = ""  # CPU model and torch threads (or the GPU): seconds compare only within one


@dataclass(frozen=True)
class Task:
    """One (condition, method, image, seed) cell of the benchmark: what a worker runs and where it writes."""
    condition: Condition
    spec: MethodSpec
    fn: Method
    item: BenchInput
    seed: int
    device: str
    out: Path

    @property
    def stem(self) -> Path:
        """The cell's output path without suffix: one folder per condition and method, so runs resume."""
        return self.out / "runs" / self.condition.key / self.spec.slug / f"{self.item.name}_seed{self.seed}"


def condition_of(record: Record) -> Condition:
    """The condition a record belongs to (for grouping records read back from disk)."""
    return Condition(record.dataset, record.scale, record.degradation, record.variant, record.data_seed)


def _record_fields(data: Mapping[str, Any], resumed: bool) -> Record:
    return Record(
        dataset=data["dataset"], scale=float(data["scale"]), degradation=data["degradation"], variant=data["variant"],
        data_seed=int(data["data_seed"]), method=data["method"], image=data["image"], seed=int(data["seed"]),
        psnr=float(data["psnr"]), ssim=float(data["ssim"]), seconds=float(data["seconds"]),
        iterations=None if data.get("iterations") is None else int(data["iterations"]), device=data["device"],
        sr=data["sr"], resumed=resumed, machine=_machine_text(data.get("machine"), data["device"]),
    )


def _machine_text(info: Any, device: str) -> str:
    """What a record's seconds were measured on: the GPU's name, or ``"<cpu>, <n> threads"`` (empty: unknown)."""
    if not isinstance(info, dict):
        return ""
    if info.get("gpu") and device != "cpu":
        return str(info["gpu"])
    return f"{info.get('cpu', '')}, {info.get('torch_threads', '?')} threads"


def _task_config(task: Task) -> dict[str, Any] | None:
    """The resolved Config of a built-in ZSSR method (None for other methods, or one replaced in the registry)."""
    return resolved_config(task.spec) if METHODS.get(task.spec.name) is task.fn else None


def _same_config(stored: Any, current: dict[str, Any] | None) -> bool:
    """Whether a record's Config still is the method's: equal on every field both know.

    A record from before configs were recorded (None) is accepted; a field added to Config
    since, or removed, is not a difference (at any depth: the estimator's options and the
    fallback's Config are nested); a preset whose values changed is.
    """
    if not isinstance(stored, dict) or current is None:
        return True
    for key in stored.keys() & current.keys():
        old, new = stored[key], current[key]
        if isinstance(old, dict) and isinstance(new, dict):
            if not _same_config(old, new):
                return False
        elif old != new:
            return False
    return True


def _load_record(task: Task) -> Record | None:
    path = task.stem.with_suffix(".json")
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("method") != task.spec.label or data.get("condition") != task.condition.key:
            return None
        if not _same_config(data.get("config"), _task_config(task)):
            return None
        return _record_fields(data, resumed=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def machine() -> dict[str, str]:
    """The CPU model, torch threads and build, and the device name a result was measured on.

    Recorded in every result's JSON: seconds are only comparable between runs on the same machine.
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "torch_threads": str(torch.get_num_threads()),
            "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _init_worker(threads: int, poll_seconds: float = 1.0) -> None:
    """Each of ``jobs`` workers gets ``cpu_count // jobs`` torch threads so they do not oversubscribe.

    A worker also exits when its parent is gone: a ``kill`` of the ``zssr bench`` process
    (not a Ctrl-C, which reaches the whole process group) would otherwise leave orphan
    workers training for minutes and writing results into a run that was stopped.
    """
    torch.set_num_threads(threads)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="zssr-parent-watch", daemon=True).start()


def _execute(task: Task) -> Record:
    """Run one method on one image, score it, write its PNG (and kernel) then its JSON."""
    item = task.item
    config = _task_config(task)  # before the work: a problem here must not cost a trained image
    hr = read_image(item.hr).color
    lr = read_image(item.lr).color
    kernel = load_kernel(item.kernel).numpy() if item.kernel is not None else None
    request = MethodInput(
        lr=lr, scale=task.condition.scale, kernel=kernel, seed=task.seed, device=task.device,
        options=dict(task.spec.options), image=item.name, source=item.lr,
    )
    start = time.perf_counter()
    output = task.fn(request)
    seconds = time.perf_counter() - start
    if not isinstance(output, MethodOutput):
        output = MethodOutput(sr=np.asarray(output))
    sr = np.asarray(output.sr)
    if sr.ndim == 2:
        sr = sr[..., None]
    if sr.ndim != 3 or sr.shape[2] not in (1, 3) or not np.issubdtype(sr.dtype, np.floating):
        raise ShapeError(f"method {task.spec.label!r} must return an H×W×C float array, got {sr.dtype} {sr.shape}")
    if not np.isfinite(sr).all():
        raise ZSSRError(f"method {task.spec.label!r} returned NaN or infinite values for image {item.name!r}")
    sr8 = to_8bit(sr)
    scores = evaluate(hr, sr8, scale=task.condition.scale)
    stem = task.stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_image(stem.with_suffix(".png"), sr8)
    kernel_file = None
    if output.kernel is not None:
        kernel_file = stem.parent / f"{stem.name}_kernel.mat"
        save_kernel(output.kernel, kernel_file)
    device = "cpu" if task.spec.name == "bicubic" else str(resolve_device(task.device))
    payload = {
        "condition": task.condition.key, "dataset": task.condition.dataset, "scale": task.condition.scale,
        "degradation": task.condition.degradation, "variant": task.condition.variant,
        "data_seed": task.condition.data_seed, "method": task.spec.label, "method_name": task.spec.name,
        "options": dict(task.spec.options), "image": item.name, "seed": task.seed, "psnr": scores.psnr,
        "ssim": scores.ssim, "seconds": seconds, "iterations": output.iterations, "device": device,
        "sr": str(stem.with_suffix(".png").relative_to(task.out)),
        "kernel": str(kernel_file.relative_to(task.out)) if kernel_file is not None else None,
        "input": dict(item.degradation), "info": dict(output.info), "machine": machine(),
        "config": config,
    }
    write_json(stem.with_suffix(".json"), payload)
    return _record_fields(payload, resumed=False)


@dataclass(frozen=True)
class RayOptions:
    """``zssr bench --ray``: each cell a Ray task on the cluster at ``address`` (see :mod:`zssr.batch.ray_backend`)."""

    address: str = "auto"
    num_cpus: float = 1.0
    num_gpus: float = 0.0


def _absolute(task: Task) -> Task:
    """The task with absolute input paths: a Ray worker runs in a folder of its own."""
    item = task.item
    kernel = item.kernel.resolve() if item.kernel is not None else None
    return replace(task, item=replace(item, hr=item.hr.resolve(), lr=item.lr.resolve(), kernel=kernel),
                   out=task.out.resolve())


def run_tasks(tasks: list[Task], jobs: int, progress: bool, ray: RayOptions | None = None) -> list[Record]:
    """Run the cells, in ``jobs`` worker processes when more than one (or as Ray tasks), with a progress bar.

    Records come back in task order. With ``ray``, the output folder must be on a
    filesystem every node of the cluster sees, under the same path.
    """
    from tqdm.auto import tqdm

    done: dict[int, Record] = {}
    pending = []
    for i, task in enumerate(tasks):
        record = _load_record(task)
        if record is not None:
            done[i] = record
        else:
            pending.append(i)
    with tqdm(total=len(tasks), initial=len(done), desc="bench", unit="image", disable=not progress) as bar:
        if ray is not None and pending:
            from ..batch.ray_backend import ray_map

            calls = [(_absolute(tasks[i]),) for i in pending]
            for index, record, error in ray_map(
                _execute, calls, address=ray.address, threads=max(1, int(ray.num_cpus)), num_cpus=ray.num_cpus,
                num_gpus=ray.num_gpus, name="zssr_bench",
            ):
                if error is not None:
                    raise error
                done[pending[index]] = record
                bar.update(1)
        elif jobs == 1:
            for i in pending:
                task = tasks[i]
                bar.set_postfix_str(f"{task.condition.column} {task.spec.name} {task.item.name}", refresh=False)
                done[i] = _execute(task)
                bar.update(1)
        elif pending:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
                futures = {pool.submit(_execute, tasks[i]): i for i in pending}
                remaining = set(futures)
                while remaining:
                    finished, remaining = wait(remaining, return_when=FIRST_EXCEPTION)
                    for future in finished:
                        error = future.exception()
                        if error is not None:
                            for other in remaining:
                                other.cancel()
                            raise error
                        done[futures[future]] = future.result()
                        bar.update(1)
    return [done[i] for i in range(len(tasks))]
