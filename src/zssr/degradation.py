"""Reading an input's degradation from the image itself: its noise level and its JPEG quality (issue #17, item 1).

The paper's rule for real inputs (§4.2, Table 3) is that the LR sons should carry what
the input carries. These estimators say what that is, from the LR image alone:

* :func:`estimate_noise` — the standard deviation of additive white noise, per channel,
  from ``7×7`` patches: the covariance of patches has its smallest eigenvalues at the
  noise variance, and Chen, Zhu & Heng's rule (ICCV 2015) takes the tail of the spectrum
  whose mean equals its median; computed on the weak-texture patches only (Liu, Tanaka &
  Okutomi, TIP 2013: gradient energy under a pure-noise patch's 99% quantile), which
  keeps a clean photo's own structure from reading as noise.
* :func:`jpeg_quality` — the IJG quality of a JPEG file from its quantisation tables
  (exact for files written by libjpeg/Pillow/most cameras' encoders), and
  :func:`jpeg_quality_from_pixels` for an already-decoded picture (a PNG saved from a
  JPEG): re-compressing at the original quality changes the pixels least ("JPEG ghosts",
  Farid 2009), so the quality with the smallest change, if it stands out, is the estimate.

Accuracy on synthetic truth: ``benchmarks/results/degradation_estimates.md``.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy.optimize import nnls
from scipy.stats import gamma

from .config import AUTO_FIELDS, PRESETS, Config
from .errors import ImageReadError, ShapeError

__all__ = [
    "CLEAN_SIGMA", "IJG_LUMA", "MIN_READ_SIDE", "SPECKLE_MIN_LEVEL", "DegradationReading", "JpegEstimate",
    "estimate_noise", "estimate_speckle", "noise_level_function", "plan_sons",
    "read_degradation", "ijg_scale", "ijg_table", "jpeg_quality", "jpeg_quality_from_pixels",
    "quality_from_table", "son_jpeg_quality", "SON_JPEG_SCALE",
]

#: Below this noise level (in [0, 1] units, about 1.5/255) an image counts as clean:
#: 8-bit rounding alone is 0.29/255 and well-exposed photos read 0.3–1.2/255.
CLEAN_SIGMA = 1.5 / 255

#: The IJG (libjpeg) standard luminance quantisation table, row-major (ITU-T T.81 Annex K).
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)

_PATCH = 7
_MAX_PATCHES = 200_000
#: Liu et al.'s threshold: a pure-noise patch's gradient energy stays under this quantile.
_WEAK_TEXTURE_QUANTILE = 0.99


def _tail_variance(patches: np.ndarray) -> float:
    """Chen et al.'s rule on the patches' covariance spectrum: the longest tail whose mean is also its median."""
    lam = np.sort(np.maximum(np.linalg.eigvalsh(np.cov(patches, rowvar=False)), 0.0))[::-1]
    for i in range(lam.size):
        tail = lam[i:]
        tau = float(tail.mean())
        if np.sum(tail > tau) == np.sum(tail < tau):
            return tau
    return float(lam[-1])


def _patches(plane: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A plane's ``7×7`` patches (at most :data:`_MAX_PATCHES`, sampled by ``rng``) and their gradient energies."""
    windows = np.lib.stride_tricks.sliding_window_view(plane, (_PATCH, _PATCH))
    patches = windows.reshape(-1, _PATCH * _PATCH)
    if patches.shape[0] > _MAX_PATCHES:
        patches = patches[rng.choice(patches.shape[0], _MAX_PATCHES, replace=False)]
    square = patches.reshape(-1, _PATCH, _PATCH)
    energy = (np.diff(square, axis=2) ** 2).sum(axis=(1, 2)) + (np.diff(square, axis=1) ** 2).sum(axis=(1, 2))
    return patches, energy


