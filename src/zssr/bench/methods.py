"""The benchmark's method registry: what a method gets and returns, the built-in methods, ``NAME:key=value`` specs."""

from __future__ import annotations

import hashlib
import json
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Config, field_value, resolve_config
from ..errors import ConfigError
from ..io import to_array, to_tensor
from ..kernels import align_kernel
from ..network import conv_layout, uses_bfloat16
from ..pipeline import plan_steps, resolve_device, upscale_tensor
from ..resize import imresize

__all__ = [
    "METHODS", "NEEDS_TRUE_KERNEL", "OPTION_CHECKS", "Method", "MethodInput", "MethodOutput", "MethodSpec", "parse_method",
    "resolved_config",
]


@dataclass(frozen=True)
class MethodInput:
    """What a method gets for one image.

    Attributes:
        lr: the LR image, ``H×W×C`` float32 in [0, 1] (8-bit values, C = 1 or 3).
        scale: the SR factor; the output should be ``scale·H × scale·W``.
        kernel: the true downscaling kernel (unaligned, sums to 1) when the
            degradation has one (``gaussian-kernel``), else None.
        seed: the run seed (0 … ``seeds``−1).
        device: ``auto``, ``cpu``, ``cuda`` … as given to the benchmark.
        options: the ``key=value`` options of the method spec (values parsed).
        image: the image's name.
        source: the LR file ``lr`` was read from (a JPEG's quantisation tables give its
            quality to ``degradation="auto"``), or None.
    """

    lr: np.ndarray
    scale: float
    kernel: np.ndarray | None
    seed: int
    device: str
    options: Mapping[str, Any]
    image: str
    source: Path | None = None


@dataclass(frozen=True)
class MethodOutput:
    """What a method returns: the SR image plus optional bookkeeping.

    Attributes:
        sr: ``H×W×C`` float in [0, 1]; rounded to 8 bits before scoring.
        iterations: training iterations spent (None for methods that do not train).
        kernel: a kernel the method estimated, saved beside the SR image.
        info: anything JSON-serialisable to keep in the result file.
    """

    sr: np.ndarray
    iterations: int | None = None
    kernel: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

Method = Callable[[MethodInput], "MethodOutput | np.ndarray"]


def _bicubic_method(request: MethodInput) -> MethodOutput:
    """MATLAB bicubic upscale of the (RGB) LR in float, clipped: the baseline row of every table."""
    if request.options:
        raise ConfigError(f"method 'bicubic' takes no options, got {dict(request.options)}")
    up = imresize(to_tensor(request.lr), request.scale)
    return MethodOutput(sr=np.clip(to_array(up), 0.0, 1.0))


def _layout_name(precision: str, device: str) -> str:
    """The training convolutions' layout (:func:`zssr.network.conv_layout`): seconds pair only within one."""
    resolved = resolve_device(device)
    layout = conv_layout(resolved, uses_bfloat16(precision, resolved))
    return "NHWC" if layout == torch.channels_last else "NCHW"


def _zssr(
    request: MethodInput, options: Mapping[str, Any], default_preset: str, kernel: np.ndarray | None
) -> MethodOutput:
    opts = dict(options)
    preset = opts.pop("preset", default_preset)
    config = resolve_config(preset, **opts)
    steps = plan_steps((request.scale, request.scale), config)
    kernels: list[torch.Tensor | None] = [None] * len(steps)
    if kernel is not None:
        # As zssr.upscale: the kernel describes the whole degradation, so it drives
        # the last (full-scale) step; earlier gradual steps use bicubic.
        kernels[-1] = align_kernel(kernel, steps[-1])
    result = upscale_tensor(
        to_tensor(request.lr), steps, config=config, kernels=kernels, seed=request.seed, device=request.device,
        source=request.source,
    )
    info: dict[str, Any] = {"preset": config.name, "steps": [list(s) for s in steps], "training_seconds": result.seconds,
                            "engine": [h.engine for h in result.steps],
                            "conv_layout": _layout_name(config.precision, request.device)}
    fallback = next((h.capture_fallback for h in result.steps if h.capture_fallback), None)
    if fallback is not None:
        info["capture_fallback"] = fallback
    if result.degradation is not None:
        info["degradation"] = result.degradation.describe()
    return MethodOutput(
        sr=np.clip(to_array(result.image), 0.0, 1.0),
        iterations=int(sum(h.iterations for h in result.steps)),
        info=info,
    )


