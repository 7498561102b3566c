"""Inference in row bands: the ensemble of a large output in bounded memory (issue #13, item 3).

:func:`~zssr.ensemble.super_resolve` holds every variant at the full output size
(18 float32 values per output pixel and channel, benchmarks/results/memory_plan.md):
a 4000×3000 photo at ×2 would need ~13 GB. Here the output is made a band of input
rows at a time, over the full width:

* each variant's net output is computed once per row and kept while later bands
  still need it (a few rows of halo cover the interpolation and the 3×3 stack);
* the variants' back-projections, the median and the final back-projection run on
  each band with halos that cover their reach (the cheap part is what is redone).

Every output pixel is then the one ``super_resolve`` gives (up to float rounding,
tests/test_bands.py). It needs an integer vertical factor, where a band's pixel grid
is the image's grid (MATLAB's sampling phase, and the kernel's subsampling rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .ensemble import (
    Transform,
    back_project,
    ensemble_transforms,
    forward_tiled,
    pixelwise_median,
    planewise,
    super_resolve,
)
from .resize import imresize, output_size

__all__ = ["MIN_BAND_ROWS", "RESIZE_REACH", "BandPlan", "band_plan", "super_resolve_bounded", "super_resolve_in_bands"]

#: Input rows a bicubic sample reaches either way, up- or (antialiased) downscaling: the
#: 4-tap kernel plus MATLAB's spare taps (docs/authors_code.md §6).
RESIZE_REACH = 3

#: Fewest input rows a band makes: below this the halos' redone work dominates.
MIN_BAND_ROWS = 32


@dataclass(frozen=True)
class BandPlan:
    """How a ``H×W`` input's output is cut: ``rows`` input rows a band, halos in input rows."""

    rows: int
    net_halo: int
    back_projection_halo: int
    bands: int

    @property
    def window_rows(self) -> int:
        """Input rows a band's back-projections work on at most (the band and both halos)."""
        return self.rows + 4 * self.back_projection_halo


