"""The image-specific CNN: a plain stack of 3×3 convolutions with a global residual.

Paper §3 / authors' code (docs/authors_code.md §3): 8 convolutions (7 hidden maps) of 64
channels, ReLU after all but the last, no biases, 'SAME' padding, and the output
added to the bicubic-upscaled input, so the net only learns the missing detail.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import PRECISIONS

__all__ = ["ZSSRNet"]


class ZSSRNet(nn.Module):
    """``y = x + body(x)`` where ``x`` is the interpolated LR image.

    Args:
        channels: image channels (3 for RGB, 1 for grayscale: the authors' code
            crashes on grayscale, #15; here it is a 1-channel net).
        width: feature channels of the hidden layers.
        depth: number of convolutions, output layer included.
        init_variance: weights are N(0, init_variance / fan_in) (authors' 0.1,
            a plain normal, not truncated).
        residual: add the input to the output (authors' ``learn_residual``).
        generator: seeds the initialisation without touching global RNG state.
        precision: ``float32`` or ``bfloat16`` (:data:`zssr.config.PRECISIONS`).

    The weights and every input are kept channels-last (NHWC): oneDNN's fast
    convolution path on CPUs, and the layout tensor cores want; values are the
    same up to float rounding.

    Shape:
        ``N×channels×H×W`` → same.
    """

    def __init__(
        self,
        channels: int = 3,
        width: int = 64,
        depth: int = 8,
        *,
        init_variance: float = 0.1,
        residual: bool = True,
        generator: torch.Generator | None = None,
        precision: str = "float32",
    ) -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        sizes = [channels] + [width] * (depth - 1) + [channels]
        convs = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False) for c_in, c_out in zip(sizes[:-1], sizes[1:])]
        self.layers = nn.ModuleList(convs)
        self.residual = residual
        with torch.no_grad():
            for conv in convs:
                std = math.sqrt(init_variance / (3 * 3 * conv.in_channels))
                conv.weight.normal_(0.0, std, generator=generator)
                conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The SR of ``x`` (already interpolated to the output size): residual over the input."""
        y = x.contiguous(memory_format=torch.channels_last)
        last = len(self.layers) - 1
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            for i, conv in enumerate(self.layers):
                y = conv(y)
                if i < last:
                    y = torch.relu_(y)
        y = y.float()
        return x + y if self.residual else y

    def extra_repr(self) -> str:
        """Depth and residual flag, for ``print(net)``."""
        return f"depth={len(self.layers)}, residual={self.residual}, precision={self.precision}"
