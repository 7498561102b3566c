"""The whole method: gradual scale steps, each trained from the input, outputs becoming fathers.

Paper §3 ("gradual SR") and docs/authors_code.md §5: every step is a *direct* jump from the
original input; its post-processed output joins the father sources at its base
scale (the smaller of its two factors); the net (and Adam's moments) carry over
between steps unless ``reinit_each_step``; the learning rate restarts.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._validate import as_path, seed_value
from .bands import super_resolve_bounded
from .config import Config, resolve_config
from .degradation import DegradationReading, plan_sons, read_degradation
from .devices import DeviceName, resolve_device
from .errors import ConfigError, KernelError, ScaleError, ShapeError
from .examples import FatherSource, input_sources
from .limits import MIN_INPUT_SIDE, check_kernel_size, check_plan, check_scale_fits, max_kernel_side, plan_run
from .network import ZSSRNet, uses_bfloat16
from .resize import imresize
from .scales import MAX_SCALE, ScalePair, check_steps, parse_scale, plan_steps, step_pair
from .training import TrainingHistory, make_optimizer, train_scale_step

# parse_scale, check_steps, plan_steps, MAX_SCALE, ScalePair (zssr.scales) and resolve_device, DeviceName
# (zssr.devices) are re-exported: callers have imported them from here.
__all__ = [
    "MAX_SCALE", "MIN_INPUT_SIDE", "DeviceName", "ScalePair", "TqdmProgress", "UpscaleResult", "check_steps",
    "parse_scale", "plan_steps", "resolve_device", "run_seed", "upscale", "upscale_tensor",
]


@dataclass(frozen=True)
class UpscaleResult:
    """The SR image (``1×C×H×W`` float32 in [0, 1], on the CPU) and each step's history."""

    image: torch.Tensor
    steps: tuple[TrainingHistory, ...]
    seconds: float
    device: str
    #: What ``Config.degradation="auto"`` read from the input (None when the degradation was given).
    degradation: DegradationReading | None = None
    #: The convolutions' arithmetic the run used (``Config.precision`` resolved for its device).
    precision: str = "float32"


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
    source: str | Path | bytes | None = None,
) -> UpscaleResult:
    """Run ZSSR on ``image`` (``1×C×H×W`` float in [0, 1]) through the given scale steps.

    Args:
        image: the LR input, ``1×C×H×W`` float in [0, 1], at least ``MIN_INPUT_SIDE`` on each side.
        steps: ``(vertical, horizontal)`` factors relative to the input, increasing.
        kernels: per step, an *aligned* numeric kernel (``zssr.kernels.align_kernel``)
            or None for MATLAB bicubic.
        config: the frozen run configuration (a preset with overrides).
        seed: seeds the net's initialisation, the augmentations and the noise: an
            integer in ``[0, 2**63)``. Same seed, same device → identical output.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``, or a ``torch.device``.
        progress: ``progress(step_index, n_steps, sf, max_iterations)`` returns a
            per-iteration callback (or None); the CLI hangs a tqdm bar on it.
        source: the file ``image`` was read from (or the bytes it was decoded from), if any:
            with ``config.degradation="auto"`` a JPEG file's quantisation tables give its quality exactly.

    Raises:
        ShapeError: a malformed or too small image.
        ScaleError: steps that do not enlarge, each beyond the previous.
        KernelError: a kernel too large for its step (:func:`zssr.limits.check_kernel_size`).
        ConfigError: a seed that is not an integer in ``[0, 2**63)``.
        ResourceError: a device this machine lacks, or a plan that needs more memory
            than it has (:func:`zssr.limits.check_plan`), before any training.
    """
    if not isinstance(config, Config):
        raise ConfigError(f"config must be a zssr.Config (zssr.resolve_config gives one), got {type(config).__name__}")
    _check_image_tensor(image)
    h, w = image.shape[-2:]
    seed = 0 if seed is None else seed_value(seed)
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise ScaleError(f"steps must be a list of (vertical, horizontal) factors, got {steps!r}")
    steps = check_steps([step_pair(s, "scale step") for s in steps])
    if kernels is not None and (isinstance(kernels, (str, bytes)) or not isinstance(kernels, Sequence)):
        raise KernelError(f"kernels must be a list with one kernel (or None) per scale step, got {type(kernels).__name__}")
    kernels = list(kernels) if kernels is not None else [None] * len(steps)
    if len(kernels) != len(steps):
        raise KernelError(f"kernels must have one entry per scale step ({len(steps)}), got {len(kernels)}")
    for i, k in enumerate(kernels):
        if k is not None and not (torch.is_tensor(k) and k.dim() == 2 and k.is_floating_point()):
            raise KernelError(f"kernels[{i}] must be a 2-D float tensor (zssr.kernels.align_kernel) or None, "
                              f"got {type(k).__name__}")
        if k is not None:
            check_kernel_size(tuple(k.shape), steps[i], (h, w), name="aligned kernel", aligned=True)
    if progress is not None and not callable(progress):
        raise ConfigError(f"progress must be None or a callable, got {type(progress).__name__}")
    dev = resolve_device(device)
    for name in ("channel_noise_std", "channel_speckle_std"):
        noise = getattr(config, name)
        if noise is not None and len(noise) not in (1, int(image.shape[1])):
            raise ConfigError(f"{name} must have 1 or {int(image.shape[1])} values (one per channel of this "
                              f"image), got {len(noise)}")
    reading = None
    if config.degradation == "auto":  # sons degraded like the input (issue #17): read it, then plan by it
        reading = read_degradation(image[0].detach().float().cpu().permute(1, 2, 0).numpy(), source)
        config = plan_sons(config, reading, kernel_given=any(k is not None for k in kernels))
    # Everything the run will hold is known now: refuse what cannot fit before training.
    sides = [max(int(k.shape[-2]), int(k.shape[-1])) for k in kernels if k is not None]
    check_plan(plan_run((h, w), image.shape[1], steps, config=config, device=dev, kernel_side=max(sides, default=None)))
    x = image.detach().to(device=dev, dtype=torch.float32)
    kernels = [k.detach().to(device=dev, dtype=torch.float32) if k is not None else None for k in kernels]
    start = time.perf_counter()
    histories: list[TrainingHistory] = []

    def run(index: int) -> torch.Tensor:
        out, run_histories = _run_steps(
            x, steps, kernels, config=config, seed=run_seed(seed, index), device=dev, progress=progress,
            first_step=index * len(steps), total_steps=config.nets * len(steps), trained=sum(h.seconds for h in histories),
        )
        histories.extend(run_histories)
        return out

    output = run(0)
    for index in range(1, config.nets):  # Config.nets > 1: independently seeded runs, their outputs averaged
        output.add_(run(index))
    if config.nets > 1:
        output /= config.nets
    return UpscaleResult(
        image=output.detach().float().cpu(), steps=tuple(histories), seconds=time.perf_counter() - start,
        device=str(dev), degradation=reading,
        precision="bfloat16" if uses_bfloat16(config.precision, dev) else "float32",
    )


