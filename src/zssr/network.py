"""The image-specific CNN: a plain stack of 3×3 convolutions with a global residual.

Paper §3 / authors' code (docs/authors_code.md §3): 8 convolutions (7 hidden maps) of 64
channels, ReLU after all but the last, no biases, 'SAME' padding, and the output
added to the bicubic-upscaled input, so the net only learns the missing detail.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from .config import PRECISIONS

__all__ = ["ZSSRNet", "conv_layout", "native_bfloat16", "uses_bfloat16"]


@functools.cache
def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AMX tiles or AVX-512-BF16), as oneDNN uses them."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def uses_bfloat16(precision: str, device: torch.device | str) -> bool:
    """Whether ``precision`` means bfloat16 convolutions on ``device`` (``auto``: on a CPU with native bfloat16)."""
    if precision == "auto":
        return torch.device(device).type == "cpu" and native_bfloat16()
    return precision == "bfloat16"


@functools.cache
def _avx512() -> bool:
    """Whether torch's CPU kernels (and oneDNN's) run at the AVX-512 level on this CPU."""
    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def conv_layout(device: torch.device | str, bf16: bool) -> torch.memory_format:
    """The memory layout the net's convolutions run in on ``device`` (plain forward, so training).

    Channels-last (NHWC) is oneDNN's fast path on AVX-512 CPUs (float32 step 1.18× faster than
    NCHW on the Xeon, docs/SPEED.md) and the layout GPUs' tensor cores want. On a CPU without
    AVX-512, float32, oneDNN computes the NHWC *weight gradient* of a batch-1 convolution 3.1×
    slower than the NCHW one (AVX2 EPYC), which makes the whole training step 1.75× slower
    (``benchmarks/results/conv_layout.md``): there the net trains NCHW. bfloat16 keeps NHWC.
    """
    if torch.device(device).type == "cpu" and not bf16 and not _avx512():
        return torch.contiguous_format
    return torch.channels_last


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
        precision: ``auto``, ``float32`` or ``bfloat16`` (:data:`zssr.config.PRECISIONS`);
            ``auto`` is decided per call by the input's device (:func:`uses_bfloat16`).

    The weights are stored channels-last (NHWC); each forward runs the convolutions in
    :func:`conv_layout`'s layout for the input's device (NHWC but for float32 on CPUs without
    AVX-512); values are the same up to float rounding.

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
        precision: str = "auto",
    ) -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        sizes = [channels] + [width] * (depth - 1) + [channels]
        convs = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False) for c_in, c_out in zip(sizes[:-1], sizes[1:])]
        self.layers = nn.ModuleList(convs)
        self.residual = residual
        # CPU inference with fused ReLUs (_fused_forward): None until tried, False once unavailable.
        self._fused: bool | None = None
        self._weights_key: tuple | None = None
        self._weights_cache: list[torch.Tensor] = []
        with torch.no_grad():
            for conv in convs:
                std = math.sqrt(init_variance / (3 * 3 * conv.in_channels))
                conv.weight.normal_(0.0, std, generator=generator)
                conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The SR of ``x`` (already interpolated to the output size): residual over the input."""
        if x.device.type == "cpu" and not torch.is_grad_enabled() and self._fused is not False:
            y = self._fused_forward(x)
            if y is not None:
                return y
        # The first convolution stays float32: rounding the image itself to bfloat16 (8 bits of
        # mantissa: ±0.001 at mid-grey) would bury the fine detail the net must see; its
        # 64 feature maps carry that detail relative to their own size (and it is 1/21 of the work).
        last = len(self.layers) - 1
        bf16 = uses_bfloat16(self.precision, x.device)
        layout = conv_layout(x.device, bf16)
        weights = [cast(nn.Conv2d, conv).weight.contiguous(memory_format=layout) for conv in self.layers]
        y = nn.functional.conv2d(x.contiguous(memory_format=layout), weights[0], None, 1, 1)
        if last > 0:
            y = torch.relu(y)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            for i, w in enumerate(weights[1:], start=1):
                y = nn.functional.conv2d(y, w, None, 1, 1)
                if i < last:
                    y = torch.relu_(y)
        y = y.float()
        return x + y if self.residual else y

    def _fused_forward(self, x: torch.Tensor) -> torch.Tensor | None:
        """Inference on a CPU with each ReLU fused into its convolution (oneDNN post-op), same values.

        Why: the net's passes are ~90% of inference on large outputs (docs/SPEED.md); a
        separate ReLU pass over the 64-channel maps and autocast's casts on every call cost
        about a third of each pass. The fused convolution computes what ``conv`` then
        ``relu`` compute (tests compare them bit for bit), with the weights cast once per
        weight version (training changes them between reconstruction tests). None where
        torch has no oneDNN pointwise convolution: the plain path then runs.
        """
        op: Callable[..., torch.Tensor] | None = (
            getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None
        )
        if op is None:
            self._fused = False
            return None
        bf16 = uses_bfloat16(self.precision, x.device)
        weights = self._inference_weights(bf16)
        last = len(weights) - 1
        y = x.contiguous(memory_format=torch.channels_last)
        try:
            for i, w in enumerate(weights):
                y = op(y, w, None, [1, 1], [1, 1], [1, 1], 1, "relu" if i < last else "none", [], "")
                if i == 0 and bf16:
                    y = y.to(torch.bfloat16)  # as autocast casts the second convolution's input
        except RuntimeError:
            self._fused = False
            return None
        y = y.float()
        return x + y if self.residual else y

    def _inference_weights(self, bf16: bool) -> list[torch.Tensor]:
        """The convolutions' weights as the fused path wants them (first always float32), cached per version."""
        params = [cast(nn.Conv2d, conv).weight for conv in self.layers]
        key = (bf16, tuple(p._version for p in params), tuple(p.data_ptr() for p in params))
        if self._weights_key != key:
            ws = [p.detach().contiguous(memory_format=torch.channels_last) for p in params]
            if bf16:
                ws = ws[:1] + [w.to(torch.bfloat16).contiguous(memory_format=torch.channels_last) for w in ws[1:]]
            self._weights_cache, self._weights_key = ws, key
        return self._weights_cache

    def extra_repr(self) -> str:
        """Depth and residual flag, for ``print(net)``."""
        return f"depth={len(self.layers)}, residual={self.residual}, precision={self.precision}"
