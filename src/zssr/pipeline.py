"""The whole method: gradual scale steps, each trained from the input, outputs becoming fathers.

Paper §3 ("gradual SR") and docs/authors_code.md §5: every step is a *direct* jump from the
original input; its post-processed output joins the father sources at its base
scale (the smaller of its two factors); the net (and Adam's moments) carry over
between steps unless ``reinit_each_step``; the learning rate restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ._validate import is_number, scale_pair
from .config import Config, resolve_config
from .ensemble import super_resolve
from .errors import ScaleError, ShapeError, ZSSRError
from .examples import FatherSource
from .network import ZSSRNet
from .resize import imresize
from .training import TrainingHistory, make_optimizer, train_scale_step

__all__ = [
    "MIN_INPUT_SIDE", "TqdmProgress", "UpscaleResult", "parse_scale", "plan_steps", "resolve_device", "upscale", "upscale_tensor",
]

#: Smallest input side we accept: the son of a father must keep a few pixels for
#: the 3×3 stack to see texture (a 4-px son at ×2 is already mostly border).
MIN_INPUT_SIDE = 8

ScalePair = tuple[float, float]
DeviceName = Literal["auto", "cpu", "cuda", "mps"]


@dataclass(frozen=True)
class UpscaleResult:
    """The SR image (``1×C×H×W`` float32 in [0, 1], on the CPU) and each step's history."""

    image: torch.Tensor
    steps: tuple[TrainingHistory, ...]
    seconds: float
    device: str


def _check_pair(pair: Sequence[float], what: str) -> ScalePair:
    return scale_pair(pair, what, minimum=1.0, strict=False, hint=" (ZSSR only enlarges)")


def parse_scale(text: str | float | Sequence[Any]) -> list[ScalePair]:
    """Scale steps from ``2``, ``"2"``, ``"1.5x2"`` (vertical x horizontal) or ``"1.5,2"`` (steps).

    A list gives the gradual steps explicitly, each relative to the input.
    """
    if is_number(text):
        return [_check_pair((text, text), "scale")]
    if isinstance(text, str):
        steps = []
        for part in text.split(","):
            part = part.strip().lower()
            fields = part.split("x")
            try:
                values = [float(f) for f in fields]
            except ValueError:
                raise ScaleError(f"scale must look like 2, 1.5x2 or 1.5,2 — got {text!r}") from None
            if len(values) == 1:
                values = values * 2
            if len(values) != 2:
                raise ScaleError(f"scale must look like 2, 1.5x2 or 1.5,2 — got {text!r}")
            steps.append(_check_pair(values, "scale"))
        return steps
    if not isinstance(text, Sequence) or isinstance(text, bytes):
        raise ScaleError(f"scale must be a number, a string like 2, 1.5x2 or 1.5,2, or a list of steps; got {text!r}")
    items = list(text)
    if len(items) == 2 and all(isinstance(v, (int, float)) for v in items):
        return [_check_pair(items, "scale")]
    return [p for item in items for p in parse_scale(item if not isinstance(item, (list, tuple)) else f"{item[0]}x{item[1]}")]


def plan_steps(target: ScalePair, config: Config) -> list[ScalePair]:
    """The gradual steps to ``target``: ``1 + (target − 1)·f`` for each ``f`` of the pattern.

    Steps that would not enlarge (1×1) are dropped; duplicates collapse.
    """
    steps: list[ScalePair] = []
    for fy, fx in config.gradual_pattern:
        step = (1.0 + (target[0] - 1.0) * fy, 1.0 + (target[1] - 1.0) * fx)
        if step != (1.0, 1.0) and step not in steps:
            steps.append(step)
    return steps or [target]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an unavailable device is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ZSSRError("device 'cuda' was asked for but no CUDA device is available")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ZSSRError("device 'mps' was asked for but Apple MPS is not available")
    if device not in ("cpu", "cuda", "mps") and not str(device).startswith("cuda:"):
        raise ZSSRError(f"device must be auto, cpu, cuda or mps, got {device!r}")
    return torch.device(device)


ProgressFactory = Callable[[int, int, ScalePair, int], Callable[[int, float, float], None] | None]


