"""One task layer under every front end: what ``zssr upscale``, the web page and the napari widget run.

The sequence a user's image goes through — the kernel chosen (given, bicubic, or estimated
with ``--kernel auto``), ZSSR run, the output checked for harm and redone with the bicubic
kernel if the estimate was too wide (issue #19), the outputs written at full depth — lives
here once (issue #29 item 5). The CLI, :mod:`zssr.web` and :mod:`zssr.napari_plugin` only
gather options and show progress; :func:`zssr.upscale` shares :func:`upscale_choosing_kernel`.

:class:`UpscaleTask` is picklable: everything decided once for a run (scale steps, Config,
kernels, estimator, seed) is sent once to each worker process or Ray task (:mod:`zssr.batch`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import warnings as _warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._figures import save_training_curves
from .batch import BatchItem, TaskResult
from .config import Config
from .errors import ConfigError, StructureError, ZSSRError
from .io import decode_image, read_regular, to_array, to_tensor, write_image
from .kernel_estimation import KernelEstimate, kernel_harm
from .kernels import align_kernel, kernel_picture, load_kernel, save_kernel
from .pipeline import UpscaleResult, upscale_tensor
from .resize import imresize

__all__ = [
    "ESTIMATORS", "KernelChoice", "KernelEstimator", "UpscaleTask", "kernel_estimator", "read_kernel", "resize_alpha",
    "sibling", "upscale_choosing_kernel",
]

ScalePair = tuple[float, float]
#: ``--estimator`` choices; ``edges`` is the default (Table 2: 57% of the bicubic → true kernel gap, KernelGAN 45%:
#: benchmarks/results/edgeblur_table2.md).
ESTIMATORS = ("edges", "kernelgan")
#: ``(image, factor, seed, device, progress) → KernelEstimate``; must pickle (a module-level function or a partial).
KernelEstimator = Callable[[torch.Tensor, float, int, torch.device, bool], Any]


def read_kernel(path: str | Path) -> torch.Tensor:
    """``load_kernel``, without numpy's warning for an empty text file (the KernelError says it)."""
    with _warnings.catch_warnings():
        _warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
        return load_kernel(path)


def resize_alpha(alpha: np.ndarray | None, scale: tuple[float, float], size: tuple[int, int]) -> np.ndarray | None:
    """Alpha is resampled bicubically (never learned), clipped to [0, 1]."""
    if alpha is None:
        return None
    plane = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None]
    return imresize(plane, scale, size=size).clamp(0.0, 1.0)[0, 0].numpy()


def sibling(target: Path, tail: str) -> Path:
    """A path next to ``target`` with ``tail`` after its stem (``out_curves.png`` for ``out.png``)."""
    return target.with_name(f"{target.stem}{tail}")


def kernel_estimator(name: str, *, iterations: int | None, restarts: int | None, width_correction: bool,
                      flags: tuple[str, str, str]) -> KernelEstimator:
    """``(image, factor, seed, device, progress) → KernelEstimate`` for ``--estimator name``.

    ``flags`` are the command's names of the KernelGAN-only options (iterations, restarts,
    width correction), for the error that says one was given to the edge estimator.
    """
    if iterations is not None and iterations < 1:
        raise ConfigError(f"{flags[0]} must be >= 1, got {iterations}")
    if restarts is not None and restarts < 0:
        raise ConfigError(f"{flags[1]} must be >= 0, got {restarts}")
    if name == "edges":
        given = [f for f, v in zip(flags, (iterations, restarts, width_correction or None)) if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} apply to --estimator kernelgan only (the edge estimator does not train)")
        return _estimate_edges
    try:
        from .kernel_estimation import RESTARTS
    except ImportError as exc:
        raise ZSSRError(f"kernel estimation needs zssr.kernel_estimation (KernelGAN), which failed to import: {exc}") from exc
    return partial(
        _estimate_kernelgan, iterations=3000 if iterations is None else iterations,
        restarts=RESTARTS if restarts is None else restarts, width_correction=width_correction,
    )


# Module-level functions (not lambdas), so that an estimator pickles into the worker
# processes of a parallel folder run (zssr.batch).
def _estimate_edges(image: torch.Tensor, factor: float, seed: int, device: torch.device, progress: bool) -> Any:
    from .kernel_estimation import estimate_kernel_edges

    return estimate_kernel_edges(image, factor)


