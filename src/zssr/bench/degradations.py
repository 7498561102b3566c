"""Table 3's degradations (paper §4.2 B): Gaussian noise, speckle noise or JPEG, one per image.

``degraded`` draws one kind per image (the paper's mixed table); :data:`FORCED_KINDS` put one
kind on every image of a column (issue #28), JPEG twice: kept as the encoder's file
(``jpeg-file``: a reader sees its quantisation tables) or decoded into a PNG (``jpeg-png``: the
common case after any editing, where the quality must be read from the pixels).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

__all__ = [
    "DEGRADED_KINDS", "FORCED_KINDS", "GAUSSIAN_NOISE_SIGMA", "JPEG_DEGRADATIONS", "JPEG_QUALITY", "SPECKLE_VARIANCE", "degrade", "jpeg_file",
    "to_8bit",
]

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
#: One kind on every image of a column (a bench degradation of its own name).
FORCED_KINDS: tuple[str, ...] = ("gaussian-noise", "speckle-noise", "jpeg-file", "jpeg-png")
#: The bench degradations whose images can be JPEG'd (the quality is theirs to set).
JPEG_DEGRADATIONS: tuple[str, ...] = ("degraded", "jpeg-file", "jpeg-png", "given+jpeg-file", "given+jpeg-png")


def to_8bit(image: np.ndarray) -> np.ndarray:
    """Clip and round half up to 8-bit levels, as ``write_image`` stores them (float32 in [0, 1])."""
    return (np.floor(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5) / 255.0).astype(np.float32)


def degrade(
    lr: np.ndarray, rng: np.random.Generator, kind: str | None = None, jpeg_quality: int = JPEG_QUALITY,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Table 3: ``kind`` (default: one of :data:`DEGRADED_KINDS` drawn by ``rng``) applied to an 8-bit LR.

    Returns 8-bit values; for ``jpeg-file`` the decoded pixels of :func:`jpeg_file`'s bytes
    (``jpeg_quality``: the IJG quality of the JPEG kinds, the paper's 45 by default).
    """
    if kind is None:
        kind = DEGRADED_KINDS[int(rng.integers(len(DEGRADED_KINDS)))]
    x = lr.astype(np.float64)
    if kind == "gaussian-noise":
        out = x + rng.normal(0.0, GAUSSIAN_NOISE_SIGMA, size=x.shape)
        return to_8bit(out), {"kind": kind, "sigma": GAUSSIAN_NOISE_SIGMA}
    if kind == "speckle-noise":
        # MATLAB imnoise 'speckle': J = I + sqrt(12 v)·I·(U − 1/2), U ~ U[0, 1).
        out = x + math.sqrt(12.0 * SPECKLE_VARIANCE) * x * (rng.random(size=x.shape) - 0.5)
        return to_8bit(out), {"kind": kind, "variance": SPECKLE_VARIANCE}
    if kind not in ("jpeg", "jpeg-file", "jpeg-png"):
        raise ValueError(f"degradation kind must be one of {DEGRADED_KINDS + FORCED_KINDS}, got {kind!r}")
    from PIL import Image

    data = jpeg_file(lr, jpeg_quality)
    with Image.open(io.BytesIO(data)) as picture:
        decoded = np.asarray(picture.convert("L" if lr.shape[2] == 1 else "RGB"), dtype=np.float32) / 255.0
    return decoded.reshape(lr.shape), {"kind": kind, "quality": int(jpeg_quality), "encoder": "Pillow"}


def jpeg_file(lr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """The JPEG file (IJG ``quality``, Pillow's default 4:2:0 chroma) of an 8-bit LR, ``H×W×C``."""
    from PIL import Image

    levels = np.round(lr.astype(np.float64) * 255.0).astype(np.uint8)
    picture = Image.fromarray(levels[..., 0] if levels.shape[2] == 1 else levels)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()