def upscale_tensor(
    image: torch.Tensor,
    steps: Sequence[ScalePair],
    *,
    config: Config,
    kernels: Sequence[torch.Tensor | None] | None = None,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    progress: ProgressFactory | None = None,
) -> UpscaleResult:
    """Run ZSSR on ``image`` (``1×C×H×W`` float in [0, 1]) through the given scale steps.

    Args:
        image: the LR input, ``1×C×H×W`` float in [0, 1], at least ``MIN_INPUT_SIDE`` on each side.
        steps: ``(vertical, horizontal)`` factors relative to the input, increasing.
        kernels: per step, an *aligned* numeric kernel (``zssr.kernels.align_kernel``)
            or None for MATLAB bicubic.
        config: the frozen run configuration (a preset with overrides).
        seed: seeds the net's initialisation, the augmentations and the noise.
            Same seed, same device → identical output.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``, or a ``torch.device``.
        progress: ``progress(step_index, n_steps, sf, max_iterations)`` returns a
            per-iteration callback (or None); the CLI hangs a tqdm bar on it.
    """
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise ShapeError(f"image must be 1×C×H×W with C = 1 or 3, got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    if min(h, w) < MIN_INPUT_SIDE:
        raise ShapeError(f"image must be at least {MIN_INPUT_SIDE}×{MIN_INPUT_SIDE} pixels, got {h}×{w}")
    if not torch.isfinite(image).all():
        raise ShapeError("image contains NaN or infinite values")
    steps = [_check_pair(s, "scale step") for s in steps]
    if not steps:
        raise ScaleError("at least one scale step is needed")
    kernels = list(kernels) if kernels is not None else [None] * len(steps)
    if len(kernels) != len(steps):
        raise ZSSRError(f"kernels must have one entry per scale step ({len(steps)}), got {len(kernels)}")
    dev = resolve_device(device)
    seed = 0 if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    init_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    x = image.detach().to(device=dev, dtype=torch.float32)
    kernels = [k.to(device=dev, dtype=torch.float32) if k is not None else None for k in kernels]
    bp_iters = config.back_projection_for(len(steps))

    def new_net() -> ZSSRNet:
        return ZSSRNet(
            x.shape[1], config.width, config.depth, init_variance=config.init_variance,
            residual=config.learn_residual, generator=init_gen,
        ).to(dev)

    start = time.perf_counter()
    net = new_net()
    optimizer = make_optimizer(net, config)
    sources = [FatherSource(x, 1.0)]
    histories = []
    output = x
    for i, sf in enumerate(steps):
        if i > 0 and config.reinit_each_step:
            net = new_net()
            optimizer = make_optimizer(net, config)
        callback = progress(i, len(steps), sf, config.max_iterations) if progress is not None else None
        history = train_scale_step(
            net, optimizer, x, sources, sf, config=config, kernel=kernels[i], rng=rng, generator=noise_gen,
            progress=callback,
        )
        histories.append(history)
        close = getattr(callback, "close", None)
        if close is not None:
            close()
        output = super_resolve(
            net, x, sf, ensemble=config.output_flip, back_projection_iters=bp_iters[i], kernel=kernels[i],
        )
        sources.append(FatherSource(output, min(sf)))
    return UpscaleResult(
        image=output.detach().float().cpu(), steps=tuple(histories), seconds=time.perf_counter() - start,
        device=str(dev),
    )


def upscale(
    image_or_path: np.ndarray | str | Path,
    scale: float | str | Sequence[Any] = 2.0,
    *,
    preset: str | Config = "ideal",
    kernel: np.ndarray | torch.Tensor | str | Path | None = None,
    seed: int | None = 0,
    device: str = "auto",
    progress: bool = False,
    **overrides: Any,
) -> np.ndarray:
    """Super-resolve one image with ZSSR; the public one-call API.

    Args:
        image_or_path: ``H×W``, ``H×W×1``, ``H×W×3`` or ``H×W×4`` float array in
            [0, 1] (uint8/uint16 arrays are scaled), or a path to an image file.
        scale: target factor (``2``, ``"1.5x2"``) or explicit steps (``"1.5,2"``,
            ``[1.5, 2]``). One target uses the preset's gradual pattern.
        preset: a :data:`zssr.config.PRESETS` name or a :class:`~zssr.config.Config`.
        kernel: the downscaling kernel (array or file), aligned for the last step, or
            ``"auto"`` to estimate it from the image (:func:`zssr.kernel_estimation.estimate_kernel_edges`,
            what ``zssr upscale --kernel auto`` does; pass ``preset="kernel"`` as the CLI does).
        seed: seeds initialisation, augmentation and noise; same seed and device, same output.
        device: ``auto`` (CUDA, then MPS, then the CPU), ``cpu``, ``cuda[:N]`` or ``mps``.
        progress: show a tqdm bar per scale step on stderr.
        overrides: any :class:`~zssr.config.Config` field, e.g. ``max_iterations=500``.

    Returns:
        ``H'×W'×C`` float32 in [0, 1]; an alpha plane (4th channel) is upscaled
        bicubically, not learned.

    Raises:
        StructureError: ``kernel="auto"`` on an image with too few edges to measure
            (the CLI falls back to the bicubic kernel there; here the caller decides).

    Example:
        >>> import numpy as np, zssr
        >>> out = zssr.upscale(np.random.rand(24, 24, 3), 2, max_iterations=2, seed=0)
        >>> out.shape
        (48, 48, 3)
    """
    from .io import read_image, to_array, to_tensor
    from .kernels import align_kernel, load_kernel, validate_kernel

    config = resolve_config(preset, **overrides)
    if isinstance(image_or_path, (str, Path)):
        picture = read_image(image_or_path)
        color, alpha = picture.color, picture.alpha
    else:
        color, alpha = _split_array(image_or_path)
    steps = parse_scale(scale)
    if len(steps) == 1:
        steps = plan_steps(steps[0], config)
    kernels: list[torch.Tensor | None] = [None] * len(steps)
    if isinstance(kernel, str) and kernel.strip().lower() == "auto":
        from .kernel_estimation import estimate_kernel_edges

        if steps[-1][0] != steps[-1][1]:
            raise ScaleError(f"kernel='auto' needs the same factor on both axes, got final step {steps[-1]}")
        kernels[-1] = align_kernel(estimate_kernel_edges(to_tensor(color), steps[-1][0]).kernel, steps[-1])
    elif kernel is not None:
        k = load_kernel(kernel) if isinstance(kernel, (str, Path)) else validate_kernel(kernel)
        kernels[-1] = align_kernel(k, steps[-1])
    factory = TqdmProgress if progress else None
    result = upscale_tensor(to_tensor(color), steps, config=config, kernels=kernels, seed=seed, device=device, progress=factory)
    out = to_array(result.image)
    if alpha is not None:
        a = imresize(torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None], steps[-1],
                     size=tuple(out.shape[:2]))
        out = np.concatenate([out, a.clamp(0, 1)[0, 0].numpy()[..., None]], axis=-1)
    return out