#: Values an input may have past [0, 1]: resampling overshoot (bicubic rings), clipped; further out
#: is a range mistake (0-255 floats) and is refused.
RANGE_TOLERANCE = 0.1


def _check_image_tensor(image: object) -> None:
    """Refuse what ``upscale_tensor`` cannot train on: a typed error naming ``image``, never torch's own."""
    if not torch.is_tensor(image):
        raise ShapeError(f"image must be a torch tensor (1×C×H×W float in [0, 1]), got {type(image).__name__}")
    if not image.is_floating_point():
        raise ShapeError(f"image must be a floating-point tensor in [0, 1], got dtype {image.dtype}")
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise ShapeError(f"image must be 1×C×H×W with C = 1 or 3, got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    if min(h, w) < MIN_INPUT_SIDE:
        raise ShapeError(f"image must be at least {MIN_INPUT_SIDE}×{MIN_INPUT_SIDE} pixels, got {h}×{w}")
    values = image.detach()
    if not torch.isfinite(values).all():
        raise ShapeError("image contains NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ShapeError(f"image values must lie in [0, 1], got [{low:.3g}, {high:.3g}]")


def run_seed(seed: int, k: int) -> int:
    """The seed of the ``k``-th of ``Config.nets`` runs.

    The first is ``seed`` itself (one run is the authors' method, bit for bit); the others are
    independent streams drawn from ``(seed, k)``, in ``[0, 2**63)``.
    """
    if k == 0:
        return seed
    return int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0]) % 2**63


