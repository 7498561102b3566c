"""Benchmark harness: the paper's Tables 1–3 on Set5/Set14 or any folder of HR images.

Paper §4: Table 1 scores 'ideal' LR images (MATLAB bicubic ``imresize``), Table 2
LR images made with a random anisotropic Gaussian kernel per image (§4.2 A),
Table 3 LR images each hit by one random degradation: Gaussian noise, speckle
noise or JPEG (§4.2 B). Tables 2 and 3 used BSD100, which we do not ship: pass
its HR folder as a data set.

Layout of ``out`` (every file is written atomically, so an interrupted run resumes):

* ``inputs/<dataset>_x<s>_<degradation>-<variant>_seed<k>/``: the generated inputs,
  8-bit PNGs reused on the next run: ``<name>_hr.png`` (modcropped HR),
  ``<name>_lr.png``, ``<name>_kernel.mat``/``.png`` (true kernel, Table 2) and
  ``<name>.json`` (what was done; written last, so its presence means "complete").
  ``variant`` is the LR source (``selfexsr`` / ``imresize``) or the kernel recipe.
* ``runs/<same key>/<method>/<name>_seed<r>.{png,json}``: one result per
  (data set, degradation, method, image, seed); a finished one is skipped on rerun.
* ``results.csv``, ``results.json`` (records and summary), ``table.md`` (laid out
  like the paper's tables, with the paper's numbers and our difference where
  known), ``figure_<dataset>.png`` (crops: HR | each method).

Scores follow the paper's protocol (``zssr.metrics.evaluate``): the SR output is
first rounded to 8 bits (as when saved to PNG), then Y of MATLAB ``rgb2ycbcr`` is
compared with ``scale`` pixels shaved.

Methods are looked up by name in a registry (:data:`METHODS` by default). To add
one, write a module-level function ``fn(request: MethodInput) -> MethodOutput``
(or a plain ``H×W×C`` array) and either ``METHODS["mine"] = fn`` or pass
``registry={**METHODS, "mine": fn}`` to :func:`run_benchmark`; then
``--method mine:key=value`` hands it ``request.options == {"key": "value"}``.
With ``jobs > 1`` workers are spawned, so ``fn`` must be importable by name
(a lambda or a function defined inside another cannot be sent to them).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .config import resolve_config
from .errors import ConfigError, ImageReadError, ImageWriteError, ScaleError, ShapeError, ZSSRError
from .io import collect_inputs, read_image, to_array, to_tensor, write_image
from .kernels import align_kernel, downscale, load_kernel, random_gaussian_kernel, save_kernel, validate_kernel
from .metrics import evaluate
from .pipeline import plan_steps, resolve_device, upscale_tensor
from .resize import imresize

__all__ = [
    "DEGRADATIONS",
    "DEGRADED_KINDS",
    "GAUSSIAN_NOISE_SIGMA",
    "JPEG_QUALITY",
    "LR_SOURCES",
    "METHODS",
    "PAPER_NUMBERS",
    "SPECKLE_VARIANCE",
    "BenchInput",
    "BenchResult",
    "Condition",
    "DatasetSource",
    "Method",
    "MethodInput",
    "MethodOutput",
    "MethodSpec",
    "Record",
    "SummaryRow",
    "add_bench_arguments",
    "modcrop",
    "parse_method",
    "prepare_inputs",
    "resolve_dataset",
    "run_bench",
    "run_benchmark",
]

Degradation = Literal["bicubic", "gaussian-kernel", "degraded"]
LRSource = Literal["auto", "selfexsr", "imresize"]
KernelRecipeName = Literal["zssr", "div2krk"]

DEGRADATIONS: tuple[str, ...] = ("bicubic", "gaussian-kernel", "degraded")
LR_SOURCES: tuple[str, ...] = ("auto", "selfexsr", "imresize")
_RECIPES: tuple[str, ...] = ("zssr", "div2krk")
_NAMED_DATASETS: tuple[str, ...] = ("Set5", "Set14")
_SELFEXSR_SCALES: tuple[int, ...] = (2, 3, 4)

# Table 3's degradations (paper §4.2 B). The paper's parameters were lost from the
# text we hold except JPEG "quality = 45 (by MATLAB standard)", so these are ours:
# * Gaussian noise σ = 10/255, a moderate level (MATLAB imnoise's default,
#   variance 0.01 i.e. σ = 25.5/255, would swamp ×2 detail);
# * speckle as MATLAB imnoise 'speckle': J = I + n·I, n uniform with mean 0 and
#   this variance (MATLAB's default is 0.04 in older releases' documentation and
#   0.05 in current ones); 0.01 gives σ ≈ 12.75/255 at mid-grey, like the Gaussian;
# * JPEG quality 45 with Pillow (libjpeg, IJG quality scale, 4:2:0 chroma
#   subsampling). MATLAB imwrite also takes an IJG-style quality, but its encoder
#   settings are not documented to match, so files can differ slightly.
GAUSSIAN_NOISE_SIGMA = 10.0 / 255.0
SPECKLE_VARIANCE = 0.01
JPEG_QUALITY = 45
DEGRADED_KINDS: tuple[str, ...] = ("gaussian-noise", "speckle-noise", "jpeg")

#: Published numbers (PSNR, SSIM) keyed by (method name, degradation, data set, scale).
#: Bicubic: SRCNN (Dong et al., TPAMI 2016, Table 2) / VDSR (Kim et al., CVPR 2016,
#: Table 3), reprinted in ZSSR's Table 1. ZSSR: the paper's Table 1 ('ideal', ×2).
#: Only numbers we hold are listed; every other cell of the table stays blank.
PAPER_NUMBERS: dict[tuple[str, str, str, float], tuple[float, float]] = {
    ("bicubic", "bicubic", "Set5", 2.0): (33.66, 0.9299),
    ("bicubic", "bicubic", "Set5", 3.0): (30.39, 0.8682),
    ("bicubic", "bicubic", "Set5", 4.0): (28.42, 0.8104),
    ("bicubic", "bicubic", "Set14", 2.0): (30.24, 0.8688),
    ("bicubic", "bicubic", "Set14", 3.0): (27.55, 0.7742),
    ("bicubic", "bicubic", "Set14", 4.0): (26.00, 0.7027),
    ("zssr", "bicubic", "Set5", 2.0): (37.37, 0.9570),
    ("zssr", "bicubic", "Set14", 2.0): (33.00, 0.9108),
}

_PROTOCOLS: dict[str, str] = {
    "bicubic": "MATLAB bicubic upscale of RGB, Y scored (paper's row: Y-channel upscale; ≤ 0.04 dB apart)",
    "zssr": "ZSSR on RGB, Y scored (as the paper)",
    "zssr+true-kernel": "ZSSR given the true kernel, Y scored",
    "zssr+estimated-kernel": "ZSSR given a kernel estimated from the LR (KernelGAN or cross-scale), Y scored",
}

_TITLES: dict[str, str] = {
    "bicubic": "Table 1: 'ideal' LR (MATLAB bicubic downscaling)",
    "gaussian-kernel": "Table 2: LR made with a random Gaussian kernel per image (paper: BSD100)",
    "degraded": "Table 3: LR with one random degradation per image (paper: BSD100)",
}


# ----------------------------------------------------------------------------- methods


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
    """

    lr: np.ndarray
    scale: float
    kernel: np.ndarray | None
    seed: int
    device: str
    options: Mapping[str, Any]
    image: str


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
    )
    info = {"preset": config.name, "steps": [list(s) for s in steps], "training_seconds": result.seconds}
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
        raise ConfigError("method 'zssr+true-kernel' needs a degradation with a known kernel (gaussian-kernel)")
    return _zssr(request, request.options, "kernel", request.kernel)