def band_plan(
    input_size: tuple[int, int], sf: tuple[float, float], *, depth: int, back_projection_iters: int,
    kernel_side: int | None, pixels: int,
) -> BandPlan | None:
    """The bands for an output of about ``pixels`` window pixels at a time, or None where bands cannot be exact.

    Reach per back-projection pass: the up-step's bicubic plus the down-step's
    (bicubic, or the kernel's half-width in input rows); the variants' passes and the
    final ones each need that many rows times the iterations.
    """
    sy = sf[0]
    if sy != int(sy) or sy < 1:
        return None
    s = int(sy)
    h, w = input_size
    out_w = output_size((h, w), sf)[1][1]
    down = RESIZE_REACH if kernel_side is None else math.ceil((kernel_side // 2 + 1) / s) + 1
    bp_halo = back_projection_iters * (RESIZE_REACH + down)
    net_halo = RESIZE_REACH + math.ceil(depth / min(sf)) + 1
    rows = max(MIN_BAND_ROWS, pixels // (s * out_w) - 4 * bp_halo)
    return BandPlan(rows=rows, net_halo=net_halo, back_projection_halo=bp_halo, bands=math.ceil(h / rows))


def super_resolve_bounded(
    net: torch.nn.Module,
    lr: torch.Tensor,
    sf: tuple[float, float],
    *,
    ensemble: bool = True,
    back_projection_iters: int = 10,
    kernel: torch.Tensor | None = None,
    output_pixels: int | None = None,
    max_pixels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """:func:`~zssr.ensemble.super_resolve`, in row bands when the output is above ``output_pixels`` (None: never)."""
    h, w = int(lr.shape[-2]), int(lr.shape[-1])
    oh, ow = output_size((h, w), sf)[1]
    plan = None
    if output_pixels is not None and oh * ow > output_pixels:
        plan = band_plan(
            (h, w), sf, depth=_depth(net), back_projection_iters=back_projection_iters,
            kernel_side=None if kernel is None else max(int(kernel.shape[-2]), int(kernel.shape[-1])), pixels=output_pixels,
        )
    if plan is None or plan.bands == 1:
        return super_resolve(
            net, lr, sf, ensemble=ensemble, back_projection_iters=back_projection_iters, kernel=kernel,
            max_pixels=max_pixels, progress=progress,
        )
    return super_resolve_in_bands(
        net, lr, sf, plan, ensemble=ensemble, back_projection_iters=back_projection_iters, kernel=kernel,
        max_pixels=max_pixels, progress=progress,
    )


def _depth(net: torch.nn.Module) -> int:
    return sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d))


def _net_rows(
    net: torch.nn.Module, lr: torch.Tensor, t: Transform, sf: tuple[float, float], rows: tuple[int, int], halo: int,
    max_pixels: int | None,
) -> torch.Tensor:
    """The clamped, turned-back net output of variant ``t`` for input rows ``rows`` (full width)."""
    s = int(sf[0])
    h = int(lr.shape[-2])
    m0, m1 = rows
    l0, l1 = max(m0 - halo, 0), min(m1 + halo, h)
    sf_t = (sf[1], sf[0]) if t.swaps_axes else sf
    up = planewise(lambda p: imresize(p, sf_t), t.apply(lr[..., l0:l1, :]))
    y = t.invert(forward_tiled(net, up, max_pixels=max_pixels).clamp_(0.0, 1.0))
    return y[..., (m0 - l0) * s : (m1 - l0) * s, :].contiguous()


@torch.no_grad()
def super_resolve_in_bands(
    net: torch.nn.Module,
    lr: torch.Tensor,
    sf: tuple[float, float],
    plan: BandPlan,
    *,
    ensemble: bool = True,
    back_projection_iters: int = 10,
    kernel: torch.Tensor | None = None,
    max_pixels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """``super_resolve`` made ``plan.rows`` input rows at a time (see the module docstring).

    Shape:
        ``1×C×H×W`` → ``1×C×H·sf_y×ceil(W·sf_x)``, values in [0, 1].
    """
    net.eval()
    s = int(sf[0])
    h, w = int(lr.shape[-2]), int(lr.shape[-1])
    out_w = output_size((h, w), sf)[1][1]
    transforms = ensemble_transforms(sf, ensemble)
    reach = plan.back_projection_halo
    result = torch.empty((1, lr.shape[1], h * s, out_w), dtype=lr.dtype, device=lr.device)
    cached: list[torch.Tensor | None] = [None] * len(transforms)
    cache_rows = (0, 0)  # input rows the cached net outputs cover
    total = plan.bands * (2 * len(transforms) + 1)
    done = 0
    if progress is not None:
        progress(0, total)
    for a in range(0, h, plan.rows):
        b = min(a + plan.rows, h)
        f0, f1 = max(a - reach, 0), min(b + reach, h)  # rows the median must be right on
        w0, w1 = max(f0 - reach, 0), min(f1 + reach, h)  # rows each variant's back-projection sees
        stack = torch.empty((len(transforms), lr.shape[1], (f1 - f0) * s, out_w), dtype=lr.dtype, device=lr.device)
        new0 = max(cache_rows[1], w0)
        for i, t in enumerate(transforms):
            fresh = _net_rows(net, lr, t, sf, (new0, w1), plan.net_halo, max_pixels) if new0 < w1 else None
            old = cached[i]
            kept = None if old is None or cache_rows[1] <= w0 else old[..., (w0 - cache_rows[0]) * s :, :]
            parts = [p for p in (kept, fresh) if p is not None]
            rows = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-2)
            cached[i] = rows
            del old, kept, fresh, parts
            done += 1
            if progress is not None:
                progress(done, total)
            y = back_project(rows, lr[..., w0:w1, :], sf, iterations=back_projection_iters, kernel=kernel)
            stack[i] = y[0, :, (f0 - w0) * s : (f1 - w0) * s, :]
            del y, rows
            done += 1
            if progress is not None:
                progress(done, total)
        cache_rows = (w0, w1)
        fused = pixelwise_median(stack)[None]
        del stack
        out = back_project(fused, lr[..., f0:f1, :], sf, iterations=back_projection_iters, kernel=kernel)
        result[..., a * s : b * s, :] = out[..., (a - f0) * s : (b - f0) * s, :]
        del fused, out
        done += 1
        if progress is not None:
            progress(done, total)
    return result
