"""Table 3's degradations (paper §4.2 B): Gaussian noise, speckle noise or JPEG, one per image."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

__all__ = ["DEGRADED_KINDS", "GAUSSIAN_NOISE_SIGMA", "JPEG_QUALITY", "SPECKLE_VARIANCE", "degrade", "to_8bit"]

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


def to_8bit(image: np.ndarray) -> np.ndarray:
    """Clip and round half up to 8-bit levels, as ``write_image`` stores them (float32 in [0, 1])."""
    return (np.floor(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5) / 255.0).astype(np.float32)


def degrade(lr: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Table 3: one degradation chosen by ``rng``, applied to an 8-bit LR; returns 8-bit values."""
    kind = DEGRADED_KINDS[int(rng.integers(len(DEGRADED_KINDS)))]
    x = lr.astype(np.float64)
    if kind == "gaussian-noise":
        out = x + rng.normal(0.0, GAUSSIAN_NOISE_SIGMA, size=x.shape)
        return to_8bit(out), {"kind": kind, "sigma": GAUSSIAN_NOISE_SIGMA}
    if kind == "speckle-noise":
        # MATLAB imnoise 'speckle': J = I + sqrt(12 v)·I·(U − 1/2), U ~ U[0, 1).
        out = x + math.sqrt(12.0 * SPECKLE_VARIANCE) * x * (rng.random(size=x.shape) - 0.5)
        return to_8bit(out), {"kind": kind, "variance": SPECKLE_VARIANCE}
    from PIL import Image

    levels = np.round(x * 255.0).astype(np.uint8)
    picture = Image.fromarray(levels[..., 0] if levels.shape[2] == 1 else levels)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert(picture.mode), dtype=np.float32) / 255.0
    decoded = decoded.reshape(lr.shape)
    return decoded, {"kind": kind, "quality": JPEG_QUALITY, "encoder": "Pillow"}
