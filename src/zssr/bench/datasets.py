"""Data sets and the cached inputs of each table column (HR, LR, true kernel), made once per condition."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from .._atomic import write_bytes, write_json
from .._modcrop import check_sr_scale, modcrop, modcrop_block
from ..errors import ConfigError, ImageReadError, ImageWriteError, ShapeError
from ..io import collect_inputs, read_image, to_array, to_tensor, write_image
from ..kernels import (
    align_kernel,
    downscale,
    random_gaussian_kernel,
    save_kernel,
    validate_kernel,
)
from ..limits import MIN_INPUT_SIDE
from ..resize import imresize
from .degradations import FORCED_KINDS, JPEG_DEGRADATIONS, JPEG_QUALITY, degrade, jpeg_file, to_8bit

__all__ = [
    "DEGRADATIONS",
    "GIVEN_PLUS",
    "KERNEL_RECIPES",
    "LR_SOURCES",
    "BenchInput",
    "Condition",
    "DatasetSource",
    "Degradation",
    "KernelRecipeName",
    "LRSource",
    "check_jpeg_quality",
    "forced_kind",
    "is_given",
    "prepare_inputs",
    "resolve_dataset",
]

Degradation = Literal[
    "bicubic", "gaussian-kernel", "degraded", "given", "gaussian-noise", "speckle-noise", "jpeg-file", "jpeg-png",
    "given+gaussian-noise", "given+speckle-noise", "given+jpeg-file", "given+jpeg-png",
]
LRSource = Literal["auto", "selfexsr", "imresize"]
KernelRecipeName = Literal["zssr", "div2krk"]

#: A data set's own LR files (blurred by their true kernels) with one Table 3 kind on top: blur and
#: noise or compression together, in the order a camera applies them (issue #28 item 4).
GIVEN_PLUS: tuple[str, ...] = tuple(f"given+{kind}" for kind in FORCED_KINDS)
DEGRADATIONS: tuple[str, ...] = ("bicubic", "gaussian-kernel", "degraded", "given", *FORCED_KINDS, *GIVEN_PLUS)
LR_SOURCES: tuple[str, ...] = ("auto", "selfexsr", "imresize")
KERNEL_RECIPES: tuple[str, ...] = ("zssr", "div2krk")
_NAMED_DATASETS: tuple[str, ...] = ("Set5", "Set14", "DIV2KRK_dev")
#: The layout of a data set of given pairs (KernelGAN's DIV2KRK): ``gt/im_N.png`` (HR, where there is
#: one), ``lr_x{s}/im_N.png`` and ``gt_k_x{s}/kernel_N.mat`` (the true kernel, variable ``Kernel``).
_GIVEN_HR, _GIVEN_LR, _GIVEN_KERNEL = "gt", "lr_x{s}", "gt_k_x{s}"
_SELFEXSR_SCALES: tuple[int, ...] = (2, 3, 4)


@dataclass(frozen=True)
class DatasetSource:
    """Where a data set's images are: its HR folder and, for Set5/Set14, the SelfExSR files."""

    name: str
    hr_dir: Path
    selfexsr_dir: Path | None = None
    pairs_dir: Path | None = None  # a data set of given LR/HR pairs with true kernels (DIV2KRK layout)


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
        """The table's column header (with the JPEG quality where it is not the paper's)."""
        quality = self.jpeg_quality
        return f"{self.dataset} ×{self.scale:g}" + ("" if quality == JPEG_QUALITY else f", JPEG q{quality}")

    @property
    def lr_variant(self) -> str:
        """The variant without its JPEG-quality suffix: ``selfexsr``, ``imresize``, a kernel recipe, ``pairs``."""
        return self.variant.rsplit(_QUALITY_TAG, 1)[0] if self.jpeg_quality != JPEG_QUALITY else self.variant

    @property
    def jpeg_quality(self) -> int:
        """The JPEG kinds' quality: the paper's 45 unless the variant names another (``selfexsr-q30``)."""
        head, tag, tail = self.variant.rpartition(_QUALITY_TAG)
        return int(tail) if tag and head and tail.isdigit() else JPEG_QUALITY


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
    ``SelfExSR`` folder, so ``…/Set5/HR`` behaves like ``Set5``. A folder in the DIV2KRK layout
    (``gt/``, ``lr_x2/``… and ``gt_k_x2/``…; ``DIV2KRK_dev`` under ``data_root``) is a data set of
    given pairs: its LR files and true kernels are used as they are (degradation ``given``).

    Raises:
        ImageReadError: the folder does not exist.
    """
    root = Path(data_root).expanduser() if data_root is not None else _default_data_root()
    text = str(spec)
    canonical = {n.lower(): n for n in _NAMED_DATASETS}
    if text.lower() in canonical and not Path(text).is_dir():
        folder = root / canonical[text.lower()]
        if not _is_pairs_folder(folder):
            folder = folder / "HR"
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
    if _is_pairs_folder(resolved):
        return DatasetSource(name=canonical.get(resolved.name.lower(), resolved.name), hr_dir=resolved / _GIVEN_HR,
                             pairs_dir=resolved)
    name, selfexsr = resolved.name, None
    if resolved.name == "HR":
        name = resolved.parent.name
        candidate = resolved.parent / "SelfExSR"
        selfexsr = candidate if candidate.is_dir() else None
    name = canonical.get(name.lower(), name)
    return DatasetSource(name=name, hr_dir=folder, selfexsr_dir=selfexsr)


def _is_pairs_folder(folder: Path) -> bool:
    """Whether ``folder`` holds given pairs in the DIV2KRK layout (an HR folder and at least one LR folder)."""
    return (folder / _GIVEN_HR).is_dir() and any(p.is_dir() for p in folder.glob(_GIVEN_LR.format(s="*")))


def _given_pairs(pairs_dir: Path, scale: float) -> list[tuple[str, Path, Path, Path | None]]:
    """(name, HR, LR, true kernel or None) of every LR file at ``scale`` that has its HR, in id order."""
    if scale != int(scale):
        raise ConfigError(f"a data set of given pairs has integer factors only (lr_x2/, lr_x4/…), got ×{scale:g}")
    s = int(scale)
    lr_dir = pairs_dir / _GIVEN_LR.format(s=s)
    if not lr_dir.is_dir():
        available = sorted(p.name for p in pairs_dir.glob(_GIVEN_LR.format(s="*")))
        raise ConfigError(f"data set {pairs_dir.name!r} has no ×{s} LR folder {lr_dir.name}/ (it has {available})")
    found = []
    for lr in lr_dir.iterdir():
        hr = pairs_dir / _GIVEN_HR / lr.name
        if lr.suffix.lower() == ".png" and hr.is_file():
            match = re.fullmatch(r"im_(\d+)", lr.stem)
            kernel = pairs_dir / _GIVEN_KERNEL.format(s=s) / f"kernel_{match.group(1)}.mat" if match else None
            found.append((lr.stem, hr, lr, kernel if kernel is not None and kernel.is_file() else None))
    def order(item: tuple[str, Path, Path, Path | None]) -> tuple[int, int, str]:
        """Numeric id order (im_2 before im_10), other names after them by text."""
        digits = item[0][3:]
        return (0, int(digits), "") if item[0].startswith("im_") and digits.isdigit() else (1, 0, item[0])

    return sorted(found, key=order)


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


#: Between an LR variant and a JPEG quality other than the paper's in a column's variant (``selfexsr-q30``).
_QUALITY_TAG = "-q"


def check_jpeg_quality(quality: object) -> int:
    """``quality`` as an IJG JPEG quality, an integer 1–100 (Pillow's range), or a ConfigError naming it."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= int(quality) <= 100:
        raise ConfigError(f"jpeg_quality must be an integer from 1 to 100, got {quality!r}")
    return int(quality)


def is_given(degradation: str) -> bool:
    """Whether ``degradation`` reads a data set's own LR files (``given``, or ``given+KIND``)."""
    return degradation == "given" or degradation in GIVEN_PLUS


def forced_kind(degradation: str) -> str | None:
    """The Table 3 kind a degradation puts on every image (``jpeg-png``, ``given+jpeg-png`` …), else None."""
    kind = degradation.removeprefix("given+")
    return kind if kind in FORCED_KINDS else None


def _variant(source: DatasetSource, scale: float, degradation: str, lr_source: str, recipe: str | None) -> str:
    if is_given(degradation) != (source.pairs_dir is not None):
        if is_given(degradation):
            raise ConfigError(f"degradation {degradation!r} needs a data set of given LR/HR pairs (DIV2KRK layout: "
                              f"gt/, lr_x2/, gt_k_x2/); {source.name!r} is a folder of HR images")
        raise ConfigError(f"data set {source.name!r} holds given LR/HR pairs: use degradation 'given' or 'given+KIND'")
    if is_given(degradation):
        return "pairs"
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
    jpeg_quality: int = JPEG_QUALITY,
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
    * ``gaussian-noise``, ``speckle-noise``, ``jpeg-file``, ``jpeg-png``: that one kind on every
      image (:data:`FORCED_KINDS`); ``jpeg-file`` keeps the LR as the encoder's ``.jpg``.
    * ``given+KIND``: a data set's own LR files (``given``) with that kind on top (:data:`GIVEN_PLUS`).
      ``jpeg_quality`` (1–100, the paper's 45 by default) sets the JPEG kinds' quality; another
      than 45 is a column of its own (its variant gets ``-q<quality>``).

    HR images are modcropped (:func:`modcrop`) and rounded to 8 bits.

    Raises:
        ConfigError: an unknown degradation/LR source/recipe or image name.
        ScaleError: a bad scale or one the kernel recipe does not support.
    """
    s = check_sr_scale(scale)
    if degradation not in DEGRADATIONS:
        raise ConfigError(f"degradation must be one of {DEGRADATIONS}, got {degradation!r}")
    if lr_source not in LR_SOURCES:
        raise ConfigError(f"lr_source must be one of {LR_SOURCES}, got {lr_source!r}")
    if kernel_recipe is not None and kernel_recipe not in KERNEL_RECIPES:
        raise ConfigError(f"kernel_recipe must be one of {KERNEL_RECIPES} or None, got {kernel_recipe!r}")
    quality = check_jpeg_quality(jpeg_quality)
    variant = _variant(source, s, degradation, lr_source, kernel_recipe)
    tagged = variant + (f"{_QUALITY_TAG}{quality}" if degradation in JPEG_DEGRADATIONS and quality != JPEG_QUALITY else "")
    condition = Condition(source.name, s, degradation, tagged, int(data_seed))
    folder = Path(cache_root) / condition.key
    folder.mkdir(parents=True, exist_ok=True)

    # STEP 1 - the images: given pairs, SelfExSR pairs (already modcropped) or the HR folder.
    given: dict[str, tuple[Path, Path, Path | None]] = {}
    if variant == "pairs":
        if source.pairs_dir is None:  # pragma: no cover - _variant checked it
            raise ConfigError(f"dataset {source.name!r} has no given pairs")
        given = {name: (hr, lr, k) for name, hr, lr, k in _given_pairs(source.pairs_dir, s)}
        pairs: dict[str, tuple[Path, Path]] = {}
        hr_files: dict[str, Path] = {}
    elif variant == "selfexsr":
        if source.selfexsr_dir is None:  # pragma: no cover - _variant checked it
            raise ConfigError(f"dataset {source.name!r} has no SelfExSR folder")
        pairs = {name: (hr, lr) for name, hr, lr in _selfexsr_pairs(source.selfexsr_dir, int(s))}
        hr_files = {}
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
    names = _select(list(given) if variant == "pairs" else list(pairs) if variant == "selfexsr" else list(hr_files),
                    images, limit, source.name)

    # STEP 2 - every image large enough to be scored, checked before anything is written.
    if variant == "pairs":
        for name in names:
            hr_path, lr_path, _ = given[name]
            (h, w), (lh, lw) = _header_size(hr_path), _header_size(lr_path)
            if (h, w) != (round(lh * s), round(lw * s)):
                raise ShapeError(f"dataset {source.name!r}: {hr_path.name} is {h}×{w}, not ×{s:g} its LR "
                                 f"{lr_path.name} ({lh}×{lw})")
    elif variant != "selfexsr":
        smallest = min_hr_side(s)
        block = modcrop_block(s)
        for name in names:
            if (folder / f"{name}.json").is_file():
                continue
            h, w = _header_size(hr_files[name])
            if min(h - h % block, w - w % block) < smallest:
                raise ShapeError(
                    f"dataset {source.name!r}: image {hr_files[name].name} is {h}×{w}; at ×{s:g} an HR image needs "
                    f"at least {smallest}×{smallest} (its LR at least {MIN_INPUT_SIDE} pixels, and 11×11 for SSIM "
                    f"after shaving {math.ceil(s)} pixels each side)"
                )

    # STEP 3 - each image: reuse its sidecar, or generate and write the sidecar last.
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
        if variant == "pairs":
            hr_path, given_lr, kernel_path = given[name]
            lr = read_image(given_lr).color  # DIV2KRK's LR files are RGBA with an opaque alpha: RGB kept
            lr_path = folder / f"{name}_lr.png"
            info.update(source=_relative(given_lr, folder), kernel_given=kernel_path is not None)
        elif variant == "selfexsr":
            hr_path, lr_path = pairs[name]
            lr = read_image(lr_path).color
        else:
            hr8 = to_8bit(modcrop(read_image(hr_files[name]).color, s))
            hr_path = write_image(folder / f"{name}_hr.png", hr8)
            lr_path = folder / f"{name}_lr.png"
            if degradation == "gaussian-kernel":
                recipe: KernelRecipeName = "div2krk" if variant == "div2krk" else "zssr"
                kernel = validate_kernel(random_gaussian_kernel(s, generator=rng_seed, recipe=recipe))
                kernel_path = folder / f"{name}_kernel.mat"
                save_kernel(kernel, kernel_path)
                save_kernel(kernel, folder / f"{name}_kernel.png")
                low = downscale(to_tensor(hr8).double(), align_kernel(kernel, s), s)
                lr = to_8bit(to_array(low))
                info.update(recipe=variant, kernel_seed=rng_seed)
            else:
                lr = to_array(imresize(to_tensor(hr8), 1.0 / s, quantize=True))
        forced = forced_kind(degradation)
        if degradation == "degraded" or forced is not None:
            if forced == "jpeg-file":  # the file itself, so that what a reader sees is a JPEG
                lr_path = folder / f"{name}_lr.jpg"
                write_bytes(lr_path, jpeg_file(lr, quality), what="LR input")
            lr, details = degrade(lr, np.random.default_rng(rng_seed), forced, quality)
            info.update(details)
            if forced != "jpeg-file":
                lr_path = folder / f"{name}_lr.png"
        if lr_path.parent == folder and lr_path.suffix == ".png":
            write_image(lr_path, lr)
        write_json(sidecar, {
            "name": name, "hr": _relative(hr_path, folder), "lr": _relative(lr_path, folder),
            "kernel": _relative(kernel_path, folder) if kernel_path is not None else None, "degradation": info,
        })
        loaded = _load_input(sidecar)
        if loaded is None:  # pragma: no cover - we just wrote every file it names
            raise ImageWriteError(f"input cache {sidecar} could not be read back")
        prepared.append(loaded)
    return condition, prepared


def min_hr_side(scale: float) -> int:
    """The smallest HR side (after modcrop) a ×``scale`` benchmark can use.

    The LR must have ``MIN_INPUT_SIDE`` pixels and the SR an SSIM window (11) left
    after the ``ceil(scale)``-pixel shave.
    """
    k = math.ceil(scale)
    return max(math.ceil(scale * MIN_INPUT_SIDE), 11 + 2 * k)


def _header_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` from the file's header, or by decoding it where Pillow cannot (float TIFF); errors are ImageReadError."""
    try:
        with Image.open(path) as im:
            return int(im.size[1]), int(im.size[0])
    except (OSError, ValueError, Image.DecompressionBombError):
        h, w = read_image(path).color.shape[:2]
        return int(h), int(w)