def _zssr_estimated_kernel_method(request: MethodInput) -> MethodOutput:
    """ZSSR given a kernel estimated from the LR alone (Table 2's blind row), KernelGAN by default.

    The paper used Michaeli & Irani's estimator [14]; KernelGAN is the authors'
    later replacement. Options: ``estimator=`` (``kernelgan``, default; ``edges``:
    :func:`~zssr.kernel_estimation.estimate_kernel_edges`), ``iterations=`` (KernelGAN, default
    3000), ``restarts=`` (KernelGAN) and ``width_correction=`` (KernelGAN), then
    as ``zssr``.
    An estimate that is not :attr:`~zssr.kernel_estimation.KernelEstimate.reliable` is not used:
    the image gets bicubic-kernel ZSSR with the ``ideal`` preset, as ``zssr upscale
    --kernel auto`` does (recorded as ``kernel_fallback`` in the result's info).
    """
    from .kernel_estimation import RESTARTS, estimate_kernel

    opts = dict(request.options)
    estimator = opts.pop("estimator", "kernelgan")
    iterations = opts.pop("iterations", 3000)
    restarts = opts.pop("restarts", RESTARTS)
    width_correction = opts.pop("width_correction", False)
    if not isinstance(width_correction, bool):
        raise ConfigError(f"option width_correction must be true or false, got {width_correction!r}")
    if estimator == "edges":
        unused = sorted({"iterations", "restarts"} & set(request.options))
        if "width_correction" in request.options:
            unused.append("width_correction")
        if unused:
            raise ConfigError(f"option(s) {', '.join(unused)} do not apply to estimator={estimator}: it does not train")
        from .kernel_estimation import estimate_kernel_edges

        estimate = estimate_kernel_edges(to_tensor(request.lr), request.scale)
    elif estimator == "kernelgan":
        device = resolve_device(request.device)
        estimate = estimate_kernel(
            to_tensor(request.lr), request.scale, iterations=iterations, seed=request.seed, device=device,
            restarts=restarts, width_correction=width_correction,
        )
    else:
        raise ConfigError(f"option estimator must be kernelgan or edges, got {estimator!r}")
    kernel = estimate.kernel.numpy()
    if estimate.reliable:
        out = _zssr(request, opts, "kernel", kernel)
    else:
        opts.pop("preset", None)
        out = _zssr(request, opts, "ideal", None)
    info = {
        **out.info, "kernel_iterations": estimate.iterations, "kernel_seconds": estimate.seconds,
        "kernel_spread": estimate.spread, "kernel_fallback": not estimate.reliable,
        "kernel_seeds": list(estimate.seeds),
    }
    return MethodOutput(sr=out.sr, iterations=out.iterations, kernel=kernel, info=info)


#: The method registry: name → function. Add your own (see the module docstring).
METHODS: dict[str, Method] = {
    "bicubic": _bicubic_method,
    "zssr": _zssr_method,
    "zssr+true-kernel": _zssr_true_kernel_method,
    "zssr+estimated-kernel": _zssr_estimated_kernel_method,
}

_NEEDS_TRUE_KERNEL = ("zssr+true-kernel",)


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

    Raises:
        ConfigError: an empty name, an option without ``=`` or a repeated key.
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
    for part in (p for p in rest.split(",") if p.strip()):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"method option must look like key=value, got {part!r} in {text!r}")
        if key in options:
            raise ConfigError(f"method option {key!r} is given twice in {text!r}")
        options[key] = _parse_value(value)
    return MethodSpec(name, tuple(sorted(options.items())))


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DatasetSource:
    """Where a data set's images are: its HR folder and, for Set5/Set14, the SelfExSR files."""

    name: str
    hr_dir: Path
    selfexsr_dir: Path | None = None