def _run_steps(
    x: torch.Tensor, steps: Sequence[ScalePair], kernels: Sequence[torch.Tensor | None], *, config: Config, seed: int,
    device: torch.device, progress: ProgressFactory | None, first_step: int, total_steps: int, trained: float,
) -> tuple[torch.Tensor, list[TrainingHistory]]:
    """One run of the method: train each step from the input, its output becoming a father source.

    ``first_step``/``total_steps`` place this run's steps among all runs' (progress and the
    shared ``Config.time_budget``; ``trained``: seconds earlier runs spent).
    """
    rng = np.random.default_rng(seed)
    init_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    bp_iters = config.back_projection_for(len(steps))

    def new_net() -> ZSSRNet:
        return ZSSRNet(
            x.shape[1], config.width, config.depth, init_variance=config.init_variance,
            residual=config.learn_residual, generator=init_gen, precision=config.precision,
        ).to(device)

    net = new_net()
    optimizer = make_optimizer(net, config, device)
    sources = input_sources([x], config.father_scale)
    histories = []
    output = x
    for i, sf in enumerate(steps):
        if i > 0 and config.reinit_each_step:
            net = new_net()
            optimizer = make_optimizer(net, config, device)
        index = first_step + i
        callback = progress(index, total_steps, sf, config.max_iterations) if progress is not None else None
        deadline = None
        if config.time_budget is not None:  # the budget left, shared by the steps left (of every run)
            deadline = time.perf_counter() + max(config.time_budget - trained, 0.0) / (total_steps - index)
        history = train_scale_step(
            net, optimizer, x, sources, sf, config=config, kernel=kernels[i], rng=rng, generator=noise_gen,
            progress=callback, deadline=deadline,
        )
        trained += history.seconds
        histories.append(history)
        # The inference phase reports on the same callback when it can (a tqdm bar: TqdmProgress.inference).
        output = super_resolve_bounded(
            net, x, sf, ensemble=config.output_flip, back_projection_iters=bp_iters[i], kernel=kernels[i],
            output_pixels=config.inference_pixels, progress=getattr(callback, "inference", None),
        )
        close = getattr(callback, "close", None)
        if close is not None:
            close()
        sources.append(FatherSource(output, min(sf)))
    return output, histories


