"""Did an estimated kernel harm the output? The do-no-harm check of ``--kernel auto`` (issue #19).

ZSSR given a kernel wider than the truth undoes blur that was never there
(``experiments/kernel_estimation/results/kernel_width_correction.md``, part 3). Two traces of
it can be read from the output and its LR alone, without the truth:

- edges narrower than a sampled step can be (:func:`oversharpened`, ``OVERSHARP_SIGMA``, measured
  by :func:`~zssr.kernel_estimation.edge_sharpness`): what a too-wide estimate does to a photo
  with clean edges;
- fine detail amplified far past bicubic interpolation of the same LR
  (:func:`high_frequency_gain`, ``OVERAMPLIFIED_GAIN``): what it does to grain and texture
  (pepper and man of the Set14 draws, where the edges stayed plausible).

Either sends ``--kernel auto`` back to the bicubic kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..resize import imresize
from .edges import edge_sharpness

__all__ = [
    "OVERAMPLIFIED_GAIN", "OVERSHARP_SIGMA", "OutputReading", "high_frequency_gain", "kernel_harm", "oversharpened",
    "read_output",
]

# *ours* (issue #19, "do no harm"): an SR output whose strongest edges read narrower than this
# (output px, minor axis) has been sharpened past any real edge: a perfectly sharp edge sampled by
# square pixels reads 0.47–0.55 px here. Chosen on Set14 ×2 DIV2KRK-style draws (data seeds 1, 2, 400
# iterations): the one output under bicubic-kernel ZSSR by > 0.3 dB read 0.20, every other 0.42 or more
# (benchmarks/results/kernel_check.md).
OVERSHARP_SIGMA = 0.3

# *ours* (issue #19): an output with this many times the Laplacian energy of bicubic
# interpolation has amplified the LR's grain, not restored detail. Chosen on Set14 DIV2KRK-style
# draws at 400 iterations (experiments/kernel_estimation/results/harm_signals*.md): edges rows of
# ×2 and ×4 data seeds 0, 1, 2, 5, KernelGAN ×2 rows of seeds 0-2 (and four of seed 5). Outputs
# more than 0.3 dB under bicubic-kernel ZSSR read 21-42 (KernelGAN ×2, edges ×4), the others at
# most 17.8 (edges) apart from two near-neutral KernelGAN ones (24, 30); the ×2 edges harms read
# 10 and 17: this trace does not see them. Checked on unseen draws in kernel_check*.md.
OVERAMPLIFIED_GAIN = 20.0
_BORDER = 8  # output px left out: the Laplacian of an image border says nothing about the kernel


def _laplacian_energy(image: torch.Tensor) -> float:
    """Mean squared 5-point Laplacian of the luma of ``image`` rounded to 8 bits, border left out.

    One float32 plane at a time (BT.601 weights, as :func:`~zssr.kernel_estimation.luma`): a
    48-megapixel output costs two 190 MB planes, not a float64 copy of all three channels.
    """
    x = image.detach()[0]
    weights = (0.299, 0.587, 0.114) if x.shape[0] == 3 else (1.0,)
    y = np.zeros(tuple(x.shape[-2:]), np.float32)
    for w, channel in zip(weights, x, strict=True):
        y += np.float32(w) * (channel.to("cpu", torch.float32).clamp(0.0, 1.0) * 255.0).round().numpy()
    lap = ndimage.laplace(y)[_BORDER:-_BORDER, _BORDER:-_BORDER]
    return float(np.mean(np.square(lap, dtype=np.float64)))


def high_frequency_gain(output: torch.Tensor, lr: torch.Tensor) -> float | None:
    """How many times the fine detail of bicubic interpolation an SR output has (None: nothing to compare).

    The mean squared Laplacian of the output's luma over that of MATLAB-bicubic interpolation
    of ``lr`` to the output's size, both rounded to 8 bits (as saved, so the output's bit depth
    does not move the measure). A true kernel restores 3–50× (the wider the truth, the more).

    Shape:
        ``output`` ``1×C×H×W`` and ``lr`` ``1×C×h×w`` in [0, 1], C = 1 or 3.
    """
    h, w = output.shape[-2:]
    if min(h, w) <= 2 * _BORDER:
        return None
    scale = (h / lr.shape[-2], w / lr.shape[-1])
    base = _laplacian_energy(imresize(lr.to("cpu", torch.float32), scale, size=(h, w)))
    return _laplacian_energy(output) / base if base > 0.0 else None


def _too_sharp(sigma: float | None) -> bool:
    return sigma is not None and sigma < OVERSHARP_SIGMA


def oversharpened(image: torch.Tensor) -> bool:
    """Whether an SR output's edges are sharper than :data:`OVERSHARP_SIGMA`: the kernel it used was too wide.

    ZSSR given a kernel wider than the truth along its narrow axis undoes blur that was
    never there (kernel_width_correction.md, part 3); its output's edges then come out
    narrower than a sampled step edge can be. The first trace :func:`kernel_harm` reads.
    """
    return _too_sharp(edge_sharpness(image))


@dataclass(frozen=True)
class OutputReading:
    """Both traces of a too-wide kernel, as read from one output (None: the output has too little to read)."""

    sharpness: float | None
    gain: float | None

    @property
    def trace(self) -> str | None:
        """``"edges"`` or ``"gain"``: the first trace of a too-wide kernel found; None if neither."""
        if _too_sharp(self.sharpness):
            return "edges"
        if self.gain is not None and self.gain >= OVERAMPLIFIED_GAIN:
            return "gain"
        return None

    @property
    def harm(self) -> str | None:
        """Why the output shows its kernel was too wide (a clause for a warning); None if it does not."""
        if self.trace == "edges":
            return f"its edges read {self.sharpness:.2f} px, narrower than a sampled step ({OVERSHARP_SIGMA} px)"
        if self.trace == "gain":
            return f"it has {self.gain:.0f}× the fine detail of bicubic interpolation (limit {OVERAMPLIFIED_GAIN:.0f}×)"
        return None


def read_output(output: torch.Tensor, lr: torch.Tensor) -> OutputReading:
    """The edge sharpness (:func:`~zssr.kernel_estimation.edge_sharpness`) and :func:`high_frequency_gain` of ``output``."""
    return OutputReading(edge_sharpness(output), high_frequency_gain(output, lr))


def kernel_harm(output: torch.Tensor, lr: torch.Tensor) -> str | None:
    """Why ``output`` (SR of ``lr`` with an estimated kernel) shows its kernel was too wide; None if it does not."""
    return read_output(output, lr).harm
