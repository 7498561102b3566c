"""One run of the page: the options a visitor chose, turned into exactly what ``zssr upscale`` runs.

The page must give the same bytes as the command line for the same options, so a run is
built from the command's own pieces: the preset through :func:`~zssr.config.resolve_config`,
the steps through :func:`~zssr.pipeline.parse_scale` / :func:`~zssr.pipeline.plan_steps`,
``--kernel auto`` through :func:`~zssr.task.kernel_estimator`, a kernel file through
:func:`~zssr.task.read_kernel`, and the image work itself is the task layer's
:class:`~zssr.task.UpscaleTask` (read, estimate, train, write at full depth), as for the CLI.

What is new here is only what a page needs and a terminal does not: a progress callback
(iteration, loss, learning rate, time left) that the page polls, and cooperative
cancellation: the callback checks a :class:`threading.Event` and raises a private
exception, which unwinds the training thread at the next iteration (a web framework's
own "cancel" only stops waiting for the thread, it cannot stop it).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from .._atomic import one_line
from ..batch import BatchItem
from ..batch.work import describe_error
from ..config import MAX_TIME_BUDGET, PRESETS, Config, resolve_config
from ..errors import ConfigError, KernelError, ScaleError
from ..io import read_image, to_tensor
from ..kernels import align_kernel
from ..pipeline import parse_scale, plan_steps, upscale_tensor
from ..task import ESTIMATORS, UpscaleTask, kernel_estimator, read_kernel, sibling

__all__ = ["JobOptions", "JobResult", "Monitor", "Snapshot", "budget_iterations", "run_job", "whole_number"]

KernelMode = Literal["bicubic", "file", "auto"]
KERNEL_MODES: tuple[KernelMode, ...] = ("bicubic", "file", "auto")
#: Suffixes a kernel file may have (the loader picks the format from it).
KERNEL_SUFFIXES = (".mat", ".npy", ".txt", ".csv")
#: Iterations timed to turn a time budget into ``--max-iterations`` (the first one, warm-up, is not counted).
CALIBRATION_ITERATIONS = 6


class _Cancelled(Exception):
    """Raised inside the training loop by the progress callback once the visitor cancelled."""


@dataclass(frozen=True)
class JobOptions:
    """What the visitor chose; every field maps to one ``zssr upscale`` option.

    Attributes:
        scale: ``-s`` as typed (``2``, ``1.5x2``, ``1.5,2``).
        preset: ``--preset``.
        kernel: ``bicubic`` (no ``--kernel``), ``file`` (``--kernel FILE``) or ``auto``.
        estimator: ``--estimator`` for ``auto``.
        max_iterations: ``--max-iterations`` (None: the preset's).
        budget_seconds: a training time budget; turned into ``--max-iterations`` by timing a
            few iterations first (None: no budget).
        seed: ``--seed``.
    """

    scale: str = "2"
    preset: str = "fast"
    kernel: KernelMode = "bicubic"
    estimator: str = "edges"
    max_iterations: int | None = None
    budget_seconds: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(sorted(PRESETS))}, got {self.preset!r}")
        if self.kernel not in KERNEL_MODES:
            raise KernelError(f"kernel must be one of {', '.join(KERNEL_MODES)}, got {self.kernel!r}")
        if self.estimator not in ESTIMATORS:
            raise KernelError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.max_iterations is not None and not (_is_int(self.max_iterations) and self.max_iterations >= 1):
            raise ConfigError(f"max iterations must be an integer >= 1, got {self.max_iterations!r}")
        if self.budget_seconds is not None and not (
            isinstance(self.budget_seconds, (int, float)) and not isinstance(self.budget_seconds, bool)
            and 0 < self.budget_seconds <= MAX_TIME_BUDGET
        ):  # (nan fails every comparison; 1e308 once overflowed turning into iterations)
            raise ConfigError(f"time budget must be a number of seconds in (0, {MAX_TIME_BUDGET:,.0f}], "
                              f"got {self.budget_seconds!r}")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            raise ConfigError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")

    def config(self, max_iterations: int | None = None) -> Config:
        """The run's Config, built as ``zssr upscale --preset P [--max-iterations N]`` builds it."""
        return resolve_config(self.preset, max_iterations=max_iterations or self.max_iterations)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number(value: object, name: str) -> int | None:
    """A page's number field as an int (None when empty); a fraction is refused by name, never rounded.

    Why: Gradio's ``precision=0`` rounds what an API client sends (seed 0.5 → 0, 2.5
    iterations → 2) and the run then differs silently from what was asked.

    Raises:
        ConfigError: not a finite whole number.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != math.floor(value):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Snapshot:
    """What the page shows of a run at one moment (read from another thread)."""

    stage: str = "starting"
    step: int = 0
    steps: int = 1
    iteration: int = 0
    max_iterations: int = 0
    loss: float = float("nan")
    learning_rate: float = float("nan")
    seconds_left: float | None = None
    elapsed: float = 0.0


class Monitor:
    """The pipeline's progress factory for one run, and the point where a run is cancelled.

    ``monitor(step, steps, sf, max_iterations)`` is called by the pipeline at the start of
    each scale step and returns the per-iteration callback; that callback raises the
    private cancellation exception once ``cancel`` is set. :meth:`snapshot` may be called
    from any thread.

    Args:
        cancel: set by the page's Cancel button (or when the visitor leaves).
        clock: seconds, monotonic (injectable for tests).
    """

    def __init__(self, cancel: threading.Event, clock: Callable[[], float] = time.monotonic) -> None:
        self.cancel = cancel
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._step_start = self._start
        self._snapshot = Snapshot()

    def stage(self, name: str) -> None:
        """Name what the run is doing now ("estimating the kernel", "writing the output", …)."""
        self.check()
        with self._lock:
            self._snapshot = dataclasses.replace(self._snapshot, stage=name, elapsed=self._clock() - self._start)

    def check(self) -> None:
        """Raise the cancellation exception if the run was cancelled."""
        if self.cancel.is_set():
            raise _Cancelled()

    def __call__(self, index: int, total: int, sf: tuple[float, float], max_iterations: int) -> Callable[[int, float, float], None]:
        """Start scale step ``index`` of ``total``; return its per-iteration callback."""
        self.check()
        now = self._clock()
        self._step_start = now
        with self._lock:
            self._snapshot = Snapshot(
                stage="training", step=index, steps=total, iteration=0, max_iterations=max_iterations,
                elapsed=now - self._start,
            )
        return self._iteration

    def _iteration(self, iteration: int, loss: float, lr: float) -> None:
        self.check()
        now = self._clock()
        with self._lock:
            snap = self._snapshot
            done = iteration + 1
            per_iteration = (now - self._step_start) / done
            # An upper bound: the learning-rate policy may end a step before max_iterations.
            left = (snap.max_iterations - done) + (snap.steps - snap.step - 1) * snap.max_iterations
            self._snapshot = dataclasses.replace(
                snap, iteration=done, loss=loss, learning_rate=lr, seconds_left=max(0.0, left * per_iteration),
                elapsed=now - self._start,
            )

    def snapshot(self) -> Snapshot:
        """The latest state of the run."""
        with self._lock:
            return dataclasses.replace(self._snapshot, elapsed=self._clock() - self._start)


@dataclass(frozen=True)
class JobResult:
    """How a run ended and what it wrote (paths inside the visitor's folder).

    ``status`` is ``done``, ``cancelled`` or ``failed``; ``message`` is one line (the
    CLI's error line for a failure).
    """

    status: Literal["done", "cancelled", "failed"]
    message: str
    command: str = ""
    output: Path | None = None
    kernel: Path | None = None
    kernel_picture: Path | None = None
    curves: Path | None = None
    warnings: tuple[str, ...] = ()
    steps: tuple[tuple[float, float], ...] = ()


def output_name(steps: list[tuple[float, float]]) -> str:
    """``zssr_x2.png`` / ``zssr_x1.5x2.png``: made from the parsed factor, never from an uploaded name."""
    sy, sx = steps[-1]
    return f"zssr_x{sy:g}.png" if sy == sx else f"zssr_x{sy:g}x{sx:g}.png"


def budget_iterations(
    image: torch.Tensor, steps: list[tuple[float, float]], config: Config, seconds: float, *,
    device: torch.device, cancel: threading.Event | None = None,
) -> int:
    """``--max-iterations`` that fits ``seconds`` of training, from timing a few iterations here.

    The iterations are the pipeline's own (the last, largest step, no ensemble or
    back-projection); the budget is shared equally by the steps. At least 1, at most the
    preset's ``max_iterations``.
    """
    times: list[float] = []
    probe = dataclasses.replace(
        config, max_iterations=CALIBRATION_ITERATIONS, output_flip=False, back_projection_iters=(0,),
    )

    def factory(index: int, total: int, sf: tuple[float, float], max_iterations: int) -> Callable[[int, float, float], None]:
        def tick(iteration: int, loss: float, lr: float) -> None:
            if cancel is not None and cancel.is_set():
                raise _Cancelled()
            times.append(time.perf_counter())
        return tick

    start = time.perf_counter()
    upscale_tensor(image, steps[-1:], config=probe, seed=0, device=device, progress=factory)
    per_iteration = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else time.perf_counter() - start
    fits = seconds / len(steps) / max(per_iteration, 1e-6)  # capped as a float: int() of a huge one overflows
    return max(1, int(min(float(config.max_iterations), fits)))


def cli_command(options: JobOptions, steps: list[tuple[float, float]], max_iterations: int | None, *,
                device: torch.device, threads: int, kernel_name: str | None = None) -> str:
    """The ``zssr upscale`` command that writes the same bytes (shown on the page)."""
    out = output_name(steps)
    argv = ["zssr", "upscale", "IN", "-s", options.scale.strip(), "--preset", options.preset, "--seed", str(options.seed)]
    if max_iterations is not None:
        argv += ["--max-iterations", str(max_iterations)]
    if options.kernel == "auto":
        argv += ["--kernel", "auto", "--estimator", options.estimator]
    elif options.kernel == "file":
        argv += ["--kernel", kernel_name or "KERNEL"]
    argv += ["--device", str(device), "--threads", str(threads), "-o", out]
    return shlex.join(argv)


def run_job(
    options: JobOptions, source: Path, folder: Path, *, device: torch.device, monitor: Monitor,
    kernel_file: Path | None = None, display_names: dict[Path, str] | None = None,
) -> JobResult:
    """Run ``zssr upscale`` on ``source`` with ``options``, writing into ``folder``; never raises.

    Args:
        options: the visitor's choices.
        source: the uploaded image (already copied into the visitor's folder).
        folder: where the output and its side files go (``zssr_x2.png``, ``…_kernel.mat``,
            ``…_kernel.png``, ``…_curves.png``).
        device: the server's device.
        monitor: progress factory and cancellation point.
        kernel_file: the uploaded kernel for ``options.kernel == "file"``.
        display_names: server paths to show as the visitor's file names in messages.

    Returns:
        A :class:`JobResult`; a bad input is ``failed`` with the CLI's one-line message.
    """
    command = ""
    try:
        monitor.stage("checking the inputs")
        config = options.config()
        steps = parse_scale(options.scale)
        if len(steps) == 1:
            steps = plan_steps(steps[0], config)
        kernels: list[torch.Tensor | None] = [None] * len(steps)
        estimate = None
        if options.kernel == "auto":
            if steps[-1][0] != steps[-1][1]:
                raise ScaleError(f"kernel auto needs the same factor on both axes, got final step {steps[-1]}")
            estimate = kernel_estimator(options.estimator, iterations=None, restarts=None, width_correction=False,
                                        flags=("--kernel-iterations", "--kernel-restarts", "--width-correction"))
        elif options.kernel == "file":
            if kernel_file is None:
                raise KernelError("kernel 'file' needs a kernel file (.mat, .npy, .txt or .csv)")
            kernels[-1] = align_kernel(read_kernel(kernel_file), steps[-1])
        picture = read_image(source)
        max_iterations = options.max_iterations
        if options.budget_seconds is not None:
            monitor.stage("timing a few iterations for the time budget")
            max_iterations = budget_iterations(
                to_tensor(picture.color), steps, config, options.budget_seconds, device=device, cancel=monitor.cancel,
            )
            config = options.config(max_iterations)
        kernel_label = (display_names or {}).get(kernel_file, "KERNEL") if kernel_file is not None else None
        command = cli_command(options, steps, max_iterations, device=device, threads=torch.get_num_threads(),
                              kernel_name=kernel_label)
        target = folder / output_name(steps)
        task = UpscaleTask(
            steps=tuple(steps), config=config, kernels=tuple(kernels), seed=options.seed, estimate=estimate,
            fallback_config=config if estimate is not None else None, save_curves=True, protect=(source.resolve(),),
        )
        monitor.stage("estimating the kernel" if estimate is not None else "starting")
        result = task(BatchItem(source, target, task.extras(target)), device, monitor)
    except _Cancelled:
        return JobResult("cancelled", "cancelled: the run was stopped; nothing was written", command=command)
    except Exception as exc:  # every failure is one line on the page, never a traceback
        return JobResult("failed", f"zssr: error: {_shown(describe_error(exc), display_names, folder)}", command=command)
    written = set(result.files)
    kernel = sibling(target, "_kernel.mat")
    picture_path = sibling(target, "_kernel.png")
    curves = sibling(target, "_curves.png")
    return JobResult(
        "done", one_line(_shown(result.line, display_names, folder)), command=command, output=target,
        kernel=kernel if kernel in written else None, kernel_picture=picture_path if picture_path in written else None,
        curves=curves if curves in written else None,
        warnings=tuple(_shown(w, display_names, folder) for w in result.warnings), steps=tuple(steps),
    )


def _shown(message: str, names: dict[Path, str] | None, folder: Path) -> str:
    """``message`` with server paths replaced by the names the visitor knows (no server layout leaks)."""
    for path, name in (names or {}).items():
        message = message.replace(str(path), name)
    return message.replace(f"{folder}{os.sep}", "").replace(str(folder), ".")