def _zssr_method(request: MethodInput) -> MethodOutput:
    """ZSSR with MATLAB bicubic sons; options: ``preset=`` (default ``ideal``) and any Config field."""
    return _zssr(request, request.options, "ideal", None)


def _zssr_true_kernel_method(request: MethodInput) -> MethodOutput:
    """ZSSR given the kernel that made the LR (Table 2, "ZSSR with true kernel"); default preset ``kernel``."""
    if request.kernel is None:
        raise ConfigError("method 'zssr+true-kernel' needs a degradation with a known kernel (gaussian-kernel, or given "
                          "pairs with their kernels)")
    return _zssr(request, request.options, "kernel", request.kernel)


def _zssr_estimated_kernel_method(request: MethodInput) -> MethodOutput:
    """ZSSR given a kernel estimated from the LR alone (Table 2's blind row), KernelGAN by default.

    The paper used Michaeli & Irani's estimator [14]; KernelGAN is the authors'
    later replacement. Options: ``estimator=`` (``kernelgan``, default; ``edges``:
    :func:`~zssr.kernel_estimation.estimate_kernel_edges`), ``iterations=`` (KernelGAN, default
    3000), ``restarts=`` (KernelGAN), ``width_correction=`` (KernelGAN) and ``check=``
    (default true), then as ``zssr``.
    An estimate that is not :attr:`~zssr.kernel_estimation.KernelEstimate.reliable` is not used,
    nor, with ``check``, one whose output shows it was too wide (:func:`~zssr.kernel_estimation.kernel_harm`):
    the image gets bicubic-kernel ZSSR (:func:`_bicubic_kernel_fallback`), as ``zssr upscale
    --kernel auto`` does (recorded as ``kernel_fallback`` in the result's info). So does an LR
    under the estimators' :data:`~zssr.kernel_estimation.MIN_SIZE` (``zssr upscale`` refuses it;
    a benchmark row goes on: Set14 ×4 has four such images).
    """
    from ..kernel_estimation import MIN_SIZE, estimate_kernel, read_output

    estimator, iterations, restarts, width_correction, check, opts = _estimator_options(request.options)
    if min(request.lr.shape[:2]) < MIN_SIZE:
        out = _bicubic_kernel_fallback(request, opts)
        too_small = {"kernel_fallback": True, "kernel_fallback_reason": f"LR under {MIN_SIZE} px: no estimate"}
        return MethodOutput(sr=out.sr, iterations=out.iterations, info={**out.info, **too_small})
    if estimator == "edges":
        from ..kernel_estimation import estimate_kernel_edges

        estimate = estimate_kernel_edges(to_tensor(request.lr), request.scale)
    else:
        device = resolve_device(request.device)
        estimate = estimate_kernel(
            to_tensor(request.lr), request.scale, iterations=iterations, seed=request.seed, device=device,
            restarts=restarts, width_correction=width_correction,
        )
    kernel = estimate.kernel.numpy()
    fallback, sharpness, gain, harm = not estimate.reliable, None, None, None
    if estimate.reliable:
        out = _zssr(request, opts, "kernel", kernel)
        reading = read_output(to_tensor(out.sr), to_tensor(request.lr))  # recorded, checked or not
        sharpness, gain, harm = reading.sharpness, reading.gain, reading.harm
        fallback = check and harm is not None  # as --kernel auto (issue #19)
    if fallback:
        out = _bicubic_kernel_fallback(request, opts)
    info = {
        **out.info, "kernel_iterations": estimate.iterations, "kernel_seconds": estimate.seconds,
        "kernel_spread": estimate.spread, "kernel_fallback": fallback, "kernel_seeds": list(estimate.seeds),
        "kernel_output_sharpness": sharpness, "kernel_output_gain": gain, "kernel_harm": harm,
    }
    return MethodOutput(sr=out.sr, iterations=out.iterations, kernel=kernel, info=info)


