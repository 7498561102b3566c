"""The whole method: gradual scale steps, each trained from the input, outputs becoming fathers.

Paper §3 ("gradual SR") and docs/authors_code.md §5: every step is a *direct* jump from the
original input; its post-processed output joins the father sources at its base
scale (the smaller of its two factors); the net (and Adam's moments) carry over
between steps unless ``reinit_each_step``; the learning rate restarts.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ._validate import is_number, scale_pair, seed_value
from .bands import super_resolve_bounded
from .config import MAX_STEPS, Config, resolve_config
from .degradation import DegradationReading, plan_sons, read_degradation
from .errors import ConfigError, KernelError, ResourceError, ScaleError, ShapeError
from .examples import FatherSource
from .limits import MIN_INPUT_SIDE, check_kernel_size, check_plan, check_scale_fits, max_kernel_side, plan_run
from .network import ZSSRNet, uses_bfloat16
from .resize import INTERP_KERNELS, MAX_TAPS, imresize
from .training import TrainingHistory, make_optimizer, train_scale_step

__all__ = [
    "MIN_INPUT_SIDE", "TqdmProgress", "UpscaleResult", "check_steps", "parse_scale", "plan_steps", "resolve_device",
    "upscale", "upscale_tensor",
]

ScalePair = tuple[float, float]
DeviceName = Literal["auto", "cpu", "cuda", "mps"]


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


def _check_pair(pair: Sequence[float], what: str) -> ScalePair:
    return scale_pair(pair, what, minimum=1.0, strict=False, hint=" (ZSSR only enlarges)")


def parse_scale(text: str | float | Sequence[Any]) -> list[ScalePair]:
    """Scale steps from ``2``, ``"2"``, ``"1.5x2"`` (vertical x horizontal) or ``"1.5,2"`` (steps).

    Python values (docs/LIMITS.md, "Scales"):
        * a number: one target, both axes;
        * a tuple of two numbers (or a list of exactly two numbers, as before):
          one ``(vertical, horizontal)`` target;
        * a list of any other length: explicit steps, each relative to the input
          and each a number, a string like ``"1.5x2"`` or a pair;
        * a tuple of any other length is refused: ``(2, 2, 2)`` could be three
          steps or a mistyped pair, and guessing would train the wrong thing.

    Explicit steps must each enlarge the input, none may repeat, and the last is the
    target (:func:`check_steps`): ``"2,1"``, ``"1,1"`` and ``"2,1.5"`` are refused, not trained.

    Raises:
        ScaleError: anything else, with the value received.
    """
    if is_number(text):
        return check_steps([_check_pair((text, text), "scale")])
    if getattr(text, "ndim", None) == 1 and hasattr(text, "tolist"):
        text = tuple(text.tolist())  # a 1-D numpy array or tensor: read as a tuple (one pair)
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
        return check_steps(steps)
    if not isinstance(text, Sequence) or isinstance(text, bytes):
        raise ScaleError(f"scale must be a number, a string like 2, 1.5x2 or 1.5,2, or a list of steps; got {text!r}")
    items = list(text)
    if len(items) == 2 and all(is_number(v) for v in items):
        return check_steps([_check_pair(items, "scale")])
    if not isinstance(text, list):
        raise ScaleError(
            f"scale as a tuple must be one (vertical, horizontal) pair of numbers, got {text!r}; "
            "give explicit steps as a list, e.g. [1.5, 2, 3], or as the string '1.5,2,3'"
        )
    if not items:
        raise ScaleError("scale as a list of steps must name at least one step, got []")
    steps = []
    for item in items:
        if is_number(item):
            steps.append(_check_pair((item, item), "scale step"))
        elif isinstance(item, str):
            steps.extend(parse_scale(item))
        elif isinstance(item, Sequence) and not isinstance(item, bytes) and len(item) == 2:
            steps.append(_check_pair(item, "scale step"))
        else:
            raise ScaleError(f"each scale step must be a number, a string like '1.5x2' or a (vertical, horizontal) "
                             f"pair, got {item!r} in {text!r}")
    return check_steps(steps)


#: The largest factor of one step: making its sons shrinks fathers by its inverse, and the
#: bicubic antialiasing kernel (4 taps wide) then spans ``4·factor`` pixels (at most ``MAX_TAPS``).
MAX_SCALE = int(MAX_TAPS // INTERP_KERNELS["cubic"].width)


def check_steps(steps: Sequence[ScalePair]) -> list[ScalePair]:
    """Refuse steps that do not enlarge: every step enlarges the input, none repeats, the last is the target.

    Why: a ×1 step trains for minutes and writes (a blur of) the input; ``-s 2,1``
    is always a typo (for ``2x1``), ``-s 2,1.5`` ends below a step it already made.
    The order in between is free: the authors' gradual pattern alternates the axes
    (``1x1.5`` then ``1.5x1``), and an anisotropic target makes its area dip.

    Rules: each step is ≥ 1 on both axes and larger on one; no step repeats an
    earlier one; the last step is ≥ every earlier step on both axes.

    Raises:
        ScaleError: no step, more than ``MAX_STEPS``, or a step breaking a rule, named by position.
    """
    steps = list(steps)
    if not steps:
        raise ScaleError("at least one scale step is needed")
    if len(steps) > MAX_STEPS:
        raise ScaleError(f"at most {MAX_STEPS} scale steps (each trains the net), got {len(steps)}")
    n = len(steps)
    hint = "; one vertical x horizontal factor is written AxB, e.g. 2x1" if n == 2 else ""
    def where(i: int) -> str:
        return f"scale step {i + 1} of {n} ({_fmt_pair(steps[i])})" if n > 1 else f"scale {_fmt_pair(steps[i])}"

    for i, step in enumerate(steps):
        if step[0] < 1.0 or step[1] < 1.0 or step == (1.0, 1.0):
            raise ScaleError(f"{where(i)} does not enlarge the input: ZSSR only enlarges{hint}")
    for i, step in enumerate(steps):
        if max(step) > MAX_SCALE:
            raise ScaleError(
                f"{where(i)} is beyond what ZSSR can train on: its LR sons are fathers shrunk ×1/{max(step):g}, "
                f"whose antialiasing kernel would span {4 * max(step):.3g} pixels (at most {MAX_TAPS}), so a step "
                f"may enlarge at most ×{MAX_SCALE}; reach a larger output in two runs"
            )
    for i, step in enumerate(steps):
        if step in steps[:i]:
            raise ScaleError(f"{where(i)} repeats step {steps.index(step) + 1}: each step trains the net again")
    last = steps[-1]
    for i, step in enumerate(steps):
        if step[0] > last[0] or step[1] > last[1]:
            raise ScaleError(
                f"{where(i)} is larger than the last step ({_fmt_pair(last)}) on an axis: the last step is the "
                f"target, every step before it must fit inside it{hint}"
            )
    return steps


def _fmt_pair(pair: ScalePair) -> str:
    return f"×{pair[0]:g}" if pair[0] == pair[1] else f"×{pair[0]:g}x{pair[1]:g}"


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
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an unavailable device is an error.

    ``cuda:N`` is checked against the number of CUDA devices, so a missing GPU is
    one line here rather than an assertion inside torch later.

    Raises:
        ResourceError: a device (or device index) this machine does not have.
        ConfigError: a value that names no device.
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = _as_device(device)
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ResourceError(_missing_cuda(str(dev), count))
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ResourceError(f"device {str(dev)!r} was asked for but Apple MPS is not available")
    if dev.type in ("cpu", "mps") and dev.index not in (None, 0):
        raise ResourceError(f"device {str(dev)!r} does not exist; use {dev.type!r}")
    return dev


_DEVICE = re.compile(r"^(cpu|cuda|mps)(?::(0|[1-9][0-9]*))?$")


def _as_device(device: object) -> torch.device:
    """A device from a ``torch.device`` or a string; the index is read here, not by torch.

    torch keeps a device index in 8 bits, so ``torch.device("cuda:999")`` is
    ``cuda:-25``: a missing GPU would be reported under a number the user never typed.
    """
    if isinstance(device, torch.device):
        if device.index is not None and device.index < 0:
            raise ResourceError(f"device {str(device)!r} does not exist (negative index)")
        return device
    name = device.strip() if isinstance(device, str) else ""
    match = _DEVICE.match(name)
    if match is None:
        raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    kind, index = match.group(1), match.group(2)
    if index is None:
        return torch.device(kind)
    count = torch.cuda.device_count() if kind == "cuda" and torch.cuda.is_available() else 1
    if kind != "cuda" and int(index) != 0:
        raise ResourceError(f"device {name!r} does not exist; use {kind!r}")
    if kind == "cuda" and int(index) >= count:
        raise ResourceError(_missing_cuda(name, count))
    return torch.device(kind, int(index))


def _missing_cuda(name: str, count: int) -> str:
    if not torch.cuda.is_available():
        return f"device {name!r} was asked for but no CUDA device is available"
    return f"device {name!r} was asked for but this machine has {count} CUDA device(s): cuda:0" + (
        f" to cuda:{count - 1}" if count > 1 else "")


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
    source: str | Path | None = None,
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
        source: the file ``image`` was read from, if any: with ``config.degradation="auto"``
            a JPEG file's quantisation tables give its quality exactly.

    Raises:
        ShapeError: a malformed or too small image.
        ScaleError: steps that do not enlarge, each beyond the previous.
        KernelError: a kernel too large for its step (:func:`zssr.limits.check_kernel_size`).
        ConfigError: a seed that is not an integer in ``[0, 2**63)``.
        ResourceError: a device this machine lacks, or a plan that needs more memory
            than it has (:func:`zssr.limits.check_plan`), before any training.
    """
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise ShapeError(f"image must be 1×C×H×W with C = 1 or 3, got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    if min(h, w) < MIN_INPUT_SIDE:
        raise ShapeError(f"image must be at least {MIN_INPUT_SIDE}×{MIN_INPUT_SIDE} pixels, got {h}×{w}")
    if not torch.isfinite(image).all():
        raise ShapeError("image contains NaN or infinite values")
    seed = 0 if seed is None else seed_value(seed)
    steps = check_steps([_check_pair(s, "scale step") for s in steps])
    kernels = list(kernels) if kernels is not None else [None] * len(steps)
    if len(kernels) != len(steps):
        raise KernelError(f"kernels must have one entry per scale step ({len(steps)}), got {len(kernels)}")
    for i, k in enumerate(kernels):
        if k is not None:
            check_kernel_size(tuple(k.shape), steps[i], (h, w), name="aligned kernel", aligned=True)
    dev = resolve_device(device)
    for name in ("channel_noise_std", "channel_speckle_std"):
        noise = getattr(config, name)
        if noise is not None and len(noise) not in (1, int(image.shape[1])):
            raise ConfigError(f"{name} must have 1 or {int(image.shape[1])} values (one per channel of this "
                              f"image), got {len(noise)}")
    reading = None
    if config.degradation == "auto":  # sons degraded like the input (issue #17): read it, then plan by it
        reading = read_degradation(image[0].detach().float().cpu().permute(1, 2, 0).numpy(), source)
        config = plan_sons(config, reading)
    # Everything the run will hold is known now: refuse what cannot fit before training.
    sides = [max(int(k.shape[-2]), int(k.shape[-1])) for k in kernels if k is not None]
    check_plan(plan_run((h, w), image.shape[1], steps, config=config, device=dev, kernel_side=max(sides, default=None)))
    rng = np.random.default_rng(seed)
    init_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    x = image.detach().to(device=dev, dtype=torch.float32)
    kernels = [k.to(device=dev, dtype=torch.float32) if k is not None else None for k in kernels]
    bp_iters = config.back_projection_for(len(steps))

    def new_net() -> ZSSRNet:
        return ZSSRNet(
            x.shape[1], config.width, config.depth, init_variance=config.init_variance,
            residual=config.learn_residual, generator=init_gen, precision=config.precision,
        ).to(dev)

    start = time.perf_counter()
    net = new_net()
    optimizer = make_optimizer(net, config, dev)
    sources = [FatherSource(x, 1.0)]
    histories = []
    output = x
    trained = 0.0  # seconds of training so far (Config.time_budget is shared by the steps left)
    for i, sf in enumerate(steps):
        if i > 0 and config.reinit_each_step:
            net = new_net()
            optimizer = make_optimizer(net, config, dev)
        callback = progress(i, len(steps), sf, config.max_iterations) if progress is not None else None
        deadline = None
        if config.time_budget is not None:
            deadline = time.perf_counter() + max(config.time_budget - trained, 0.0) / (len(steps) - i)
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
    return UpscaleResult(
        image=output.detach().float().cpu(), steps=tuple(histories), seconds=time.perf_counter() - start,
        device=str(dev), degradation=reading,
        precision="bfloat16" if uses_bfloat16(config.precision, dev) else "float32",
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
    axes: str | None = None,
    axis: str | None = None,
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

    if axes is not None or axis is not None or (isinstance(image_or_path, (str, Path)) and is_volume_file(image_or_path)):
        from .volume import upscale_volume

        if kernel is not None:
            raise ConfigError("kernel applies to 2-D images; a stack or volume is degraded by bicubic in-plane "
                              "or by its slice profile through-plane")
        return upscale_volume(image_or_path, scale, axes=axes, axis=axis, preset=preset, seed=seed, device=device,
                              progress=progress, **overrides).volume.data
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
        given = load_kernel(kernel) if isinstance(kernel, (str, Path)) else validate_kernel(kernel)
        check_kernel_size(tuple(given.shape), steps[-1])
    if isinstance(image_or_path, (str, Path)):
        picture = read_image(image_or_path)
        color, alpha = picture.color, picture.alpha
    else:
        color, alpha = _split_array(image_or_path)
    # The whole plan is known once the size is: refuse it before estimating or training anything.
    side = max(given.shape) if given is not None else (max_kernel_side(steps[-1][0]) if auto else None)
    check_plan(plan_run(color.shape[:2], color.shape[2], steps, config=config, device=dev, kernel_side=side))
    kernels: list[torch.Tensor | None] = [None] * len(steps)
    if auto:
        from .kernel_estimation import estimate_kernel_edges

        kernels[-1] = align_kernel(estimate_kernel_edges(to_tensor(color), steps[-1][0]).kernel, steps[-1])
    elif given is not None:
        check_kernel_size(tuple(given.shape), steps[-1], color.shape[:2])
        kernels[-1] = align_kernel(given, steps[-1])
    factory = TqdmProgress if progress else None
    source = image_or_path if isinstance(image_or_path, (str, Path)) else None
    result = upscale_tensor(to_tensor(color), steps, config=config, kernels=kernels, seed=seed, device=dev,
                            progress=factory, source=source)
    if auto:
        from .kernel_estimation import kernel_harm

        harm = kernel_harm(result.image, to_tensor(color))
        if harm is not None:  # do no harm (issue #19), as zssr upscale --kernel auto
            warnings.warn(f"the estimated kernel over-sharpened the output ({harm}); using the bicubic kernel instead",
                          RuntimeWarning, stacklevel=2)
            fallback = resolve_config("ideal", **overrides) if preset == "kernel" else config
            result = upscale_tensor(to_tensor(color), steps, config=fallback, kernels=[None] * len(steps), seed=seed,
                                    device=dev, progress=factory, source=source)
    out = to_array(result.image)
    if alpha is not None:
        a = imresize(torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None], steps[-1],
                     size=tuple(out.shape[:2]))
        out = np.concatenate([out, a.clamp(0, 1)[0, 0].numpy()[..., None]], axis=-1)
    return out


def _split_array(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        arr = np.asarray(array)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"image_or_path must be a path or an H×W(×C) array, got {type(array).__name__} ({exc})") from exc
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
        raise ShapeError(f"image array must be H×W, H×W×1, H×W×3 or H×W×4, got shape {np.shape(array)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"image array is empty: shape {np.shape(array)} has no pixels")
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