def _estimate_kernelgan(
    image: torch.Tensor, factor: float, seed: int, device: torch.device, progress: bool, *,
    iterations: int, restarts: int, width_correction: bool,
) -> Any:
    from .kernel_estimation import TqdmKernelProgress, estimate_kernel

    return estimate_kernel(
        image, factor, iterations=iterations, seed=seed, device=device,
        progress=partial(TqdmKernelProgress, file=sys.stderr, leave=False) if progress else None,
        restarts=restarts, width_correction=width_correction,
    )


@dataclass(frozen=True)
class KernelChoice:
    """What :func:`upscale_choosing_kernel` did: the result, the Config it ran with, the estimate, warnings."""

    result: UpscaleResult
    config: Config
    estimate: KernelEstimate | None
    kernels: tuple[torch.Tensor | None, ...]
    warnings: tuple[str, ...] = ()


def upscale_choosing_kernel(
    x: torch.Tensor, steps: Sequence[ScalePair], *, config: Config, kernels: Sequence[torch.Tensor | None],
    estimate: KernelEstimator | None = None, fallback_config: Config | None = None, seed: int | None = 0,
    device: torch.device, progress: Any = None, source: Any = None, name: str = "image", strict: bool = False,
) -> KernelChoice:
    """Estimate the kernel (if asked), run ZSSR, and redo with the bicubic kernel if the output shows harm.

    The sequence of ``--kernel auto`` (issue #19): an estimate that is degenerate, or one the
    image has too few edges for, is replaced by the bicubic kernel before training; an output
    that :func:`~zssr.kernel_estimation.kernel_harm` reads as over-sharpened is redone with the
    bicubic kernel and ``fallback_config`` (the ``kernel`` preset's bicubic counterpart). Each
    such change is one warning line naming ``name``.

    Args:
        x: the LR image, ``1×C×H×W`` float in [0, 1].
        steps: the scale steps, each relative to the input.
        config: the run's Config.
        seed: seeds weights, crops and noise (and KernelGAN).
        device: where to train.
        progress: a progress factory (:func:`~zssr.pipeline.upscale_tensor`'s), or None.
        source: the input's bytes or path, for reading its degradation (``real``).
        kernels: per step, an aligned kernel or None; ignored where ``estimate`` gives one.
        estimate: a :data:`KernelEstimator`, or None for no estimation.
        fallback_config: the Config of a bicubic-kernel rerun (default ``config``).
        name: the image's name in warnings.
        strict: raise the estimator's ``StructureError`` (too few edges) instead of falling back.

    Raises:
        StructureError: with ``strict``, an image with too few edges to estimate from.
    """
    kernel_list = list(kernels)
    run_config, found, notes = config, None, []
    bicubic = [None] * len(steps)
    if estimate is not None:
        try:
            found = estimate(x, steps[-1][0], 0 if seed is None else seed, device, progress is not None)
        except StructureError as exc:  # nothing to measure: the bicubic kernel
            if strict:
                raise
            reason = str(exc)
        else:
            reason = f"the estimated kernel is degenerate ({found.spread:.0%} of its mass far from its centre)"
        if found is not None and found.reliable:
            kernel_list = [None] * (len(steps) - 1) + [align_kernel(found.kernel, steps[-1])]
        else:
            notes.append(f"{name}: {reason}; using the bicubic kernel instead")
            kernel_list, run_config = list(bicubic), fallback_config or config
    result = upscale_tensor(x, list(steps), config=run_config, kernels=kernel_list, seed=seed, device=device,
                            progress=progress, source=source)
    if estimate is not None and any(k is not None for k in kernel_list):
        harm = kernel_harm(result.image, x)
        if harm is not None:  # do no harm (issue #19): the output shows the estimate was too wide
            notes.append(f"{name}: the estimated kernel over-sharpened the output ({harm}); using the bicubic kernel instead")
            run_config, kernel_list = fallback_config or config, list(bicubic)
            result = upscale_tensor(x, list(steps), config=run_config, kernels=kernel_list, seed=seed, device=device,
                                    progress=progress, source=source)
    return KernelChoice(result, run_config, found, tuple(kernel_list), tuple(notes))