def upscale(
    image_or_path: np.ndarray | str | Path,
    scale: float | str | Sequence[Any] = 2.0,
    *,
    preset: str | Config = "ideal",
    kernel: np.ndarray | torch.Tensor | str | Path | None = None,
    seed: int | None = 0,
    device: str = "auto",
    progress: bool = False,
    axes: str | None = None,
    axis: str | None = None,
    step_progress: ProgressFactory | None = None,
    **overrides: Any,
) -> np.ndarray:
    """Super-resolve one image with ZSSR; the public one-call API.

    Args:
        image_or_path: ``H×W``, ``H×W×1``, ``H×W×3`` or ``H×W×4`` float array in
            [0, 1] (uint8/uint16 arrays are scaled), or a path to an image file.
        scale: target factor (``2``, ``"1.5x2"``, ``(1.5, 2)``) or explicit steps
            (``"1.5,2"``, ``[1.5, 2, 3]``, ``[(1.5, 1.5), (2, 2)]``); see :func:`parse_scale`
            (a list of exactly two numbers is one pair; a tuple of three is refused).
            One target uses the preset's gradual pattern.
        preset: a :data:`zssr.config.PRESETS` name or a :class:`~zssr.config.Config`.
        kernel: the downscaling kernel (array or file), aligned for the last step, or
            ``"auto"`` to estimate it from the image (:func:`zssr.kernel_estimation.estimate_kernel_edges`,
            what ``zssr upscale --kernel auto`` does; pass ``preset="kernel"`` as the CLI does). An
            output showing the estimate was too wide (:func:`zssr.kernel_estimation.kernel_harm`) is
            redone with the bicubic kernel (``ideal`` in place of ``kernel``), with a RuntimeWarning.
        seed: seeds initialisation, augmentation and noise, an integer in ``[0, 2**63)``;
            same seed and device, same output.
        device: ``auto`` (CUDA, then MPS, then the CPU), ``cpu``, ``cuda[:N]`` or ``mps``.
        progress: show a tqdm bar per scale step on stderr.
        axes: the array is a stack or volume with these tifffile/napari axis letters
            (``"ZYX"``, ``"ZYXC"``, ``"TZYX"``…): one net for all its planes
            (:func:`zssr.volume.upscale_volume`). A path to a stack or NIfTI volume goes
            there too.
        axis: with a volume, ``"z"`` enlarges through-plane along that axis only.
        step_progress: the pipeline's progress factory (as :func:`upscale_tensor` takes it),
            in place of the tqdm bars: for a front end that shows its own progress (the napari
            widget). Its callback may raise to stop the run at the next iteration.
        overrides: any :class:`~zssr.config.Config` field, e.g. ``max_iterations=500``.

    Returns:
        ``H'×W'×C`` float32 in [0, 1]; an alpha plane (4th channel) is upscaled
        bicubically, not learned. A stack or volume comes back in its own dtype, range
        and axes (:mod:`zssr.volume`).

    Raises:
        ZSSRError: every mistake in the arguments, as the CLI reports it, naming the
            parameter: ``ScaleError`` (scale), ``ConfigError`` (preset, overrides, seed),
            ``ShapeError`` (image array, empty ones included), ``KernelError`` (kernel,
            too large ones included), ``ImageReadError`` (path), ``ResourceError``
            (device, or a plan this machine cannot hold, refused before training).
        StructureError: ``kernel="auto"`` on an image with too few edges to measure
            (the CLI falls back to the bicubic kernel there; here the caller decides).

    Example:
        >>> import numpy as np, zssr
        >>> out = zssr.upscale(np.random.rand(24, 24, 3), 2, max_iterations=2, seed=0)
        >>> out.shape
        (48, 48, 3)
    """
    from .io import read_image, to_array, to_tensor
    from .io.volume import is_volume_file
    from .kernels import align_kernel, load_kernel, validate_kernel

    path = as_path(image_or_path)  # str, os.PathLike, bytes: a file, never array data
    if axes is not None or axis is not None or (path is not None and is_volume_file(path)):
        from .volume import upscale_volume

        if kernel is not None:
            raise ConfigError("kernel applies to 2-D images; a stack or volume is degraded by bicubic in-plane "
                              "or by its slice profile through-plane")
        return upscale_volume(image_or_path if path is None else path, scale, axes=axes, axis=axis, preset=preset,
                              seed=seed, device=device, progress=progress, step_progress=step_progress,
                              **overrides).volume.data
    # Everything that needs no pixels is checked before the image is read (as the CLI does).
    config = resolve_config(preset, **overrides)
    if not isinstance(progress, bool):
        raise ConfigError(f"progress must be True or False, got {progress!r}")
    if seed is not None:
        seed_value(seed)
    dev = resolve_device(device)
    steps = parse_scale(scale)
    if len(steps) == 1:
        steps = plan_steps(steps[0], config)
    check_scale_fits(steps, config=config, device=dev)
    auto = isinstance(kernel, str) and kernel.strip().lower() == "auto"
    if auto and steps[-1][0] != steps[-1][1]:
        raise ScaleError(f"kernel='auto' needs the same factor on both axes, got final step {steps[-1]}")
    given = None
    if kernel is not None and not auto:
        kernel_path = as_path(kernel)
        given = load_kernel(kernel_path) if kernel_path is not None else validate_kernel(kernel)  # type: ignore[arg-type]
        check_kernel_size(tuple(given.shape), steps[-1])
    if path is not None:
        picture = read_image(path)
        color, alpha = picture.color, picture.alpha
    else:
        color, alpha = _split_array(image_or_path)
    # The whole plan is known once the size is: refuse it before estimating or training anything.
    side = max(given.shape) if given is not None else (max_kernel_side(steps[-1][0]) if auto else None)
    check_plan(plan_run(color.shape[:2], color.shape[2], steps, config=config, device=dev, kernel_side=side))
    kernels: list[torch.Tensor | None] = [None] * len(steps)
    if given is not None:
        check_kernel_size(tuple(given.shape), steps[-1], color.shape[:2])
        kernels[-1] = align_kernel(given, steps[-1])
    factory = step_progress if step_progress is not None else (TqdmProgress if progress else None)
    # The task layer's sequence (zssr.task): estimate, upscale, and with an output showing the estimate
    # was too wide (kernel_harm), redo with the bicubic kernel (``ideal`` in place of ``kernel``).
    from .task import _estimate_edges, upscale_choosing_kernel

    choice = upscale_choosing_kernel(
        to_tensor(color), steps, config=config, kernels=kernels, estimate=_estimate_edges if auto else None,
        fallback_config=resolve_config("ideal", **overrides) if preset == "kernel" else config, seed=seed, device=dev,
        progress=factory, source=path, name="image", strict=True,
    )
    for note in choice.warnings:
        warnings.warn(note.removeprefix("image: "), RuntimeWarning, stacklevel=2)
    result = choice.result
    out = to_array(result.image)
    if alpha is not None:
        a = imresize(torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None], steps[-1],
                     size=tuple(out.shape[:2]))
        out = np.concatenate([out, a.clamp(0, 1)[0, 0].numpy()[..., None]], axis=-1)
    return out