def _weak_texture_variance(patches: np.ndarray, energy: np.ndarray) -> float:
    """Noise variance of a set of patches: Chen's spectrum rule on Liu's weak-texture ones, refined a few times."""
    # Gradient energy of a pure-noise patch is σ²·Gamma(N²/2, 2/N²·tr(DhᵀDh + DvᵀDv)), tr = 4N(N − 1).
    n2 = _PATCH * _PATCH
    factor = float(gamma.ppf(_WEAK_TEXTURE_QUANTILE, a=n2 / 2, scale=2.0 / n2 * 4 * _PATCH * (_PATCH - 1)))
    variance = _tail_variance(patches)
    for _ in range(5):
        weak = patches[energy < variance * factor]
        if weak.shape[0] < 2 * n2:
            break
        refined = _tail_variance(weak)
        if abs(refined - variance) <= 1e-3 * variance:
            variance = refined
            break
        variance = refined
    return variance


def _plane_sigma(plane: np.ndarray, rng: np.random.Generator) -> float:
    """σ of one channel from all its patches."""
    return math.sqrt(_weak_texture_variance(*_patches(plane, rng)))


def _planes(image: np.ndarray) -> np.ndarray:
    """``image`` as an ``H×W×C`` float64 array, checked for the noise estimators (at least 16×16)."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or min(arr.shape[:2]) < 16:
        raise ShapeError(f"noise estimation needs an H×W(×C) image of at least 16×16, got shape {np.shape(image)}")
    return arr


def estimate_noise(image: np.ndarray) -> np.ndarray:
    """Standard deviation of additive white Gaussian noise in each channel, in the image's units.

    Args:
        image: ``H×W`` or ``H×W×C`` float array (for example in [0, 1]), at least 16×16.

    Returns:
        One σ per channel (a 1-element array for a gray image).

    Raises:
        ShapeError: an image too small or not 2-D/3-D.
    """
    arr = _planes(image)
    rng = np.random.default_rng(0)  # which patches are sampled on a large image: fixed, so the estimate is too
    return np.array([_plane_sigma(arr[..., c], rng) for c in range(arr.shape[2])])


#: Intensity bins of the noise level function (equal patch counts), and the fewest patches a bin needs.
_NLF_BINS = 8
_NLF_MIN_PATCHES = 400
#: A channel's noise counts as intensity-dependent ("speckle") when the intensity-proportional part at
#: the channel's median level exceeds twice the constant part and this (in [0, 1] units): chosen on
#: Set5/Set14 ×2 LR and five scikit-image photos, clean, σ = 10/255 and speckle 0.01 (no clean or
#: Gaussian channel passes it; benchmarks/results/degradation_estimates_speckle.md).
SPECKLE_MIN_LEVEL = 4.0 / 255


def noise_level_function(plane: np.ndarray, rng: np.random.Generator | None = None) -> tuple[float, float]:
    """``(a, b)`` of the noise σ(I) = √(a² + b²·I²) of one plane (``H×W`` in [0, 1]).

    The patches are split into :data:`_NLF_BINS` intensity bins of equal count, each bin's
    noise variance read as :func:`estimate_noise` reads a whole image, and ``a²``, ``b²``
    fitted to them by non-negative least squares. Speckle (noise ∝ intensity, MATLAB
    ``imnoise(..., 'speckle')``) has ``a ≈ 0`` and ``b`` its σ per unit intensity; additive
    noise has ``b ≈ 0``. One global estimate misreads speckle: the flattest patches of a
    photo are often its darkest, where speckle vanishes (Set5's bird reads 0.8/255 for 10/255).
    """
    patches, energy = _patches(np.asarray(plane, dtype=np.float64), rng or np.random.default_rng(0))
    mu = patches.mean(axis=1)
    edges = np.quantile(mu, np.linspace(0.0, 1.0, _NLF_BINS + 1))
    levels, variances = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        chosen = (mu >= lo) & (mu <= hi)
        if int(chosen.sum()) >= _NLF_MIN_PATCHES:
            levels.append(float(np.median(mu[chosen])))
            variances.append(_weak_texture_variance(patches[chosen], energy[chosen]))
    if len(levels) < 2:
        return math.sqrt(_weak_texture_variance(patches, energy)), 0.0
    design = np.stack([np.ones(len(levels)), np.asarray(levels) ** 2], axis=1)
    (a2, b2), _ = nnls(design, np.asarray(variances))
    return math.sqrt(a2), math.sqrt(b2)


def estimate_speckle(image: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per channel: ``(additive σ, speckle σ per unit intensity)`` where the channel's noise grows with intensity.

    A channel counts as speckled when, at its median intensity, the proportional part of
    :func:`noise_level_function` is over twice the constant part and at least
    :data:`SPECKLE_MIN_LEVEL`; other channels get ``(nan, 0)``: their noise is additive and
    :func:`estimate_noise` reads it better.
    """
    arr = _planes(image)
    additive, speckle = [], []
    for c in range(arr.shape[2]):
        a, b = noise_level_function(arr[..., c])
        level = b * float(np.median(arr[..., c]))
        found = level >= SPECKLE_MIN_LEVEL and level > 2.0 * a
        additive.append(a if found else math.nan)
        speckle.append(b if found else 0.0)
    return tuple(additive), tuple(speckle)


def ijg_scale(quality: int) -> int:
    """The percentage libjpeg scales its standard tables by at ``quality`` (1–100): 5000/q under 50, else 200 − 2q."""
    q = min(max(int(quality), 1), 100)
    return 5000 // q if q < 50 else 200 - 2 * q


def ijg_table(quality: int, base: np.ndarray = IJG_LUMA) -> np.ndarray:
    """The quantisation table libjpeg writes for ``quality`` (1–100): the standard table scaled and clamped."""
    return np.clip((base * ijg_scale(quality) + 50) // 100, 1, 255)


#: The sons' quantisation scale as a share of the input's (issue #28 item 3; *ours*, not the
#: authors': their ``real`` config gives sons noise, never JPEG). Sons compressed at the quality
#: read lose more detail than the input did, and at the preset's full budget the net learns to
#: undo that much more than the input lost: on once-JPEG Set5 ×2 inputs (quality 45) it fell
#: 0.77 dB under bicubic on bird. Sons at quality 85 (scale 30 vs 111) gave +0.93 dB on bird and
#: +0.73 on butterfly over sons at 45, and the rule held at inputs read at 30 and 75
#: (``benchmarks/results/jpeg_full_budget/table.md``; bird and butterfly looked at).
SON_JPEG_SCALE = 0.27


def son_jpeg_quality(quality: int) -> int:
    """The IJG quality the sons of an input read at ``quality`` are compressed at (:data:`SON_JPEG_SCALE`).

    Never below the input's own quality; 45 → 85, 30 → 78, 75 → 93.
    """
    target = SON_JPEG_SCALE * ijg_scale(quality)
    son = 5000.0 / target if target > 100 else (200.0 - target) / 2.0
    return int(min(100, max(int(quality), math.floor(son + 0.5))))


def quality_from_table(table: np.ndarray) -> tuple[int, float]:
    """The IJG quality whose luminance table is nearest to ``table`` (64 values, row-major), and the mean error.

    An error of 0 means the file was written by an IJG-style encoder at exactly that quality;
    a custom table (some cameras) gets the nearest quality and a larger error.
    """
    t = np.asarray(table, dtype=np.float64).reshape(-1)
    if t.size != 64:
        raise ShapeError(f"a JPEG quantisation table has 64 values, got {t.size}")
    errors = [float(np.mean(np.abs(ijg_table(q) - t))) for q in range(1, 101)]
    best = int(np.argmin(errors))
    return best + 1, errors[best]


@dataclass(frozen=True)
class JpegEstimate:
    """What is known of an input's JPEG compression.

    Attributes:
        compressed: whether the input shows JPEG compression at all.
        quality: the IJG quality (1–100) it was compressed at, when ``compressed``.
        source: ``tables`` (read from the file) or ``pixels`` (recompression search).
        confidence: ``tables``: 1 − mean table error / 10; ``pixels``: how far the best
            quality's change stands below its neighbours' (0 = not at all).
    """

    compressed: bool
    quality: int | None
    source: str
    confidence: float


def jpeg_quality(path: str | Path) -> JpegEstimate:
    """The JPEG quality of an image file: from its quantisation tables if it is a JPEG, else from its pixels."""
    p = Path(path)
    from_tables = _quality_from_file(p)
    if from_tables is not None:
        return from_tables
    try:
        with Image.open(p) as im:
            pixels = np.asarray(im.convert("RGB" if im.mode not in ("L", "I;16", "I") else "L"), dtype=np.float64)
    except OSError as exc:
        raise ImageReadError(f"cannot read {p}: {exc}") from exc
    return jpeg_quality_from_pixels(pixels / (65535.0 if pixels.max() > 255 else 255.0))


#: Qualities the pixel search tries: every one from 10 to 98.
_SEARCH = tuple(range(10, 99))
#: How much (relative) the change must jump just above the best quality for the picture to count as a JPEG.
_GHOST_MARGIN = 0.35
#: The search looks at a crop of at most this side (aligned to the 16-pixel MCU grid at the origin).
_SEARCH_SIDE = 512


def jpeg_quality_from_pixels(image: np.ndarray) -> JpegEstimate:
    """Estimate the JPEG quality of a decoded picture (``H×W`` or ``H×W×3`` in [0, 1]) by recompressing it.

    The picture's luma (what JPEG quantises with the luminance table) is recompressed at
    each quality from 10 to 98; a picture that was a JPEG of quality ``q`` changes least
    at ``q`` (its DCT coefficients are already multiples of that table) and clearly more
    at ``q + 1``. Without such a jump the picture is reported as not compressed (a clean
    or a noisy picture's change falls smoothly with the quality).
    """
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim not in (2, 3) or min(arr.shape[:2]) < 16:
        raise ShapeError(f"JPEG detection needs an H×W(×3) image of at least 16×16, got shape {arr.shape}")
    u8 = np.round(np.clip(arr[:_SEARCH_SIDE, :_SEARCH_SIDE], 0.0, 1.0) * 255).astype(np.uint8)
    if u8.ndim == 3 and u8.shape[2] == 1:
        u8 = u8[..., 0]
    luma = Image.fromarray(u8).convert("L")
    reference = np.asarray(luma, dtype=np.float64)
    changes = []
    for q in _SEARCH:
        buf = io.BytesIO()
        luma.save(buf, "JPEG", quality=q)
        again = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64)
        changes.append(float(np.mean((again - reference) ** 2)))
    c = np.asarray(changes)
    jumps = np.where((c[1:] > c[:-1]) & (c[:-1] > 0), (c[1:] - c[:-1]) / np.maximum(c[1:], 1e-12), 0.0)
    best = int(np.argmax(jumps))
    dip = float(jumps[best])
    if dip < _GHOST_MARGIN:
        return JpegEstimate(False, None, "pixels", dip)
    return JpegEstimate(True, _SEARCH[best], "pixels", dip)


@dataclass(frozen=True)
class DegradationReading:
    """What :func:`read_degradation` found in an input, and what the sons should carry.

    Attributes:
        sigma: the additive noise σ per channel, in [0, 1] units (zeros where the image was too small to read).
        jpeg: its JPEG compression.
        measured: False when the image is under 16×16 and nothing could be read (treated as clean).
        speckle: per channel, the σ of noise proportional to intensity (per unit intensity;
            :func:`estimate_speckle`), 0 where the noise is additive; empty: none read.
    """

    sigma: tuple[float, ...]
    jpeg: JpegEstimate
    measured: bool = True
    speckle: tuple[float, ...] = ()

    @property
    def speckled(self) -> bool:
        """Whether any channel's noise grows with intensity."""
        return any(b > 0 for b in self.speckle)

    @property
    def noisy(self) -> bool:
        """Whether any channel's noise is above :data:`CLEAN_SIGMA`, or grows with intensity."""
        return any(s >= CLEAN_SIGMA for s in self.sigma) or self.speckled

    @property
    def clean(self) -> bool:
        """Neither noise above :data:`CLEAN_SIGMA` nor JPEG compression."""
        return not self.noisy and not self.jpeg.compressed

    def describe(self) -> str:
        """One line for the user: what was read and what the sons get."""
        if not self.measured:
            return "too small to read its noise or compression: treated as clean (ideal's settings)"
        noise = "/".join(f"{s * 255:.1f}" for s in self.sigma)
        jpeg = (f"JPEG quality {self.jpeg.quality} (from the {'file' if self.jpeg.source == 'tables' else 'pixels'})"
                if self.jpeg.compressed else "no JPEG compression")
        if self.clean:
            return f"read as clean (noise σ {noise}/255, {jpeg}): clean sons, ideal's settings"
        speckle = (", speckle σ " + "/".join(f"{b * 255:.1f}" for b in self.speckle) + "/255 per unit intensity"
                   if self.speckled else "")
        parts = ([f"noise σ {noise}/255{speckle}"] if self.noisy else []) + (
            [f"JPEG at quality {son_jpeg_quality(self.jpeg.quality or 100)}"] if self.jpeg.compressed else [])
        return f"read noise σ {noise}/255{speckle}, {jpeg}: sons get {' and '.join(parts)}; no back-projection"


#: Smallest side the estimators read (their 7×7 patches and 8×8 blocks need a few of each).
MIN_READ_SIDE = 16


def read_degradation(image: np.ndarray, source: str | Path | bytes | None = None) -> DegradationReading:
    """Read an input's noise (per channel) and JPEG compression (from ``source``'s tables when it is a JPEG file).

    Args:
        image: ``H×W×C`` (or ``H×W``) float array in [0, 1], the colour planes of the input.
        source: the file it was read from (or that file's bytes), if any: a JPEG file's
            quantisation tables give its quality exactly; otherwise the pixels are searched.
    """
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[..., None]
    if min(arr.shape[:2]) < MIN_READ_SIDE:
        return DegradationReading((0.0,) * arr.shape[2], JpegEstimate(False, None, "pixels", 0.0), measured=False)
    additive, speckle = estimate_speckle(arr)
    sigma = tuple(float(s) if math.isnan(a) else a for s, a in zip(estimate_noise(arr), additive))
    jpeg = _quality_from_file(source) if source is not None else None
    if jpeg is None:
        jpeg = jpeg_quality_from_pixels(arr if arr.shape[2] in (1, 3) else arr[..., :1])
    return DegradationReading(sigma, jpeg, speckle=speckle)


def _quality_from_file(path: str | Path | bytes) -> JpegEstimate | None:
    """The quality in a JPEG file's quantisation tables (the file or its bytes); None for any other file."""
    try:
        with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as im:
            tables = (getattr(im, "quantization", None) or {}) if im.format in ("JPEG", "MPO") else {}
    except OSError:
        return None
    if 0 not in tables:
        return None
    quality, error = quality_from_table(np.asarray(tables[0]))
    return JpegEstimate(True, quality, "tables", max(0.0, 1.0 - error / 10.0))


def plan_sons(config: Config, reading: DegradationReading, *, kernel_given: bool = False) -> Config:
    """``config`` with the sons' degradation and :data:`~zssr.config.AUTO_FIELDS` set from ``reading``.

    A degraded input gets the authors' ``real`` values for those fields (no back-projection,
    which would put the input's noise back; milder augmentation) and sons carrying the
    noise read per channel (additive, under :data:`CLEAN_SIGMA` none; and proportional to
    intensity where it is speckle) and JPEG milder than the quality read (:func:`son_jpeg_quality`);
    a clean one gets ``ideal``'s values and clean sons (paper §4.2: sons carry what the input
    carries, and nothing else).

    *Ours*: a degraded input whose sons are made with the bicubic kernel (``kernel_given``
    false) keeps ``ideal``'s geometric self-ensemble. X2_REAL_CONF drops it because a real
    photo's kernel may not be symmetric (as X2_GIVEN_KERNEL_CONF does); the bicubic kernel
    is, so the 8 flips and rotations see one degradation, and their median also evens out
    what the net makes of the input's noise and blocks (Set14 once-JPEG ×2 at full budget:
    benchmarks/results/table3_full/screen.md).
    """
    base = PRESETS["ideal"] if reading.clean else PRESETS["real"]
    fields: dict[str, Any] = {name: getattr(base, name) for name in AUTO_FIELDS}
    if not reading.clean and not kernel_given:
        fields["output_flip"] = PRESETS["ideal"].output_flip
    fields["noise_std"] = 0.0
    fields["channel_noise_std"] = tuple(s if s >= CLEAN_SIGMA else 0.0 for s in reading.sigma) if reading.noisy else None
    fields["channel_speckle_std"] = reading.speckle if reading.speckled else None
    fields["jpeg_quality"] = (son_jpeg_quality(reading.jpeg.quality)
                              if reading.jpeg.compressed and reading.jpeg.quality is not None else None)
    fields["degradation"] = "given"
    return dataclasses.replace(config, **fields)
