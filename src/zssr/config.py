"""One frozen configuration for a ZSSR run, and the authors' named presets.

Field defaults are the authors' ``configs.Config`` (docs/authors_code.md §1); presets are their
``X2_*_CONF`` instances (docs/authors_code.md §1, "Presets") plus ``fast`` for CPU users.
Override with :func:`dataclasses.replace` or :func:`resolve_config`.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

__all__ = [
    "AUTHORS_GRADUAL_PATTERN", "AUTO_FIELDS", "ISOTROPIC_LADDER", "DEGRADATIONS", "ENGINES", "SON_FIELDS", "MAX_LEARNING_RATE", "MAX_NETS", "MAX_NETWORK_WEIGHTS", "MAX_NOISE_STD", "MAX_STEPS", "MAX_TIME_BUDGET", "PRECISIONS", "PRESETS", "PRESET_DOCS",
    "Config", "field_value", "network_weights", "resolve_config",
]

#: Arithmetic the net's convolutions may run in (``Config.precision``). ``bfloat16``
#: runs them under autocast (weights, Adam and the residual sum stay float32): on a
#: CPU with AMX or AVX-512-BF16 a training step is ~3x faster
#: (benchmarks/results/training_speed.md) with no loss of mean PSNR (Set5/Set14 ×2
#: +0.003/+0.047 dB, benchmarks/results/precision.md). ``auto`` is bfloat16 on such CPUs and
#: float32 everywhere else (GPUs not measured yet; emulated bfloat16 is slow).
PRECISIONS = ("auto", "float32", "bfloat16")

#: How a training step runs (``Config.training_engine``, :mod:`zssr.step`): ``eager`` makes
#: each example on the host's schedule (the authors' way, bit-identical to earlier
#: releases); ``device`` draws a block of fathers at a time and makes them and their
#: sons on the training device with no host sync between reconstruction tests;
#: ``graph`` is ``device`` with the step captured as a CUDA graph (on CUDA; ``device``
#: elsewhere); ``auto`` is ``graph`` on CUDA and ``eager`` on CPUs.
ENGINES = ("auto", "eager", "device", "graph")

#: ``Config.degradation``: use the sons' degradation as given, or read it from the input.
DEGRADATIONS = ("given", "auto")

#: Most gradual steps a run may have: each trains the net again (the authors use 6).
MAX_STEPS = 64

# The authors' X2_GRADUAL_IDEAL_CONF steps [1,1.5],[1.5,1],[1.5,1.5],[1.5,2],[2,1.5],[2,2],
# written as fractions of the way from 1 to the target so they generalise to any target.
AUTHORS_GRADUAL_PATTERN: tuple[tuple[float, float], ...] = (
    (0.0, 0.5), (0.5, 0.0), (0.5, 0.5), (0.5, 1.0), (1.0, 0.5), (1.0, 1.0),
)

# *Ours* (issue #27, the `best` preset): the paper's gradual SR (Sec. 4) read as isotropic steps,
# six evenly spaced from 1 to the target, 1 + (s - 1) k/6. The authors' pattern has four of its six
# steps anisotropic and, generalised to x4, reaches 2.5 only at its third step. Set5, seed 0, the
# paper's protocol: x2 37.38 dB (authors' pattern 37.29, paper 37.37), x4 30.98 (30.70), at about
# the same number of iterations (benchmarks/results/table1/table1.md).
ISOTROPIC_LADDER: tuple[tuple[float, float], ...] = tuple((k / 6, k / 6) for k in range(1, 7))


@dataclass(frozen=True)
class Config:
    """Every knob of one ZSSR run (authors' defaults unless marked *ours*).

    Gradual SR: when ``upscale`` is given one target scale, the steps are
    ``1 + (target - 1) * f`` for each ``f`` in ``gradual_pattern`` (a single
    ``(1, 1)`` is the one-jump run). ``back_projection_iters`` has one entry per
    step, matched from the last step backwards (a shorter tuple repeats its
    first entry for the earliest steps).
    """

    # network (docs/authors_code.md §3)
    width: int = 64
    depth: int = 8
    init_variance: float = 0.1
    learn_residual: bool = True
    # examples (docs/authors_code.md §2.1, §2.2)
    crop_size: int = 128
    noise_std: float = 0.0
    # *ours*: sons degraded like the input (paper §4.2): one noise σ per channel (wins over
    # noise_std) and JPEG compression at this quality; None: neither
    channel_noise_std: tuple[float, ...] | None = None
    # *ours*: noise proportional to the son's intensity (speckle), σ per unit intensity per
    # channel, on top of channel_noise_std: σ(I) = √(σ_c² + (b_c·I)²); None: none
    channel_speckle_std: tuple[float, ...] | None = None
    jpeg_quality: int | None = None
    # *ours*: "given" uses the fields as they are; "auto" reads the input's noise and JPEG quality
    # first (zssr.degradation) and sets the sons' degradation and the fields of AUTO_FIELDS by it
    degradation: str = "given"
    augment_as_is_probability: float = 0.05
    augment_no_interpolate_probability: float = 0.45
    augment_min_scale: float = 0.5
    augment_scale_diff_sigma: float = 0.25
    augment_shear_sigma: float = 0.1
    # *ours*: the largest scale of a father relative to the input; below 1 every father is cut from
    # the input downscaled by it (zssr.examples.input_sources), so no target holds the input's own
    # pixel-grid artefacts (a JPEG's 8x8 blocks; issue #28). 1 is the authors' rule; no preset changes it:
    # on once-JPEG Set5 x2 inputs 0.8 gained on butterfly (+0.27 dB) and lost on bird (-1.0 dB)
    # (benchmarks/results/jpeg_full_budget)
    father_scale: float = 1.0
    allow_rotation: bool = True
    legacy_crops: bool = False  # *ours*: True reproduces the authors' off-image (black) crops
    # training (docs/authors_code.md §2.3, §2.5)
    learning_rate: float = 1e-3
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    max_iterations: int = 3000
    min_iterations: int = 256
    min_learning_rate: float = 9e-6
    lr_change_ratio: float = 1.5
    lr_check_every: int = 60
    lr_slope_range: int = 256
    test_every: int = 50
    # *ours*: the reconstruction test measures at most this many input pixels (fixed crops chosen
    # once per step), so training costs the same on any image size (paper §4, "Runtime"); None
    # is the authors' whole-image test. Above every Set5/Set14 ×2 input (largest 103,680).
    test_pixels: int | None = 2**17
    # *ours*: seconds of training for the whole run, checked at each reconstruction test (None: no cap)
    time_budget: float | None = None
    # *ours*: the convolutions' arithmetic (PRECISIONS); float32 is the authors'
    precision: str = "auto"
    # *ours*: how each training step is run (ENGINES, zssr.step); auto: CUDA graphs on CUDA, eager on CPUs
    training_engine: str = "auto"
    legacy_covariance: bool = True  # numpy < 1.16 polyfit scaling (N - 4), as the authors ran it
    reinit_each_step: bool = False
    # *ours*: independently seeded runs of the whole method whose outputs are averaged (1: one run, the
    # authors'). A net trained on one image varies with its seed; the mean of a few is closer to the truth.
    nets: int = 1
    # inference (docs/authors_code.md §4)
    output_flip: bool = True
    back_projection_iters: tuple[int, ...] = (10,)
    # *ours*: output pixels the ensemble works on at a time; a larger output (integer vertical factor)
    # is made in row bands with the same values (zssr.bands), None holds it whole. 2**22 is
    # about 1 GB for RGB; every Set5/Set14 output and a 1024×680 photo at ×2 fit in one.
    inference_pixels: int | None = 2**22
    # gradual SR (docs/authors_code.md §5)
    gradual_pattern: tuple[tuple[float, float], ...] = ((1.0, 1.0),)
    # extra fields only carried, never interpreted (keeps presets documented)
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):  # before any arithmetic: float(10**400) is an OverflowError
            _check_magnitude(spec.name, getattr(self, spec.name))
        ints_min = {
            "width": 1, "depth": 2, "crop_size": 8, "max_iterations": 1, "min_iterations": 0,
            "lr_check_every": 1, "lr_slope_range": 1, "test_every": 1, "nets": 1,
        }
        for name, low in ints_min.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        positive = ("init_variance", "learning_rate", "adam_eps", "min_learning_rate", "lr_change_ratio")
        for name in positive:
            value = getattr(self, name)
            if not _finite(value) or value <= 0:
                raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
        # Adam moves each weight by about the learning rate: above 1 training only diverges,
        # and from ~1e38 the step overflows float32 inside torch (a RuntimeError mid-run).
        if self.learning_rate > MAX_LEARNING_RATE:
            raise ConfigError(f"learning_rate must be at most {MAX_LEARNING_RATE:g}, got {self.learning_rate!r}")
        if self.nets > MAX_NETS:
            raise ConfigError(f"nets must be at most {MAX_NETS} (each trains the whole method again), got {self.nets}")
        weights = network_weights(self.width, self.depth)
        if weights > MAX_NETWORK_WEIGHTS:
            raise ConfigError(
                f"width {self.width} and depth {self.depth} make a network of {weights:.3g} weights, more than the "
                f"{MAX_NETWORK_WEIGHTS:.3g} allowed (the authors' 64×8 has {network_weights(64, 8):.3g})"
            )
        if self.test_pixels is not None and (
            isinstance(self.test_pixels, bool) or not isinstance(self.test_pixels, int) or self.test_pixels < MIN_TEST_PIXELS
        ):
            raise ConfigError(f"test_pixels must be None (the whole image) or an integer >= {MIN_TEST_PIXELS}, "
                              f"got {self.test_pixels!r}")
        if self.inference_pixels is not None and (
            isinstance(self.inference_pixels, bool) or not isinstance(self.inference_pixels, int)
            or self.inference_pixels < MIN_INFERENCE_PIXELS
        ):
            raise ConfigError(f"inference_pixels must be None (the whole output) or an integer >= "
                              f"{MIN_INFERENCE_PIXELS}, got {self.inference_pixels!r}")
        if self.time_budget is not None and (
            not _finite(self.time_budget) or not 0 < self.time_budget <= MAX_TIME_BUDGET
        ):
            raise ConfigError(f"time_budget must be None or a number of seconds in (0, {MAX_TIME_BUDGET:,.0f}], "
                              f"got {self.time_budget!r}")
        for name in ("channel_noise_std", "channel_speckle_std"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, tuple) or not value or any(not _finite(v) or v < 0 for v in value)
            ):
                raise ConfigError(f"{name} must be None or a tuple of finite numbers >= 0 (one per channel), "
                                  f"got {value!r}")
        if self.jpeg_quality is not None and (
            isinstance(self.jpeg_quality, bool) or not isinstance(self.jpeg_quality, int) or not 1 <= self.jpeg_quality <= 100
        ):
            raise ConfigError(f"jpeg_quality must be None or an integer from 1 to 100, got {self.jpeg_quality!r}")
        if self.degradation not in DEGRADATIONS:
            raise ConfigError(f"degradation must be one of {', '.join(DEGRADATIONS)}, got {self.degradation!r}")
        if self.training_engine not in ENGINES:
            raise ConfigError(f"training_engine must be one of {', '.join(ENGINES)}, got {self.training_engine!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        non_negative = ("noise_std", "augment_scale_diff_sigma", "augment_shear_sigma")
        for name in non_negative:
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        # Pixels are in [0, 1]: a σ above 1 is noise alone (1e308 once trained a net on inf/NaN sons).
        if self.noise_std > MAX_NOISE_STD:
            raise ConfigError(f"noise_std must be in [0, {MAX_NOISE_STD:g}] (pixels are in [0, 1]), got {self.noise_std!r}")
        p1, p2 = self.augment_as_is_probability, self.augment_no_interpolate_probability
        if not (_finite(p1) and _finite(p2) and p1 >= 0 and p2 >= 0 and p1 + p2 <= 1):
            raise ConfigError(
                "augment_as_is_probability and augment_no_interpolate_probability must be >= 0 "
                f"with a sum <= 1, got {p1!r} and {p2!r}"
            )
        if not (_finite(self.father_scale) and 0.25 <= self.father_scale <= 1):
            raise ConfigError(f"father_scale must be in [0.25, 1], got {self.father_scale!r}")
        if not (_finite(self.augment_min_scale) and 0 < self.augment_min_scale <= 1):
            raise ConfigError(f"augment_min_scale must be in (0, 1], got {self.augment_min_scale!r}")
        if len(self.adam_betas) != 2 or not all(_finite(b) and 0 <= b < 1 for b in self.adam_betas):
            raise ConfigError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas!r}")
        bp = self.back_projection_iters
        if not bp or any(isinstance(b, bool) or not isinstance(b, int) or b < 0 for b in bp):
            raise ConfigError(f"back_projection_iters must be non-negative integers, got {bp!r}")
        if not self.gradual_pattern or any(
            len(f) != 2 or not all(_finite(v) and 0 <= v <= 1 for v in f) for f in self.gradual_pattern
        ):
            raise ConfigError(f"gradual_pattern must be (fy, fx) pairs in [0, 1], got {self.gradual_pattern!r}")
        if len(self.gradual_pattern) > MAX_STEPS:
            raise ConfigError(f"gradual_pattern must have at most {MAX_STEPS} steps (each trains a net), "
                              f"got {len(self.gradual_pattern)}")
        if tuple(self.gradual_pattern[-1]) != (1.0, 1.0):
            raise ConfigError(f"gradual_pattern must end at (1, 1), got {self.gradual_pattern!r}")
        if self.lr_slope_range // self.test_every < 3:
            raise ConfigError(
                "lr_slope_range // test_every must give at least 3 points for the slope fit, got "
                f"{self.lr_slope_range} // {self.test_every}"
            )

    def back_projection_for(self, n_steps: int) -> tuple[int, ...]:
        """Back-projection iterations for each of ``n_steps`` steps (last entries win)."""
        bp = tuple(self.back_projection_iters)
        if len(bp) >= n_steps:
            return bp[len(bp) - n_steps :]
        return (bp[0],) * (n_steps - len(bp)) + bp


#: Smallest reconstruction-test budget: one 32×32 crop.
MIN_TEST_PIXELS = 32 * 32
#: Smallest inference window: a 64×64 output (bands are at least zssr.bands.MIN_BAND_ROWS rows anyway).
MIN_INFERENCE_PIXELS = 64 * 64

#: Most independently seeded runs ``Config.nets`` may average (each costs a whole run).
MAX_NETS = 16

#: Largest ``time_budget`` in seconds (about 116 days): beyond any run, and clear of the float
#: overflow that 1e308 met where a budget becomes an iteration count (the page's API).
MAX_TIME_BUDGET = 1e7

#: Largest ``noise_std`` accepted (see ``Config.__post_init__``).
MAX_NOISE_STD = 1.0

#: Largest learning rate accepted (see ``Config.__post_init__``).
MAX_LEARNING_RATE = 1.0
#: Largest network accepted: 2**26 weights are 256 MB at float32 (1 GB with the gradient and
#: Adam's two moments), 300× the authors' net. ``width=10**8`` once spent a minute before a
#: failed 360-PB allocation, ``depth=10**5`` ran for over ten minutes.
MAX_NETWORK_WEIGHTS = 2**26


def network_weights(width: int, depth: int, channels: int = 3) -> int:
    """Weights of the ``depth``-layer 3×3 network of ``width`` channels on ``channels``-channel images."""
    return 9 * (2 * channels * width + max(depth - 2, 0) * width * width)  # 3×3 convolutions, no biases


#: Largest integer any field takes: int64's range (torch and numpy hold every count in one).
MAX_FIELD_INT = 2**63 - 1


def _check_magnitude(name: str, value: Any, depth: int = 0) -> None:
    """Refuse integers beyond int64 anywhere in a field (tuples too), naming the field and the range."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_FIELD_INT:
        raise ConfigError(f"{name} must be a number within ±(2**63 - 1), got an integer of {len(str(abs(value)))} digits")
    if isinstance(value, (tuple, list)) and depth < 2:
        for item in value:
            _check_magnitude(name, item, depth + 1)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


PRESETS: dict[str, Config] = {
    # X2_ONE_JUMP_IDEAL_CONF: the defaults.
    "ideal": Config(name="ideal"),
    # X2_GRADUAL_IDEAL_CONF: 6 steps, BP 6,6,8,10,10,12 (paper: "~0.2 dB better, ~6x the time").
    "gradual": Config(name="gradual", gradual_pattern=AUTHORS_GRADUAL_PATTERN, back_projection_iters=(6, 6, 8, 10, 10, 12)),
    # *ours*: gradual's steps and back-projections on the isotropic ladder (issue #27).
    "best": Config(name="best", gradual_pattern=ISOTROPIC_LADDER, back_projection_iters=(6, 6, 8, 10, 10, 12)),
    # X2_GIVEN_KERNEL_CONF: a non-symmetric kernel forbids rotations and the geometric ensemble.
    "kernel": Config(name="kernel", output_flip=False, allow_rotation=False, back_projection_iters=(2,)),
    # X2_REAL_CONF (noise on the sons, no back-projection: it would re-inject the input's noise),
    # with the sons' noise read from the input and JPEG milder than the quality read (*ours*, issues
    # #17, #28; zssr.degradation.son_jpeg_quality) and ideal's ensemble while the sons' kernel is bicubic
    # (zssr.degradation.plan_sons); a clean input gets ideal's settings (AUTO_FIELDS).
    # degradation="given" is the authors' fixed 0.0125.
    "real": Config(
        name="real", output_flip=False, back_projection_iters=(0,), noise_std=0.0125, allow_rotation=False,
        augment_scale_diff_sigma=0.0, augment_shear_sigma=0.0, augment_min_scale=0.75, degradation="auto",
    ),
    # *ours*: a CPU budget. Same method; the LR policy is checked 4x as often on a
    # 4x denser error series, and training is capped at 400 iterations.
    "fast": Config(
        name="fast", max_iterations=400, min_iterations=64, lr_check_every=20, test_every=20,
        lr_slope_range=100, back_projection_iters=(4,), output_flip=True,
    ),
}

#: The fields ``degradation="auto"`` sets besides the sons' noise and JPEG quality: the
#: authors' ``real`` values for a degraded input, ``ideal``'s for a clean one (zssr.degradation.plan_sons).
AUTO_FIELDS = tuple(
    f.name for f in dataclasses.fields(Config)
    if f.compare and f.name != "degradation" and getattr(PRESETS["real"], f.name) != getattr(PRESETS["ideal"], f.name)
)

#: The sons' own degradation fields (besides ``noise_std``), which ``degradation="auto"`` sets too.
SON_FIELDS = ("channel_noise_std", "channel_speckle_std", "jpeg_quality")

PRESET_DOCS: dict[str, str] = {
    "ideal": "authors' X2_ONE_JUMP_IDEAL_CONF: one jump, 8-way ensemble, 10 back-projections",
    "gradual": "authors' X2_GRADUAL_IDEAL_CONF: 6 gradual steps, back-projection 6,6,8,10,10,12",
    "best": "ours: gradual on 6 isotropic steps 1 + (s - 1) k/6; Table 1's best at gradual's cost",
    "kernel": "authors' X2_GIVEN_KERNEL_CONF: for a given/estimated kernel; no rotations or ensemble",
    "real": "noisy/compressed inputs: sons get the noise read from the input and JPEG milder than its "
            "quality, no back-projection (authors' X2_REAL_CONF), 8-way ensemble unless a kernel is given; "
            "a clean input runs as ideal",
    "fast": "ours: <= 400 iterations, denser LR policy checks; for CPUs (see benchmarks/results)",
}


def resolve_config(preset: str | Config = "ideal", **overrides: Any) -> Config:
    """A preset (by name or instance) with fields replaced; unknown names are errors.

    On a preset with ``degradation="auto"`` (``real``), setting one of the fields auto
    would set (:data:`AUTO_FIELDS`, :data:`SON_FIELDS`) turns auto off: the value given wins.
    """
    if isinstance(preset, Config):
        base = preset
    elif preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise ConfigError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
    clean = {k: v for k, v in overrides.items() if v is not None}
    if base.degradation == "auto" and "degradation" not in clean and set(clean) & {*AUTO_FIELDS, *SON_FIELDS}:
        clean["degradation"] = "given"  # a field auto would set, set by hand: the user's value wins
    if "back_projection_iters" in clean and isinstance(clean["back_projection_iters"], int):
        clean["back_projection_iters"] = (clean["back_projection_iters"],)
    try:
        return dataclasses.replace(base, **clean)
    except TypeError as exc:  # wrong types surface here before __post_init__
        raise ConfigError(str(exc)) from None


def field_value(name: str, raw: Any, *, separator: str = ",") -> Any:
    """``raw`` (text as typed on a command line, or a Python value) read as Config field ``name``'s type.

    Text is read by the field's declared type: ``int``, ``float``, ``bool`` (true/false,
    yes/no, on/off, 1/0), ``str``, ``none`` for optional fields, and tuples written with
    ``separator`` between items and ``x`` inside pairs (``gradual_pattern=0.5x0.5,1x1``)
    or as a Python literal (``((0.5, 0.5), (1, 1))``). ``zssr bench`` method strings use
    ``;`` as the separator, since their options are comma-separated.

    Raises:
        ConfigError: an unknown field, or a value its type cannot take.
    """
    hints = typing.get_type_hints(Config)
    fields = [f.name for f in dataclasses.fields(Config)]
    if name not in fields:
        raise ConfigError(f"unknown config field {name!r}; known fields: {', '.join(fields)}")
    node: Any = raw
    if isinstance(raw, str):
        node = raw.strip()
        if node[:1] in ("(", "["):
            try:
                node = ast.literal_eval(node)
            except (ValueError, SyntaxError):
                raise ConfigError(f"{name} value is not a valid literal") from None
    return _coerce(node, hints[name], name, depth=0, separator=separator)


def _coerce(node: Any, tp: Any, name: str, *, depth: int, separator: str) -> Any:
    """``node`` (a string, or a literal's value) as type ``tp``; ``separator`` splits a tuple's items."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # ``X | None``: "none" (any case) or an X
        kinds = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if node is None or (isinstance(node, str) and node.strip().lower() == "none"):
            return None
        return _coerce(node, kinds[0], name, depth=depth, separator=separator)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(node, str):
            split = separator if depth == 0 else "x"
            items: list[Any] = [part.strip() for part in node.lower().split(split)] if node.strip() else []
        elif isinstance(node, (list, tuple)):
            items = list(node)
        else:
            items = [node]
        if len(args) == 2 and args[1] is Ellipsis:
            kinds = [args[0]] * len(items)
            if not items:
                raise ConfigError(f"{name} needs at least one value, got {node!r}")
        else:
            kinds = list(args)
            if len(items) != len(kinds):
                form = (separator if depth == 0 else "x").join("AB"[: len(kinds)])
                raise ConfigError(f"{name} needs {len(kinds)} values (as {form}), got {node!r}")
        return tuple(_coerce(item, kind, name, depth=depth + 1, separator=separator) for item, kind in zip(items, kinds))
    if tp is bool:
        if isinstance(node, bool):
            return node
        text = str(node).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{name} must be true or false, got {node!r}")
    if tp is int:
        if isinstance(node, int) and not isinstance(node, bool):
            return node
        try:
            return int(str(node).strip())
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {node!r}") from None
    if tp is float:
        if isinstance(node, bool):
            raise ConfigError(f"{name} must be a number, got {node!r}")
        try:
            value = float(node) if isinstance(node, (int, float)) else float(str(node).strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {node!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {node!r}")
        return value
    if tp is str:
        return str(node)
    raise ConfigError(f"{name} has type {tp}, which cannot be read from text")  # pragma: no cover