def _split_array(array: object) -> tuple[np.ndarray, np.ndarray | None]:
    """The caller's image as float32 colour in [0, 1] and alpha; every refusal a ShapeError naming ``image_or_path``.

    A tensor is detached (and moved to the CPU) first: the API returns a new array and never
    back-propagates into the caller's graph, so ``requires_grad`` is no reason to refuse it.
    """
    if torch.is_tensor(array):
        tensor = array.detach().cpu()
        if tensor.is_floating_point() and tensor.dtype not in (torch.float16, torch.float32, torch.float64):
            tensor = tensor.float()  # bfloat16 and the float8s have no numpy dtype
        array = tensor
    try:
        arr = np.asarray(array)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ShapeError(f"image_or_path must be a path or an H×W(×C) array, got {type(array).__name__} "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    shape = arr.shape
    if arr.dtype not in (np.uint8, np.uint16) and not (np.issubdtype(arr.dtype, np.floating)):
        raise ShapeError(f"image_or_path array must be float in [0, 1], uint8 or uint16, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ShapeError(f"image_or_path array must be H×W, H×W×1, H×W×3 or H×W×4, got shape {shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"image_or_path array is empty: shape {shape} has no pixels")
    if arr.dtype == np.uint8:
        return _split_alpha(arr.astype(np.float32) / np.float32(255))
    if arr.dtype == np.uint16:
        return _split_alpha(arr.astype(np.float32) / np.float32(65535))
    # Checked in the array's own precision: 1e300 is out of range, not "infinite" (it is, as float32).
    if not np.isfinite(arr).all():
        raise ShapeError("image_or_path array contains NaN or infinite values")
    low, high = arr.min(), arr.max()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ShapeError(f"image_or_path array values must lie in [0, 1] (uint8/uint16 arrays are scaled), "
                         f"got [{float(low):.3g}, {float(high):.3g}]")
    return _split_alpha(np.clip(arr, 0.0, 1.0).astype(np.float32))


def _split_alpha(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if arr.shape[2] == 4:
        return arr[..., :3], arr[..., 3]
    return arr, None


class TqdmProgress:
    """A tqdm bar for one scale step: iteration, loss and learning rate (closed by the pipeline)."""

    def __init__(self, index: int, total: int, sf: ScalePair, max_iterations: int, **tqdm_kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self.label = f"step {index + 1}/{total} x{sf[0]:g}" + ("" if sf[0] == sf[1] else f"x{sf[1]:g}")
        self.bar = tqdm(total=max_iterations, desc=self.label, unit="it", dynamic_ncols=True, **tqdm_kwargs)

    def __call__(self, iteration: int, loss: float, lr: float) -> None:
        """Advance the bar by one iteration; show loss and learning rate every 10."""
        self.bar.update(1)
        if iteration % 10 == 0:
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.0e}", refresh=False)

    def inference(self, done: int, total: int) -> None:
        """Show the inference phase (ensemble passes and back-projections) on the same bar."""
        if done == 0:
            self.bar.set_description(f"{self.label} inference", refresh=False)
            self.bar.unit = "part"
            self.bar.reset(total=total)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        """Close the bar at the end of the scale step."""
        self.bar.close()