def _bicubic_kernel_fallback(request: MethodInput, options: Mapping[str, Any]) -> MethodOutput:
    """What ``--kernel auto`` falls back to: bicubic-kernel ZSSR, the other options kept.

    The ``kernel`` preset (the default here) falls back to ``ideal``, its bicubic counterpart;
    another preset (``real`` on a noisy input) is kept, as ``zssr.upscale`` does.
    """
    preset, rest = _fallback(options)
    return _zssr(request, rest, preset, None)


def _fallback(options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The preset and other options of :func:`_bicubic_kernel_fallback`."""
    preset = options.get("preset", "kernel")
    return ("ideal" if preset == "kernel" else preset), {k: v for k, v in options.items() if k != "preset"}


def _estimator_options(options: Mapping[str, Any]) -> tuple[str, int, int, bool, bool, dict[str, Any]]:
    """``estimator``, ``iterations``, ``restarts``, ``width_correction``, ``check`` and the other (ZSSR) options."""
    from ..kernel_estimation import RESTARTS

    opts = dict(options)
    estimator = opts.pop("estimator", "kernelgan")
    iterations = opts.pop("iterations", 3000)
    restarts = opts.pop("restarts", RESTARTS)
    width_correction = opts.pop("width_correction", False)
    check = opts.pop("check", True)
    for key, flag in (("width_correction", width_correction), ("check", check)):
        if not isinstance(flag, bool):
            raise ConfigError(f"option {key} must be true or false, got {flag!r}")
    if estimator not in ("kernelgan", "edges"):
        raise ConfigError(f"option estimator must be kernelgan or edges, got {estimator!r}")
    if estimator == "edges":
        unused = sorted({"iterations", "restarts"} & set(options))
        if "width_correction" in options:
            unused.append("width_correction")
        if unused:
            raise ConfigError(f"option(s) {', '.join(unused)} do not apply to estimator={estimator}: it does not train")
    for key, value, least in (("iterations", iterations, 1), ("restarts", restarts, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"option {key} must be an integer >= {least}, got {value!r}")
    return estimator, iterations, restarts, width_correction, check, opts


def _check_zssr_options(options: Mapping[str, Any], default_preset: str) -> None:
    opts = dict(options)
    resolve_config(opts.pop("preset", default_preset), **opts)


def _check_bicubic_options(options: Mapping[str, Any]) -> None:
    if options:
        raise ConfigError(f"method 'bicubic' takes no options, got {dict(options)}")


def _check_estimated_kernel_options(options: Mapping[str, Any]) -> None:
    _, _, _, _, _, rest = _estimator_options(options)
    _check_zssr_options(rest, "kernel")


#: The preset each built-in ZSSR method resolves its options against (:func:`resolved_config`).
_DEFAULT_PRESETS = {"zssr": "ideal", "zssr+true-kernel": "kernel", "zssr+estimated-kernel": "kernel"}


def resolved_config(spec: MethodSpec) -> dict[str, Any] | None:
    """The Config a built-in ZSSR method runs with, every field as JSON values (None: not a ZSSR method).

    Kept in each benchmark record so that a resumed record is re-run when its preset has since
    changed (a row named ``preset=best`` must not reuse results of an older ``best``). For
    ``zssr+estimated-kernel`` also the estimator's options with their defaults (``estimator``) and
    the Config of its bicubic-kernel fallback (``fallback``, as :func:`_bicubic_kernel_fallback`).
    """
    if spec.name not in _DEFAULT_PRESETS:
        return None
    opts = dict(spec.options)
    extra: dict[str, Any] = {}
    if spec.name == "zssr+estimated-kernel":
        estimator, iterations, restarts, width_correction, check, opts = _estimator_options(opts)
        fallback_preset, fallback = _fallback(opts)
        extra = {"estimator": {"estimator": estimator, "iterations": iterations, "restarts": restarts,
                               "width_correction": width_correction, "check": check},
                 "fallback": _config_values(resolve_config(fallback_preset, **fallback))}
    values = _config_values(resolve_config(opts.pop("preset", _DEFAULT_PRESETS[spec.name]), **opts))
    return typing.cast("dict[str, Any]", json.loads(json.dumps({**values, **extra})))


def _config_values(config: Config) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name != "name"}


#: The method registry: name → function. Add your own (see the module docstring).
METHODS: dict[str, Method] = {
    "bicubic": _bicubic_method,
    "zssr": _zssr_method,
    "zssr+true-kernel": _zssr_true_kernel_method,
    "zssr+estimated-kernel": _zssr_estimated_kernel_method,
}

NEEDS_TRUE_KERNEL = ("zssr+true-kernel",)

#: Option checks of the built-in methods, run by ``run_benchmark`` before anything is
#: written (a typo in ``zssr:presett=fast`` must not cost an input cache first). A
#: method registered without a check gets its options checked only when it runs.
OPTION_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "bicubic": _check_bicubic_options,
    "zssr": lambda options: _check_zssr_options(options, "ideal"),
    "zssr+true-kernel": lambda options: _check_zssr_options(options, "kernel"),
    "zssr+estimated-kernel": _check_estimated_kernel_options,
}


@dataclass(frozen=True)
class MethodSpec:
    """A method name and its options, e.g. ``zssr:preset=fast,max_iterations=300``."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """Canonical text (options sorted): the row name and the identity used for resuming."""
        if not self.options:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_format_value(v)}" for k, v in self.options)

    @property
    def slug(self) -> str:
        """The label as a folder name (``:`` → ``@``, anything unusual → ``_``, long ones hashed)."""
        text = re.sub(r"[^A-Za-z0-9._=,+@-]", "_", self.label.replace(":", "@"))
        if len(text) > 120:
            text = text[:100] + "-" + hashlib.sha1(self.label.encode()).hexdigest()[:12]
        return text


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value)


def _parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_method(text: str | MethodSpec) -> MethodSpec:
    """``NAME[:key=value,...]`` → :class:`MethodSpec`; values become int, float, bool or None when they look so.

    A tuple-typed :class:`~zssr.config.Config` field is read by its type, its items
    separated by ``;`` (the options' own separator is ``,``) or written as a Python
    literal: ``zssr:preset=gradual,gradual_pattern=0.5x0.5;1x1`` and
    ``...,gradual_pattern=((0.5,0.5),(1,1))`` are the same method.

    Raises:
        ConfigError: an empty name, an option without ``=``, a repeated key, or a tuple
            field's value its type cannot take.
    """
    if isinstance(text, MethodSpec):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"method must be a string like 'zssr:preset=fast', got {type(text).__name__}")
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(f"method must start with a name, as in 'zssr:preset=fast', got {text!r}")
    options: dict[str, Any] = {}
    for part in (p for p in _top_level_parts(rest) if p.strip()):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"method option must look like key=value, got {part!r} in {text!r}")
        if key in options:
            raise ConfigError(f"method option {key!r} is given twice in {text!r}")
        if key in _TUPLE_FIELDS:
            try:
                options[key] = field_value(key, value, separator=";")
            except ConfigError as exc:
                raise ConfigError(f"method {text!r}: {exc}") from None
        else:
            options[key] = _parse_value(value)
    return MethodSpec(name, tuple(sorted(options.items())))


#: Config fields whose values are tuples: read by type (other options keep ``_parse_value``'s
#: guess, so the labels of runs recorded before tuples could be given stay the same).
_TUPLE_FIELDS = frozenset(
    name for name, tp in typing.get_type_hints(Config).items()
    if tuple in (typing.get_origin(tp), *map(typing.get_origin, typing.get_args(tp)))
)


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at the commas outside brackets (a literal's own commas stay in its option)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
