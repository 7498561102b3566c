"""What the napari widget runs, without Qt: a layer's array, scale and translate in, the enlarged layer out.

Why a module of its own: the widget stays a thin form over this, and this runs (and is tested)
where napari is not installed. The work itself is the public API: :func:`zssr.upscale` for a
2-D layer (its kernel choice and do-no-harm check included) and :func:`zssr.upscale_volume`
for a stack (one net for all planes, in-plane or through-plane).

Progress and cancel are the web page's scheme (:mod:`zssr.web.job`): the pipeline calls a
progress factory per scale step, whose per-iteration callback (and the plane callback) reports
an :class:`Update` and raises :class:`Cancelled` once the cancel event is set, which unwinds
the worker thread at the next iteration or plane.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..config import PRESETS
from ..errors import ConfigError, KernelError, ScaleError, ShapeError
from ..pipeline import upscale
from ..volume import intensity_map, upscale_volume

__all__ = [
    "AXES_BY_NDIM", "AXIS_CHOICES", "KERNEL_CHOICES", "Cancelled", "LayerResult", "Progress", "Update",
    "WidgetOptions", "enlarged_grid", "layer_axes", "run_layer",
]

AxisChoice = Literal["in-plane", "z"]
KernelChoice = Literal["bicubic", "auto", "file"]
AXIS_CHOICES: tuple[AxisChoice, ...] = ("in-plane", "z")
KERNEL_CHOICES: tuple[KernelChoice, ...] = ("bicubic", "auto", "file")
#: napari layers carry no axis letters: a layer of this many dimensions is read with these.
AXES_BY_NDIM = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}


class Cancelled(Exception):
    """Raised inside the run by a progress callback once Cancel was pressed."""


@dataclass(frozen=True)
class WidgetOptions:
    """The widget's form, checked.

    Attributes:
        factor: the enlargement (in-plane on Y and X, or along Z); None reads it from the
            voxel sizes (the layer's ``scale``), through-plane only.
        axis: ``in-plane`` or ``z`` (through-plane, for stacks).
        preset: a :data:`zssr.config.PRESETS` name.
        kernel: ``bicubic``, ``auto`` (estimated from the image) or ``file`` (2-D layers).
        kernel_file: the kernel for ``file`` (.mat, .npy, .txt, .csv).
        iterations: ``max_iterations`` (None: the preset's).
        seed: the run's seed.
        config_overrides: further :class:`~zssr.config.Config` fields (scripts and tests: a tiny
            ``crop_size``); checked by the run.
    """

    factor: float | None = 2.0
    axis: AxisChoice = "in-plane"
    preset: str = "fast"
    kernel: KernelChoice = "bicubic"
    kernel_file: str | None = None
    iterations: int | None = None
    seed: int = 0
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.axis not in AXIS_CHOICES:
            raise ConfigError(f"axis must be one of {', '.join(AXIS_CHOICES)}, got {self.axis!r}")
        if self.factor is None:
            if self.axis != "z":
                raise ScaleError("factor is needed in-plane (only axis z reads it from the voxel sizes)")
        elif not (isinstance(self.factor, (int, float)) and math.isfinite(self.factor) and self.factor > 1):
            raise ScaleError(f"factor must be a number > 1, got {self.factor!r}")
        if self.preset not in PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(sorted(PRESETS))}, got {self.preset!r}")
        if self.kernel not in KERNEL_CHOICES:
            raise KernelError(f"kernel must be one of {', '.join(KERNEL_CHOICES)}, got {self.kernel!r}")
        if self.kernel == "file" and not self.kernel_file:
            raise KernelError("kernel 'file' needs a kernel file (.mat, .npy, .txt or .csv)")
        if self.iterations is not None and not (_is_int(self.iterations) and self.iterations >= 1):
            raise ConfigError(f"iterations must be an integer >= 1, got {self.iterations!r}")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            raise ConfigError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")

    def overrides(self) -> dict[str, Any]:
        """The :class:`~zssr.config.Config` overrides the form sets."""
        extra = {} if self.iterations is None else {"max_iterations": self.iterations}
        return {**self.config_overrides, **extra}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Update:
    """One progress report: what the run does, how far it is (``done`` of ``total``), a short line."""

    stage: str
    done: int
    total: int
    text: str


class Progress:
    """The pipeline's progress factory and the plane callback, reporting :class:`Update` and honouring cancel.

    Why one object: the 2-D pipeline calls it per scale step, the volume path once for its
    training and then per plane; every call is also the point where a cancelled run stops.

    Args:
        report: receives each :class:`Update` (from the worker thread).
        cancel: set by the widget's Cancel button.
        every: report one training iteration in this many (the first and last always).
    """

    def __init__(self, report: Callable[[Update], None], cancel: threading.Event | None = None, every: int = 5) -> None:
        self.report = report
        self.cancel = cancel if cancel is not None else threading.Event()
        self.every = max(1, every)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the run was cancelled."""
        if self.cancel.is_set():
            raise Cancelled()

    def __call__(self, index: int, total: int, sf: tuple[float, float], max_iterations: int) -> _StepCallback:
        """Start scale step ``index`` of ``total``; return its per-iteration callback."""
        self.check()
        label = f"step {index + 1}/{total} ×{sf[0]:g}" + ("" if sf[0] == sf[1] else f"×{sf[1]:g}")
        self.report(Update("training", 0, max_iterations, f"{label}: training"))
        return _StepCallback(self, label, max_iterations)

    def planes(self, done: int, total: int) -> None:
        """Planes enlarged so far (the volume path)."""
        self.check()
        self.report(Update("planes", done, total, f"planes {done}/{total}"))


class _StepCallback:
    """One scale step's per-iteration callback, with the inference phase the pipeline reports on it."""

    def __init__(self, progress: Progress, label: str, max_iterations: int) -> None:
        self.progress, self.label, self.max_iterations = progress, label, max_iterations

    def __call__(self, iteration: int, loss: float, lr: float) -> None:
        self.progress.check()
        done = iteration + 1
        if iteration % self.progress.every == 0 or done >= self.max_iterations:
            self.progress.report(Update("training", done, self.max_iterations,
                                        f"{self.label}: iteration {done}/{self.max_iterations}, loss {loss:.4f}"))

    def inference(self, done: int, total: int) -> None:
        self.progress.check()
        self.progress.report(Update("inference", done, total, f"{self.label}: inference {done}/{total}"))


@dataclass(frozen=True)
class LayerResult:
    """The enlarged layer: its data (the input's dtype), ``scale`` and ``translate``, and what was done (``label``: ``×2``, ``×4 z``)."""

    data: np.ndarray
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    factors: dict[int, float]
    seconds: float
    label: str
    warnings: tuple[str, ...] = field(default=())


def layer_axes(ndim: int) -> str:
    """The axis letters of a (non-RGB) layer of ``ndim`` dimensions (:data:`AXES_BY_NDIM`).

    Raises:
        ShapeError: fewer than 2 or more than 5 dimensions.
    """
    if ndim not in AXES_BY_NDIM:
        raise ShapeError(f"layer must have 2 to 5 dimensions (YX, ZYX, TZYX, TCZYX), got {ndim}")
    return AXES_BY_NDIM[ndim]


def enlarged_grid(scale: Sequence[float], translate: Sequence[float],
                  factors: dict[int, float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The new layer's ``scale`` and ``translate``: it covers the same extent as the input.

    Output pixel ``k`` along an axis enlarged by ``r`` has its centre at input position
    ``(k + 0.5)/r − 0.5`` (MATLAB ``imresize``'s grid), so its voxel size is ``s/r`` and its
    first centre lies ``(s − s/r)/2`` before the input's.
    """
    new_scale, new_translate = [float(s) for s in scale], [float(t) for t in translate]
    for i, r in factors.items():
        new_scale[i] = new_scale[i] / r
        new_translate[i] = new_translate[i] - (float(scale[i]) - new_scale[i]) / 2.0
    return tuple(new_scale), tuple(new_translate)


def run_layer(data: Any, *, options: WidgetOptions, rgb: bool = False, scale: Sequence[float] | None = None,
              translate: Sequence[float] | None = None, progress: Progress | None = None,
              device: str = "auto") -> LayerResult:
    """Enlarge one image layer's data as the widget's form says.

    Args:
        data: the layer's array (numpy, or anything ``np.asarray`` reads: dask is computed).
        options: the form.
        rgb: the layer is RGB(A): its last axis is colour, not space.
        scale: the layer's voxel sizes, one per non-colour axis (default 1).
        translate: the layer's offset, one per non-colour axis (default 0).
        progress: progress reports and the cancel point.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.

    Returns:
        A :class:`LayerResult`: the data in the layer's dtype and value range.

    Raises:
        ZSSRError: a bad form or layer, as the CLI words it; Cancelled: Cancel was pressed.
    """
    array = np.asarray(data)
    ndim = array.ndim - 1 if rgb else array.ndim
    scale = tuple(float(s) for s in (scale if scale is not None else [1.0] * ndim))
    translate = tuple(float(t) for t in (translate if translate is not None else [0.0] * ndim))
    if len(scale) != ndim or len(translate) != ndim:
        raise ShapeError(f"layer scale and translate must have one value per axis ({ndim}), "
                         f"got {len(scale)} and {len(translate)}")
    progress = progress if progress is not None else Progress(lambda update: None)
    start = time.perf_counter()
    if rgb and ndim != 2:
        raise ShapeError(f"an RGB layer must be one Y×X picture, got {ndim} spatial axes (shape {array.shape})")
    if ndim == 2:
        if options.axis == "z":
            raise ConfigError("axis z (through-plane) needs a stack: a layer with Z, Y and X axes")
        out, caught = _run_picture(array, options, progress, device)
        factors = dict.fromkeys((0, 1), float(options.factor or 0))
    else:
        out, factors = _run_stack(array, options, scale, progress, device)
        caught = ()
    new_scale, new_translate = enlarged_grid(scale, translate, factors)
    label = "×" + "x".join(dict.fromkeys(f"{r:g}" for r in factors.values())) + (" z" if options.axis == "z" else "")
    return LayerResult(out, new_scale, new_translate, factors, time.perf_counter() - start, label, caught)


def _run_picture(array: np.ndarray, options: WidgetOptions, progress: Progress,
                 device: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """A 2-D layer through :func:`zssr.upscale`, its values mapped to ``[0, 1]`` and back."""
    if options.factor is None:
        raise ScaleError("factor is needed for a 2-D layer (only axis z reads it from the voxel sizes)")
    intensity = intensity_map(array)
    kernel: str | None = None
    if options.kernel == "auto":
        kernel = "auto"
    elif options.kernel == "file":
        kernel = options.kernel_file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        unit = upscale(intensity.to_unit(array), options.factor, preset=options.preset, kernel=kernel,
                       seed=options.seed, device=device, step_progress=progress, **options.overrides())
    if array.ndim == 2:
        unit = unit[..., 0]
    return intensity.from_unit(unit), tuple(str(w.message) for w in caught)


def _run_stack(array: np.ndarray, options: WidgetOptions, scale: tuple[float, ...], progress: Progress,
               device: str) -> tuple[np.ndarray, dict[int, float]]:
    """A stack through :func:`zssr.upscale_volume`: one net; the layer's scale gives the voxel sizes."""
    if options.kernel != "bicubic":
        raise KernelError(f"kernel {options.kernel!r} applies to 2-D layers; a stack is degraded by bicubic "
                          "in-plane or by its slice profile through-plane")
    axes = layer_axes(array.ndim)
    spacing = {letter: s for letter, s in zip(axes, scale) if letter in "ZYX"}
    run = upscale_volume(array, options.factor, axes=axes, axis="z" if options.axis == "z" else None,
                         spacing=spacing, preset=options.preset, seed=options.seed, device=device,
                         progress=progress.planes, step_progress=progress, **options.overrides())
    return run.volume.data, {axes.index(letter): float(r) for letter, r in run.factors.items()}
