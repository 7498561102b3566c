"""Inference: geometric self-ensemble, pixelwise median, back-projection (paper §3, docs/authors_code.md §4).

The trained net is applied to the 8 rotations/flips of the input (4 for
anisotropic factors, where a 90° turn would swap the factors), each output is
turned back and back-projected, the pixelwise median is taken (median, not mean:
paper §3) and back-projected once more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .examples import degrade
from .resize import imresize

__all__ = ["Transform", "TRANSFORMS", "back_project", "super_resolve", "forward_tiled"]


@dataclass(frozen=True)
class Transform:
    """``k`` quarter turns (counter-clockwise, numpy ``rot90``), then an optional left-right flip."""

    turns: int
    flip: bool

    @property
    def swaps_axes(self) -> bool:
        """Whether the transform exchanges height and width (odd quarter-turns)."""
        return self.turns % 2 == 1

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Transform ``x`` (rotate, then mirror)."""
        y = torch.rot90(x, self.turns, dims=(-2, -1)) if self.turns else x
        return y.flip(-1) if self.flip else y

    def invert(self, y: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`apply` (mirror, then rotate back)."""
        x = y.flip(-1) if self.flip else y
        return torch.rot90(x, -self.turns, dims=(-2, -1)) if self.turns else x


# Authors' k = 0..7: rot90(x, k) for k < 4, fliplr(rot90(x, k - 4)) for k >= 4.
TRANSFORMS: tuple[Transform, ...] = tuple(Transform(k % 4, k >= 4) for k in range(8))


def back_project(
    sr: torch.Tensor,
    lr: torch.Tensor,
    sf: tuple[float, float],
    *,
    iterations: int,
    kernel: torch.Tensor | None = None,
) -> torch.Tensor:
    """Iterative back-projection (Irani & Peleg): ``y ← clip(y + U(x − D(y)))``.

    D is the SR kernel's downscale (bicubic or the given aligned kernel), U is
    always bicubic (authors' code), both with sizes forced to the two images.
    """
    y = sr
    lr_size = (int(lr.shape[-2]), int(lr.shape[-1]))
    sr_size = (int(sr.shape[-2]), int(sr.shape[-1]))
    for _ in range(iterations):
        residual = lr - degrade(y, sf, kernel, lr_size)
        y = (y + imresize(residual, sf, size=sr_size)).clamp(0.0, 1.0)
    return y


def forward_tiled(net: torch.nn.Module, x: torch.Tensor, *, max_pixels: int = 1 << 21) -> torch.Tensor:
    """``net(x)`` computed in overlapping tiles when ``x`` is large.

    The net is a stack of ``depth`` 3×3 convolutions, so an output pixel sees
    ``depth`` pixels each way: tiles with a halo of ``depth`` give exactly the
    full-image result while bounding memory (a 2048² output at 64 channels is
    1 GiB per activation).
    """
    n, _, h, w = x.shape
    if n * h * w <= max_pixels:
        return net(x)
    halo = sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    side = max(64, int(math.sqrt(max_pixels / n)) - 2 * halo)
    out = torch.empty_like(x)
    for top in range(0, h, side):
        for left in range(0, w, side):
            t0, l0 = max(top - halo, 0), max(left - halo, 0)
            b1, r1 = min(top + side + halo, h), min(left + side + halo, w)
            tile = net(x[..., t0:b1, l0:r1])
            bh, bw = min(side, h - top), min(side, w - left)
            out[..., top : top + bh, left : left + bw] = tile[..., top - t0 : top - t0 + bh, left - l0 : left - l0 + bw]
    return out


def _median(stack: torch.Tensor) -> torch.Tensor:
    """Pixelwise median over dim 0; the mean of the middle two for an even count (numpy's)."""
    n = stack.shape[0]
    if n == 1:
        return stack[0]
    ordered = stack.sort(dim=0).values
    if n % 2:
        return ordered[n // 2]
    return 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


@torch.no_grad()
def super_resolve(
    net: torch.nn.Module,
    lr: torch.Tensor,
    sf: tuple[float, float],
    *,
    ensemble: bool = True,
    back_projection_iters: int = 10,
    kernel: torch.Tensor | None = None,
    max_pixels: int = 1 << 21,
) -> torch.Tensor:
    """Apply the trained net to the whole image with ensemble, median and back-projection.

    Shape:
        ``1×C×H×W`` → ``1×C×ceil(H·sf_y)×ceil(W·sf_x)``, values in [0, 1].
    """
    net.eval()
    if not ensemble:
        transforms: tuple[Transform, ...] = TRANSFORMS[:1]
    elif sf[0] != sf[1]:
        transforms = tuple(t for t in TRANSFORMS if not t.swaps_axes)
    else:
        transforms = TRANSFORMS
    outputs = []
    # Variants of equal shape go through the net as one batch.
    for swapped in (False, True):
        group = [t for t in transforms if t.swaps_axes == swapped]
        if not group:
            continue
        batch = torch.cat([t.apply(lr) for t in group], dim=0)
        sf_t = (sf[1], sf[0]) if swapped else sf
        up = imresize(batch, sf_t)
        sr = forward_tiled(net, up, max_pixels=max_pixels).clamp(0.0, 1.0)
        for i, t in enumerate(group):
            y = t.invert(sr[i : i + 1])
            outputs.append(back_project(y, lr, sf, iterations=back_projection_iters, kernel=kernel))
    fused = _median(torch.cat(outputs, dim=0))[None]
    return back_project(fused, lr, sf, iterations=back_projection_iters, kernel=kernel)