@dataclass(frozen=True)
class UpscaleTask:
    """How every image of one ``zssr upscale`` run is processed.

    Attributes:
        steps: the scale steps, each relative to the input.
        config: the run's Config.
        kernels: per step, an aligned kernel or None (bicubic).
        seed: seeds weights, crops and noise.
        estimate: ``--kernel auto``: ``(image, factor, seed, device, progress) → KernelEstimate``
            (must pickle: a module-level function or a ``functools.partial`` of one).
        fallback_config: used when an estimated kernel is unreliable (the run goes on without one).
        save_curves: also write ``<out>_curves.png``.
        protect: the inputs, never to be overwritten.
    """

    steps: tuple[ScalePair, ...]
    config: Config
    kernels: tuple[torch.Tensor | None, ...]
    seed: int = 0
    estimate: Callable[..., Any] | None = None
    fallback_config: Config | None = None
    save_curves: bool = False
    protect: tuple[Path, ...] = ()

    def settings(self) -> dict[str, Any]:
        """Everything that decides an output, as JSON-able data (the manifest compares it on resume)."""
        return {
            "command": "upscale",
            "config": _config_dict(self.config),
            "fallback_config": _config_dict(self.fallback_config) if self.estimate is not None else None,
            "seed": self.seed,
            "steps": [list(step) for step in self.steps],
            "kernels": [_kernel_digest(k) for k in self.kernels],
            "estimator": _describe(self.estimate),
            "save_curves": self.save_curves,
        }

    def extras(self, target: Path) -> tuple[Path, ...]:
        """The side files written next to ``target`` (curves, an estimated kernel and its picture)."""
        paths = [sibling(target, "_curves.png")] if self.save_curves else []
        if self.estimate is not None:
            paths += [sibling(target, "_kernel.mat"), sibling(target, "_kernel.png")]
        return tuple(paths)

    def __call__(self, item: BatchItem, device: torch.device, progress: Callable[..., Any] | None) -> TaskResult:
        """Upscale ``item.source`` into ``item.target`` (and its side files) on ``device``."""
        source, target = item.source, item.target
        # Read once, hash and decode those bytes: the manifest records what was trained on,
        # even when the file is replaced while the run is under way.
        data = read_regular(source)
        digest = (len(data), hashlib.sha256(data).hexdigest())
        picture = decode_image(data, source)
        x = to_tensor(picture.color)
        choice = upscale_choosing_kernel(
            x, self.steps, config=self.config, kernels=self.kernels, estimate=self.estimate,
            fallback_config=self.fallback_config, seed=self.seed, device=device, progress=progress, source=data,
            name=str(source),
        )
        written: list[Path] = []
        if choice.estimate is not None:
            save_kernel(choice.estimate.kernel, sibling(target, "_kernel.mat"))
            kernel_picture(choice.estimate.kernel, sibling(target, "_kernel.png"))
            written += [sibling(target, "_kernel.mat"), sibling(target, "_kernel.png")]
        result, run_config, warnings = choice.result, choice.config, list(choice.warnings)
        color = to_array(result.image)
        alpha = resize_alpha(picture.alpha, self.steps[-1], color.shape[:2])
        write_image(
            target, color, alpha=alpha, bit_depth=picture.bit_depth, icc_profile=picture.icc_profile,
            protect=self.protect,
        )
        written.insert(0, target)
        if self.save_curves:
            save_training_curves(result, sibling(target, "_curves.png"), title=f"{source.name}, preset {self.config.name}")
            written.append(sibling(target, "_curves.png"))
        iterations = sum(h.iterations for h in result.steps)  # (every run's steps, with Config.nets > 1)
        runs = f" × {run_config.nets} nets" if run_config.nets > 1 else ""
        line = (
            f"{target}: {picture.height}×{picture.width} → {color.shape[0]}×{color.shape[1]}, "
            f"preset {run_config.name}, {iterations} iterations in {len(self.steps)} step(s){runs}, "
            f"{result.seconds:.1f} s on {result.device} ({result.precision})"
        )
        if result.degradation is not None:
            line += f"; {result.degradation.describe()}"
        return TaskResult(files=tuple(written), line=line, warnings=tuple(warnings), device=result.device,
                          source_digest=digest)


def _config_dict(config: Config | None) -> dict[str, Any] | None:
    """A Config's fields as a dict, without its display name (equal configs compare equal)."""
    if config is None:
        return None
    fields = dataclasses.asdict(config)
    fields.pop("name", None)
    return fields


def _kernel_digest(kernel: torch.Tensor | None) -> str | None:
    if kernel is None:
        return None
    data = np.ascontiguousarray(kernel.detach().cpu().numpy(), dtype=np.float64)
    return f"{data.shape[0]}x{data.shape[1]}:" + hashlib.sha256(data.tobytes()).hexdigest()[:16]


def _describe(estimate: Callable[..., Any] | None) -> dict[str, Any] | None:
    """A kernel estimator as data: its function's name and fixed keyword arguments."""
    if estimate is None:
        return None
    if isinstance(estimate, partial):
        return {"function": getattr(estimate.func, "__qualname__", repr(estimate.func)), **estimate.keywords}
    return {"function": getattr(estimate, "__qualname__", repr(estimate))}