def _split_array(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    arr = np.asarray(array)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif not np.issubdtype(arr.dtype, np.floating):
        raise ShapeError(f"image array must be float in [0, 1], uint8 or uint16, got dtype {arr.dtype}")
    arr = arr.astype(np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ShapeError(f"image array must be H×W, H×W×1, H×W×3 or H×W×4, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ShapeError("image array contains NaN or infinite values")
    # Resampling overshoot (bicubic rings slightly past [0, 1]) is clipped; anything
    # further out is a range mistake (e.g. 0-255 floats) and is refused.
    if arr.min() < -0.1 or arr.max() > 1.1:
        raise ShapeError(f"image array values must lie in [0, 1], got [{arr.min():.3g}, {arr.max():.3g}]")
    arr = np.clip(arr, 0.0, 1.0)
    if arr.shape[2] == 4:
        return arr[..., :3], arr[..., 3]
    return arr, None


class TqdmProgress:
    """A tqdm bar for one scale step: iteration, loss and learning rate (closed by the pipeline)."""

    def __init__(self, index: int, total: int, sf: ScalePair, max_iterations: int, **tqdm_kwargs: Any) -> None:
        from tqdm.auto import tqdm

        label = f"step {index + 1}/{total} x{sf[0]:g}" + ("" if sf[0] == sf[1] else f"x{sf[1]:g}")
        self.bar = tqdm(total=max_iterations, desc=label, unit="it", dynamic_ncols=True, **tqdm_kwargs)

    def __call__(self, iteration: int, loss: float, lr: float) -> None:
        """Advance the bar by one iteration; show loss and learning rate every 10."""
        self.bar.update(1)
        if iteration % 10 == 0:
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.0e}", refresh=False)

    def close(self) -> None:
        """Close the bar at the end of the scale step."""
        self.bar.close()
