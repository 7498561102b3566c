"""The per-image work of ``zssr upscale``, as a picklable task for :mod:`zssr.batch`.

Everything decided once for the whole run (scale steps, Config, kernels, estimator,
seed) lives in a frozen :class:`UpscaleTask`, which is sent once to each worker process
or Ray task; calling it on one :class:`~zssr.batch.BatchItem` reads the image,
(estimates its kernel,) trains, super-resolves and writes the outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._figures import save_training_curves
from ..batch import BatchItem, TaskResult
from ..config import Config
from ..errors import StructureError
from ..io import decode_image, read_regular, to_array, to_tensor, write_image
from ..kernel_estimation import kernel_harm
from ..kernels import align_kernel, kernel_picture, save_kernel
from ..pipeline import upscale_tensor
from .inputs import resize_alpha, sibling

__all__ = ["UpscaleTask"]

ScalePair = tuple[float, float]


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
        kernels = list(self.kernels)
        run_config = self.config
        warnings: list[str] = []
        written: list[Path] = []
        if self.estimate is not None:
            try:
                estimate = self.estimate(x, self.steps[-1][0], self.seed, device, progress is not None)
            except StructureError as exc:  # nothing to measure: no kernel files, the bicubic kernel
                estimate, why = None, str(exc)
            else:
                save_kernel(estimate.kernel, sibling(target, "_kernel.mat"))
                kernel_picture(estimate.kernel, sibling(target, "_kernel.png"))
                written += [sibling(target, "_kernel.mat"), sibling(target, "_kernel.png")]
                why = f"the estimated kernel is degenerate ({estimate.spread:.0%} of its mass far from its centre)"
            if estimate is not None and estimate.reliable:
                kernels = [None] * (len(self.steps) - 1) + [align_kernel(estimate.kernel, self.steps[-1])]
            else:
                warnings.append(f"{source}: {why}; using the bicubic kernel instead")
                kernels = [None] * len(self.steps)
                run_config = self.fallback_config or self.config
        result = upscale_tensor(
            x, list(self.steps), config=run_config, kernels=kernels, seed=self.seed, device=device, progress=progress,
            source=data,
        )
        harm = kernel_harm(result.image, x) if self.estimate is not None and any(k is not None for k in kernels) else None
        if harm is not None:
            # Do no harm (issue #19): the output shows the estimate was too wide.
            warnings.append(f"{source}: the estimated kernel over-sharpened the output ({harm}); "
                            "using the bicubic kernel instead")
            run_config = self.fallback_config or self.config
            result = upscale_tensor(
                x, list(self.steps), config=run_config, kernels=[None] * len(self.steps), seed=self.seed,
                device=device, progress=progress, source=data,
            )
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