@dataclass(frozen=True)
class Condition:
    """One column of a table: data set, scale, degradation (+ LR source or kernel recipe), data seed."""

    dataset: str
    scale: float
    degradation: str
    variant: str
    data_seed: int

    @property
    def key(self) -> str:
        """The folder name under ``inputs/`` and ``runs/``."""
        return f"{self.dataset}_x{self.scale:g}_{self.degradation}-{self.variant}_seed{self.data_seed}"

    @property
    def column(self) -> str:
        """The table's column header."""
        return f"{self.dataset} ×{self.scale:g}"


@dataclass(frozen=True)
class BenchInput:
    """One prepared image: ground truth, LR input, true kernel (if any) and what was done."""

    name: str
    hr: Path
    lr: Path
    kernel: Path | None
    degradation: Mapping[str, Any]


def _default_data_root() -> Path:
    return Path(os.environ.get("ZSSR_DATA", "../shared/data")).expanduser()


def resolve_dataset(spec: str | Path, data_root: str | Path | None = None) -> DatasetSource:
    """``Set5``/``Set14`` → ``<data_root>/<set>/HR`` (+ ``SelfExSR``); anything else is a folder of HR images.

    A folder named ``HR`` takes its parent's name and picks up a sibling
    ``SelfExSR`` folder, so ``…/Set5/HR`` behaves like ``Set5``.

    Raises:
        ImageReadError: the folder does not exist.
    """
    root = Path(data_root).expanduser() if data_root is not None else _default_data_root()
    text = str(spec)
    canonical = {n.lower(): n for n in _NAMED_DATASETS}
    if text.lower() in canonical and not Path(text).is_dir():
        folder = root / canonical[text.lower()] / "HR"
        if not folder.is_dir():
            raise ImageReadError(
                f"dataset {text!r}: folder {folder} not found (set ZSSR_DATA or --data-root to the folder "
                f"holding {canonical[text.lower()]}/)"
            )
    else:
        folder = Path(text).expanduser()
        if not folder.is_dir():
            raise ImageReadError(f"dataset {text!r} is neither Set5/Set14 nor an existing folder of HR images")
    resolved = folder.resolve()
    name, selfexsr = resolved.name, None
    if resolved.name == "HR":
        name = resolved.parent.name
        candidate = resolved.parent / "SelfExSR"
        selfexsr = candidate if candidate.is_dir() else None
    name = canonical.get(name.lower(), name)
    return DatasetSource(name=name, hr_dir=folder, selfexsr_dir=selfexsr)


def _check_scale(scale: float) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise ScaleError(f"scale must be a number > 1, got {scale!r}")
    s = float(scale)
    if not math.isfinite(s) or s <= 1.0:
        raise ScaleError(f"scale must be a finite number > 1, got {scale!r}")
    return s


def _modulus(scale: float) -> int:
    """The side multiple that makes ``side / scale`` an integer: ``p`` for ``scale = p/q``."""
    frac = Fraction(scale).limit_denominator(64)
    if abs(float(frac) - scale) > 1e-9 * scale:
        raise ScaleError(f"scale must be a ratio p/q with q ≤ 64 so that LR sizes are whole, got {scale!r}")
    return frac.numerator


def modcrop(image: np.ndarray, scale: float) -> np.ndarray:
    """Top-left crop to a side multiple of the scale (MATLAB ``modcrop``; ×1.5 crops to multiples of 3).

    Convention:
        numpy ``H×W(×C)``; returns a view.
    """
    m = _modulus(_check_scale(scale))
    h, w = image.shape[:2]
    if h < m or w < m:
        raise ShapeError(f"image of {h}×{w} is smaller than one block of the scale ({m} px)")
    return image[: h - h % m, : w - w % m]


def _to_8bit(image: np.ndarray) -> np.ndarray:
    """Clip and round half up to 8-bit levels, as ``write_image`` stores them (float32 in [0, 1])."""
    return (np.floor(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5) / 255.0).astype(np.float32)


def _image_seed(data_seed: int, name: str) -> int:
    """A 63-bit seed from (data seed, image name): stable across runs, processes and image order."""
    digest = hashlib.sha256(f"{data_seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _read_names(selfexsr_dir: Path) -> dict[str, str]:
    for csv_path in (selfexsr_dir / "names.csv", selfexsr_dir.parent / "names.csv"):
        if csv_path.is_file():
            with csv_path.open(newline="") as fh:
                return {row["selfexsr_id"]: row["name"] for row in csv.DictReader(fh) if row.get("selfexsr_id")}
    return {}


def _selfexsr_pairs(selfexsr_dir: Path, scale: int) -> list[tuple[str, Path, Path]]:
    folder = selfexsr_dir / f"image_SRF_{scale}"
    names = _read_names(selfexsr_dir)
    pattern = re.compile(rf"^(img_\d+)_SRF_{scale}_LR\.png$")
    pairs = []
    for lr in sorted(folder.iterdir()):
        match = pattern.match(lr.name)
        if match:
            ident = match.group(1)
            hr = folder / f"{ident}_SRF_{scale}_HR.png"
            if hr.is_file():
                pairs.append((names.get(ident, ident), hr, lr))
    return pairs


def _selfexsr_available(source: DatasetSource, scale: float) -> bool:
    return (
        source.selfexsr_dir is not None
        and scale in _SELFEXSR_SCALES
        and (source.selfexsr_dir / f"image_SRF_{int(scale)}").is_dir()
    )


def _variant(source: DatasetSource, scale: float, degradation: str, lr_source: str, recipe: str | None) -> str:
    if degradation == "gaussian-kernel":
        if lr_source == "selfexsr":
            raise ConfigError("lr_source 'selfexsr' holds bicubic LR files; gaussian-kernel makes its own LR")
        return recipe if recipe is not None else ("div2krk" if scale in (2.0, 4.0) else "zssr")
    if lr_source == "auto":
        return "selfexsr" if _selfexsr_available(source, scale) else "imresize"
    if lr_source == "selfexsr" and not _selfexsr_available(source, scale):
        raise ConfigError(
            f"lr_source 'selfexsr' needs {source.name}'s SelfExSR/image_SRF_{scale:g} folder "
            "(Set5/Set14 at ×2, ×3, ×4)"
        )
    return lr_source


def _select(names: list[str], images: Sequence[str] | None, limit: int | None, dataset: str) -> list[str]:
    chosen = names
    if images:
        unknown = [n for n in images if n not in names]
        if unknown:
            raise ConfigError(f"images {unknown} are not in dataset {dataset!r}; it has {names}")
        chosen = [n for n in names if n in set(images)]
    return chosen[:limit] if limit is not None else chosen


def _degrade(lr: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Table 3: one degradation chosen by ``rng``, applied to an 8-bit LR; returns 8-bit values."""
    kind = DEGRADED_KINDS[int(rng.integers(len(DEGRADED_KINDS)))]
    x = lr.astype(np.float64)
    if kind == "gaussian-noise":
        out = x + rng.normal(0.0, GAUSSIAN_NOISE_SIGMA, size=x.shape)
        return _to_8bit(out), {"kind": kind, "sigma": GAUSSIAN_NOISE_SIGMA}
    if kind == "speckle-noise":
        # MATLAB imnoise 'speckle': J = I + sqrt(12 v)·I·(U − 1/2), U ~ U[0, 1).
        out = x + math.sqrt(12.0 * SPECKLE_VARIANCE) * x * (rng.random(size=x.shape) - 0.5)
        return _to_8bit(out), {"kind": kind, "variance": SPECKLE_VARIANCE}
    from PIL import Image

    levels = np.round(x * 255.0).astype(np.uint8)
    picture = Image.fromarray(levels[..., 0] if levels.shape[2] == 1 else levels)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert(picture.mode), dtype=np.float32) / 255.0
    decoded = decoded.reshape(lr.shape)
    return decoded, {"kind": kind, "quality": JPEG_QUALITY, "encoder": "Pillow"}


def _write_json(path: Path, payload: Any) -> None:
    _write_text(path, json.dumps(payload, indent=1, sort_keys=False) + "\n")


def _write_text(path: Path, text: str) -> None:
    """Atomic text write: temp file in the same folder, then ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_input(sidecar: Path) -> BenchInput | None:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        folder = sidecar.parent
        item = BenchInput(
            name=data["name"], hr=folder / data["hr"], lr=folder / data["lr"],
            kernel=folder / data["kernel"] if data.get("kernel") else None, degradation=data["degradation"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    files = [item.hr, item.lr] + ([item.kernel] if item.kernel is not None else [])
    return item if all(f.is_file() for f in files) else None


def _relative(path: Path, folder: Path) -> str:
    """A path as stored in a sidecar: relative to ``folder`` (the out dir can move), or absolute if outside it."""
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path.resolve())


def prepare_inputs(
    source: DatasetSource,
    *,
    scale: float,
    degradation: Degradation,
    cache_root: str | Path,
    lr_source: LRSource = "auto",
    kernel_recipe: KernelRecipeName | None = None,
    data_seed: int = 0,
    images: Sequence[str] | None = None,
    limit: int | None = None,
) -> tuple[Condition, list[BenchInput]]:
    """Make (or reuse) the HR/LR pairs of one table column under ``cache_root/<condition key>/``.

    * ``bicubic``: the SelfExSR LR files where available (``lr_source='auto'`` at ×2/3/4 on
      Set5/Set14: the paper's exact inputs), else ``imresize(HR8, 1/s, quantize=True)``
      (MATLAB on uint8). The SelfExSR files equal the latter except their outer one-pixel
      frame, which MATLAB made with edge-clamped boundaries.
    * ``gaussian-kernel``: ``random_gaussian_kernel(s, recipe)`` seeded by (data seed, name);
      LR = ``downscale(HR8, align_kernel(k, s), s)`` rounded to 8 bits; ``k`` is saved.
    * ``degraded``: the bicubic LR above, then one of :data:`DEGRADED_KINDS` chosen by a
      generator seeded by (data seed, name).

    HR images are modcropped (:func:`modcrop`) and rounded to 8 bits.

    Raises:
        ConfigError: an unknown degradation/LR source/recipe or image name.
        ScaleError: a bad scale or one the kernel recipe does not support.
    """
    s = _check_scale(scale)
    if degradation not in DEGRADATIONS:
        raise ConfigError(f"degradation must be one of {DEGRADATIONS}, got {degradation!r}")
    if lr_source not in LR_SOURCES:
        raise ConfigError(f"lr_source must be one of {LR_SOURCES}, got {lr_source!r}")
    if kernel_recipe is not None and kernel_recipe not in _RECIPES:
        raise ConfigError(f"kernel_recipe must be one of {_RECIPES} or None, got {kernel_recipe!r}")
    variant = _variant(source, s, degradation, lr_source, kernel_recipe)
    condition = Condition(source.name, s, degradation, variant, int(data_seed))
    folder = Path(cache_root) / condition.key
    folder.mkdir(parents=True, exist_ok=True)

    # STEP 1 - the images: SelfExSR pairs (already modcropped) or the HR folder.
    if variant == "selfexsr":
        if source.selfexsr_dir is None:  # pragma: no cover - _variant checked it
            raise ConfigError(f"dataset {source.name!r} has no SelfExSR folder")
        pairs = {name: (hr, lr) for name, hr, lr in _selfexsr_pairs(source.selfexsr_dir, int(s))}
        hr_files: dict[str, Path] = {}
    else:
        pairs = {}
        hr_files = {}
        for path in collect_inputs([source.hr_dir]):
            if path.stem in hr_files:
                raise ConfigError(
                    f"dataset {source.name!r} has two images named {path.stem!r}: "
                    f"{hr_files[path.stem].name} and {path.name}"
                )
            hr_files[path.stem] = path
    names = _select(list(pairs) if variant == "selfexsr" else list(hr_files), images, limit, source.name)

    # STEP 2 - each image: reuse its sidecar, or generate and write the sidecar last.
    prepared = []
    for name in names:
        sidecar = folder / f"{name}.json"
        cached = _load_input(sidecar)
        if cached is not None:
            prepared.append(cached)
            continue
        rng_seed = _image_seed(condition.data_seed, name)
        kernel_path: Path | None = None
        info: dict[str, Any] = {"type": degradation, "variant": variant}
        if variant == "selfexsr":
            hr_path, lr_path = pairs[name]
            lr = read_image(lr_path).color
        else:
            hr8 = _to_8bit(modcrop(read_image(hr_files[name]).color, s))
            hr_path = write_image(folder / f"{name}_hr.png", hr8)
            lr_path = folder / f"{name}_lr.png"
            if degradation == "gaussian-kernel":
                recipe: KernelRecipeName = "div2krk" if variant == "div2krk" else "zssr"
                kernel = validate_kernel(random_gaussian_kernel(s, generator=rng_seed, recipe=recipe))
                kernel_path = folder / f"{name}_kernel.mat"
                save_kernel(kernel, kernel_path)
                save_kernel(kernel, folder / f"{name}_kernel.png")
                low = downscale(to_tensor(hr8).double(), align_kernel(kernel, s), s)
                lr = _to_8bit(to_array(low))
                info.update(recipe=variant, kernel_seed=rng_seed)
            else:
                lr = to_array(imresize(to_tensor(hr8), 1.0 / s, quantize=True))
        if degradation == "degraded":
            lr, details = _degrade(lr, np.random.default_rng(rng_seed))
            info.update(details)
            lr_path = folder / f"{name}_lr.png"
        if lr_path.parent == folder:
            write_image(lr_path, lr)
        _write_json(sidecar, {
            "name": name, "hr": _relative(hr_path, folder), "lr": _relative(lr_path, folder),
            "kernel": _relative(kernel_path, folder) if kernel_path is not None else None, "degradation": info,
        })
        loaded = _load_input(sidecar)
        if loaded is None:  # pragma: no cover - we just wrote every file it names
            raise ImageWriteError(f"input cache {sidecar} could not be read back")
        prepared.append(loaded)
    return condition, prepared


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class _Where:
    """The column (condition) and row (method) of a result in the tables."""

    dataset: str
    scale: float
    degradation: str
    variant: str
    data_seed: int
    method: str


@dataclass(frozen=True)
class Record(_Where):
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


@dataclass(frozen=True)
class _Task:
    condition: Condition
    spec: MethodSpec
    fn: Method
    item: BenchInput
    seed: int
    device: str
    out: Path

    @property
    def stem(self) -> Path:
        return self.out / "runs" / self.condition.key / self.spec.slug / f"{self.item.name}_seed{self.seed}"


def _record_fields(data: Mapping[str, Any], resumed: bool) -> Record:
    return Record(
        dataset=data["dataset"], scale=float(data["scale"]), degradation=data["degradation"], variant=data["variant"],
        data_seed=int(data["data_seed"]), method=data["method"], image=data["image"], seed=int(data["seed"]),
        psnr=float(data["psnr"]), ssim=float(data["ssim"]), seconds=float(data["seconds"]),
        iterations=None if data.get("iterations") is None else int(data["iterations"]), device=data["device"],
        sr=data["sr"], resumed=resumed,
    )


def _load_record(task: _Task) -> Record | None:
    path = task.stem.with_suffix(".json")
    if not path.is_file() or not task.stem.with_suffix(".png").is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("method") != task.spec.label or data.get("condition") != task.condition.key:
            return None
        return _record_fields(data, resumed=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


def _execute(task: _Task) -> Record:
    """Run one method on one image, score it, write its PNG (and kernel) then its JSON."""
    item = task.item
    hr = read_image(item.hr).color
    lr = read_image(item.lr).color
    kernel = load_kernel(item.kernel).numpy() if item.kernel is not None else None
    request = MethodInput(
        lr=lr, scale=task.condition.scale, kernel=kernel, seed=task.seed, device=task.device,
        options=dict(task.spec.options), image=item.name,
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
    sr8 = _to_8bit(sr)
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
        "input": dict(item.degradation), "info": dict(output.info),
    }
    _write_json(stem.with_suffix(".json"), payload)
    return _record_fields(payload, resumed=False)


def _run_tasks(tasks: list[_Task], jobs: int, progress: bool) -> list[Record]:
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
        if jobs == 1:
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


# ----------------------------------------------------------------------------- summary and outputs


@dataclass(frozen=True)
class SummaryRow(_Where):
    """One table cell: a method on a condition, averaged over images, then over seeds."""

    images: int
    seeds: int
    psnr: float
    ssim: float
    psnr_std: float
    ssim_std: float
    seconds: float
    iterations: float | None
    paper_psnr: float | None
    paper_ssim: float | None


@dataclass(frozen=True)
class BenchResult:
    """What :func:`run_benchmark` did: every record, the summary and the files written."""

    records: tuple[Record, ...]
    summary: tuple[SummaryRow, ...]
    out: Path
    table: Path
    csv: Path
    json: Path
    figures: tuple[Path, ...]
    ran: int
    resumed: int


def _condition_of(record: Record) -> Condition:
    return Condition(record.dataset, record.scale, record.degradation, record.variant, record.data_seed)


def _summarize(
    records: Sequence[Record], conditions: Sequence[Condition], specs: Sequence[MethodSpec]
) -> list[SummaryRow]:
    rows = []
    for condition in conditions:
        for spec in specs:
            mine = [r for r in records if r.method == spec.label and _condition_of(r) == condition]
            if not mine:
                continue
            seeds = sorted({r.seed for r in mine})
            # Mean over images for each seed, then mean and spread of those over seeds.
            per_seed = np.array([
                [np.mean([r.psnr for r in mine if r.seed == k]), np.mean([r.ssim for r in mine if r.seed == k])]
                for k in seeds
            ])
            iterations = [r.iterations for r in mine if r.iterations is not None]
            paper = PAPER_NUMBERS.get((spec.name, condition.degradation, condition.dataset, condition.scale))
            rows.append(SummaryRow(
                dataset=condition.dataset, scale=condition.scale, degradation=condition.degradation,
                variant=condition.variant, data_seed=condition.data_seed, method=spec.label,
                images=len({r.image for r in mine}), seeds=len(seeds),
                psnr=float(per_seed[:, 0].mean()), ssim=float(per_seed[:, 1].mean()),
                psnr_std=float(per_seed[:, 0].std()), ssim_std=float(per_seed[:, 1].std()),
                seconds=float(np.mean([r.seconds for r in mine])),
                iterations=float(np.mean(iterations)) if iterations else None,
                paper_psnr=paper[0] if paper else None, paper_ssim=paper[1] if paper else None,
            ))
    return rows


_CSV_FIELDS = (
    "dataset", "scale", "degradation", "variant", "data_seed", "method", "image", "seed", "psnr", "ssim",
    "seconds", "iterations", "device", "sr",
)


def _write_csv(path: Path, records: Sequence[Record]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = {k: getattr(r, k) for k in _CSV_FIELDS}
        row["iterations"] = "" if r.iterations is None else r.iterations
        row["psnr"], row["ssim"] = repr(r.psnr), repr(r.ssim)
        writer.writerow(row)
    _write_text(path, buffer.getvalue())


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def _cell(row: SummaryRow | None) -> str:
    if row is None:
        return ""
    text = f"{row.psnr:.2f}/{row.ssim:.4f}"
    if row.seeds > 1:
        text += f" (±{row.psnr_std:.2f}/±{row.ssim_std:.4f}, {row.seeds} seeds)"
    if row.paper_psnr is not None and row.paper_ssim is not None:
        text += (
            f" · paper {row.paper_psnr:.2f}/{row.paper_ssim:.4f}"
            f" · Δ {_signed(row.psnr - row.paper_psnr, 2)}/{_signed(row.ssim - row.paper_ssim, 4)}"
        )
    return text


def _lr_note(condition: Condition) -> str:
    if condition.degradation == "gaussian-kernel":
        return f"random Gaussian kernel ('{condition.variant}' recipe, data seed {condition.data_seed}), 8-bit LR"
    base = (
        "SelfExSR LR files (the paper's exact inputs)" if condition.variant == "selfexsr"
        else "MATLAB imresize(HR uint8, 1/s), symmetric boundary"
    )
    if condition.degradation == "degraded":
        return (
            f"{base}, then per image one of Gaussian noise σ={GAUSSIAN_NOISE_SIGMA * 255:g}/255, speckle "
            f"variance {SPECKLE_VARIANCE:g}, JPEG quality {JPEG_QUALITY} (data seed {condition.data_seed})"
        )
    return base


def _table_markdown(summary: Sequence[SummaryRow], conditions: Sequence[Condition], specs: Sequence[MethodSpec]) -> str:
    index = {(r.dataset, r.scale, r.degradation, r.variant, r.data_seed, r.method): r for r in summary}
    lines = [
        "# ZSSR benchmark",
        "",
        "PSNR (dB) / SSIM on Y of MATLAB `rgb2ycbcr`, `scale` pixels shaved, SR rounded to 8 bits",
        "(the VDSR/SRCNN MATLAB protocol behind the paper's tables; `zssr.metrics.evaluate`).",
        "Each cell: mean over images (± standard deviation over seeds when several) · the paper's number ·",
        "Δ = ours − paper, where we hold the paper's number (others are left blank).",
    ]
    for degradation in DEGRADATIONS:
        columns = [c for c in conditions if c.degradation == degradation]
        if not columns:
            continue
        lines += ["", f"## {_TITLES[degradation]}", ""]
        for c in columns:
            lines.append(f"- {c.column}: {_lr_note(c)}")
        lines += [
            "",
            "| method | protocol | " + " | ".join(c.column for c in columns) + " |",
            "|---|---|" + "---|" * len(columns),
        ]
        for spec in specs:
            cells = [
                _cell(index.get((c.dataset, c.scale, c.degradation, c.variant, c.data_seed, spec.label)))
                for c in columns
            ]
            protocol = _PROTOCOLS.get(spec.name, "custom method, Y scored")
            lines.append(f"| `{spec.label}` | {protocol} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _wrap(label: str, width: int = 30) -> str:
    """A method label over a few lines (breaking after commas) for a figure title."""
    return "\n".join(textwrap.wrap(label.replace(",", ", "), width)).replace(", ", ",")


def _figure(
    path: Path, condition: Condition, items: Sequence[BenchInput], specs: Sequence[MethodSpec],
    records: Sequence[Record], out: Path, max_images: int = 3, crop: int = 128,
) -> None:
    """HR | each method, a centre crop of the first few images (seed 0), with each crop's PSNR."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    first_seed = min(r.seed for r in records)
    by_key = {(r.method, r.image): r for r in records if r.seed == first_seed}
    shown = list(items[:max_images])
    cols = 1 + len(specs)
    fig = Figure(figsize=(2.2 * cols, 2.7 * len(shown)), dpi=100)
    FigureCanvasAgg(fig)
    for row, item in enumerate(shown):
        hr = read_image(item.hr).color
        h, w = hr.shape[:2]
        c = min(crop, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        panels = [("HR", hr)]
        for spec in specs:
            record = by_key.get((spec.label, item.name))
            if record is not None:
                panels.append((f"{_wrap(spec.label)}\n{record.psnr:.2f} dB", read_image(out / record.sr).color))
            else:
                panels.append((_wrap(spec.label), None))
        for col, (title, image) in enumerate(panels):
            ax = fig.add_subplot(len(shown), cols, row * cols + col + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if image is not None:
                patch = image[top : top + c, left : left + c]
                if patch.shape[2] == 1:
                    ax.imshow(patch[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                else:
                    ax.imshow(patch, interpolation="nearest")
            ax.set_title(title, fontsize=7)
            if col == 0:
                ax.set_ylabel(item.name, fontsize=8)
    fig.suptitle(f"{condition.column}, {condition.degradation} ({condition.variant})", fontsize=9)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_count(value: int | None, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def run_benchmark(
    datasets: Sequence[str | Path],
    *,
    out: str | Path,
    scales: Sequence[float] = (2.0,),
    degradations: Sequence[Degradation] = ("bicubic",),
    methods: Sequence[str | MethodSpec] = ("bicubic", "zssr"),
    lr_source: LRSource = "auto",
    kernel_recipe: KernelRecipeName | None = None,
    data_seed: int = 0,
    seeds: int = 1,
    limit: int | None = None,
    images: Sequence[str] | None = None,
    jobs: int = 1,
    device: str = "auto",
    data_root: str | Path | None = None,
    registry: Mapping[str, Method] | None = None,
    progress: bool = False,
) -> BenchResult:
    """Run every method on every image of every (data set, scale, degradation); write the tables.

    Args:
        datasets: ``Set5``, ``Set14`` (under ``data_root``) or folders of HR images.
        out: output folder (inputs cache, per-image results, tables, figures).
        scales: SR factors; integer or a ratio such as 1.5.
        degradations: ``bicubic`` (Table 1), ``gaussian-kernel`` (Table 2), ``degraded`` (Table 3).
        methods: ``NAME[:key=value,...]`` specs, names from ``registry``.
        lr_source: for bicubic/degraded LR: ``auto`` (SelfExSR files where available),
            ``selfexsr`` or ``imresize``.
        kernel_recipe: ``zssr`` or ``div2krk`` (default: div2krk at ×2/×4, else zssr).
        data_seed: seeds the random kernels and degradations (per image, with its name).
        seeds: run seeds ``0 … seeds−1`` of each method; the table reports their mean and spread.
        limit: the first ``limit`` images of each data set.
        images: only these image names.
        jobs: parallel worker processes (spawned; each gets ``cpu_count // jobs`` torch threads).
        device: for the methods (``auto``, ``cpu``, ``cuda``, ``mps``).
        data_root: the folder holding ``Set5/`` and ``Set14/`` (default ``$ZSSR_DATA`` or ``../shared/data``).
        registry: name → method; default :data:`METHODS`.
        progress: a tqdm bar over images on stderr.

    Returns:
        A :class:`BenchResult`. Finished results found under ``out/runs`` are reused, not rerun.

    Raises:
        ConfigError: bad options, unknown methods, images or degradations.
        ScaleError: a bad scale.
        ImageReadError: a data set that cannot be found.
    """
    if isinstance(datasets, (str, Path)) or not datasets:
        raise ConfigError(f"datasets must be a non-empty list of names or folders, got {datasets!r}")
    scale_list = [_check_scale(s) for s in scales]
    if not scale_list:
        raise ScaleError("scales must name at least one scale")
    degradation_list = list(dict.fromkeys(degradations))
    for d in degradation_list:
        if d not in DEGRADATIONS:
            raise ConfigError(f"degradation must be one of {DEGRADATIONS}, got {d!r}")
    if not degradation_list:
        raise ConfigError("degradations must name at least one degradation")
    table = dict(METHODS if registry is None else registry)
    specs = [parse_method(m) for m in methods]
    if not specs:
        raise ConfigError("methods must name at least one method")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"methods must not repeat, got {labels}")
    for spec in specs:
        if spec.name not in table:
            raise ConfigError(f"method {spec.name!r} is not registered; known: {sorted(table)}")
        if spec.name in _NEEDS_TRUE_KERNEL and any(d != "gaussian-kernel" for d in degradation_list):
            raise ConfigError(
                f"method {spec.name!r} needs the true kernel: use it with degradation 'gaussian-kernel' only"
            )
    _check_count(seeds, "seeds")
    _check_count(jobs, "jobs")
    _check_count(limit, "limit", allow_none=True)
    if isinstance(data_seed, bool) or not isinstance(data_seed, int) or data_seed < 0:
        raise ConfigError(f"data_seed must be an integer >= 0, got {data_seed!r}")
    resolve_device(device)  # fail now, not in a worker

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [resolve_dataset(d, data_root) for d in datasets]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"datasets must have distinct names, got {names}")

    # STEP 1 - inputs, per column (data set × scale × degradation).
    conditions: list[Condition] = []
    inputs: dict[str, list[BenchInput]] = {}
    for source in sources:
        for s in scale_list:
            for d in degradation_list:
                condition, items = prepare_inputs(
                    source, scale=s, degradation=d, cache_root=out_dir / "inputs", lr_source=lr_source,
                    kernel_recipe=kernel_recipe, data_seed=data_seed, images=images, limit=limit,
                )
                conditions.append(condition)
                inputs[condition.key] = items

    # STEP 2 - one task per (column, method, image, seed); finished ones are loaded.
    tasks = [
        _Task(c, spec, table[spec.name], item, seed, device, out_dir)
        for c in conditions for spec in specs for item in inputs[c.key] for seed in range(seeds)
    ]
    records = _run_tasks(tasks, jobs, progress)

    # STEP 3 - summary, tables, figures.
    summary = _summarize(records, conditions, specs)
    csv_path, json_path, table_path = out_dir / "results.csv", out_dir / "results.json", out_dir / "table.md"
    _write_csv(csv_path, records)
    settings = {
        "datasets": names, "scales": scale_list, "degradations": degradation_list, "methods": labels,
        "lr_source": lr_source, "kernel_recipe": kernel_recipe, "data_seed": data_seed, "seeds": seeds,
        "limit": limit, "images": list(images) if images else None, "device": device,
        "degraded": {
            "gaussian_sigma": GAUSSIAN_NOISE_SIGMA, "speckle_variance": SPECKLE_VARIANCE, "jpeg_quality": JPEG_QUALITY,
        },
    }
    _write_json(json_path, {
        "settings": settings, "records": [asdict(r) for r in records], "summary": [asdict(r) for r in summary],
    })
    _write_text(table_path, _table_markdown(summary, conditions, specs))
    figures = []
    for source in sources:
        mine = [c for c in conditions if c.dataset == source.name]
        for c in mine:
            suffix = "" if len(mine) == 1 else f"_x{c.scale:g}_{c.degradation}"
            path = out_dir / f"figure_{source.name}{suffix}.png"
            cond_records = [r for r in records if _condition_of(r) == c]
            if cond_records:
                _figure(path, c, inputs[c.key], specs, cond_records, out_dir)
                figures.append(path)
    resumed = sum(r.resumed for r in records)
    return BenchResult(
        records=tuple(records), summary=tuple(summary), out=out_dir, table=table_path, csv=csv_path,
        json=json_path, figures=tuple(figures), ran=len(records) - resumed, resumed=resumed,
    )


# ----------------------------------------------------------------------------- command line


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zssr bench`` options (the CLI registers the subcommand and calls :func:`run_bench`)."""
    parser.add_argument("--dataset", action="append", metavar="NAME_OR_FOLDER", required=True,
                        help="Set5, Set14 (under --data-root) or a folder of HR images; repeatable")
    parser.add_argument("--scale", action="append", type=float, metavar="S",
                        help="SR factor, e.g. 2, 3, 4 or 1.5; repeatable (default 2)")
    parser.add_argument("--degradation", action="append", choices=DEGRADATIONS,
                        help="bicubic (Table 1), gaussian-kernel (Table 2), degraded (Table 3); "
                             "repeatable (default bicubic)")
    parser.add_argument("--method", action="append", metavar="NAME[:key=value,...]",
                        help=f"one of {', '.join(METHODS)} with options, e.g. zssr:preset=fast,max_iterations=300; "
                             "repeatable (default: bicubic and zssr)")
    parser.add_argument("--out", default="zssr-bench", metavar="DIR",
                        help="output folder: inputs cache, per-image results, results.csv/json, table.md, figures "
                             "(default zssr-bench); rerunning resumes")
    parser.add_argument("--lr-source", choices=LR_SOURCES, default="auto",
                        help="bicubic LR: auto (SelfExSR files for Set5/Set14 at ×2/3/4, the paper's inputs), "
                             "selfexsr, or imresize (MATLAB imresize of the 8-bit HR)")
    parser.add_argument("--kernel-recipe", choices=_RECIPES, default=None,
                        help="random kernels for gaussian-kernel (default div2krk at ×2/×4, zssr otherwise)")
    parser.add_argument("--data-seed", type=int, default=0, metavar="K", help="seed of the random kernels/degradations")
    parser.add_argument("--seeds", type=int, default=1, metavar="K",
                        help="run seeds 0..K-1 per image; the table shows mean and spread (default 1)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images of each data set")
    parser.add_argument("--images", default=None, metavar="A,B", help="only these images (comma-separated names)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="images in parallel processes (default 1)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help="folder holding Set5/ and Set14/ (default $ZSSR_DATA or ../shared/data)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no table on stdout")


def run_bench(args: argparse.Namespace) -> int:
    """``zssr bench``: run :func:`run_benchmark` from parsed arguments; print the table unless ``--quiet``.

    ``ZSSRError`` and ``OSError`` propagate to the CLI, which prints them as one line (exit 2).
    """
    images = [n.strip() for n in args.images.split(",") if n.strip()] if args.images else None
    result = run_benchmark(
        args.dataset,
        out=args.out,
        scales=args.scale or [2.0],
        degradations=args.degradation or ["bicubic"],
        methods=args.method or ["bicubic", "zssr"],
        lr_source=args.lr_source,
        kernel_recipe=args.kernel_recipe,
        data_seed=args.data_seed,
        seeds=args.seeds,
        limit=args.limit,
        images=images,
        jobs=args.jobs,
        device=args.device,
        data_root=args.data_root,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(result.table.read_text(encoding="utf-8"), end="")
        print(f"\n{result.ran} run, {result.resumed} reused; results in {result.out}")
    return 0
