"""Inference: geometric self-ensemble, pixelwise median, back-projection (paper §3, docs/authors_code.md §4).

The trained net is applied to the 8 rotations/flips of the input (4 for
anisotropic factors, where a 90° turn would swap the factors), each output is
turned back and back-projected, the pixelwise median is taken (median, not mean:
paper §3) and back-projected once more.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .examples import degrade
from .resize import imresize, output_size

__all__ = [
    "Transform", "TRANSFORMS", "back_project", "super_resolve", "forward_tiled", "planewise", "tile_count", "tile_pixels",
    "PLANEWISE_ELEMENTS", "TILE_PIXELS_CPU", "TILE_PIXELS_ACCELERATOR", "MEDIAN_CHUNK", "pixelwise_median", "ensemble_transforms",
]


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


def ensemble_transforms(sf: tuple[float, float], ensemble: bool) -> tuple[Transform, ...]:
    """The variants the net is applied to: all 8, the 4 that keep the axes for anisotropic factors, or none."""
    if not ensemble:
        return TRANSFORMS[:1]
    if sf[0] != sf[1]:
        return tuple(t for t in TRANSFORMS if not t.swaps_axes)
    return TRANSFORMS


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
    Large images are resampled one channel plane at a time (same values), so
    Ctrl-C is honoured between planes rather than after a multi-second call.
    """
    y = sr
    lr_size = (int(lr.shape[-2]), int(lr.shape[-1]))
    sr_size = (int(sr.shape[-2]), int(sr.shape[-1]))
    for _ in range(iterations):
        residual = lr - planewise(lambda p: degrade(p, sf, kernel, lr_size), y)
        y = (y + planewise(lambda p: imresize(p, sf, size=sr_size), residual)).clamp_(0.0, 1.0)
    return y


#: Elements (input + output) above which a resampling is split into channel planes:
#: about 0.1 s of work on a 2-core CPU (benchmarks/results/memory_plan.md).
PLANEWISE_ELEMENTS = 1 << 23


def planewise(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, elements: int = PLANEWISE_ELEMENTS,
              factor: float = 4.0) -> torch.Tensor:
    """``fn(x)`` for a per-plane operation on ``N×C×H×W``, one plane at a time when ``x`` is large.

    ``fn`` must treat each ``(n, c)`` plane independently (resampling does), so the
    result is the same; a long native call cannot be interrupted, a loop of short
    ones can. ``factor`` bounds the output's size relative to the input's.
    """
    n, c = int(x.shape[0]), int(x.shape[1])
    if n * c == 1 or x.numel() * (1.0 + factor) <= elements:
        return fn(x)
    out: torch.Tensor | None = None
    for i in range(n):
        for j in range(c):
            plane = fn(x[i : i + 1, j : j + 1])
            if out is None:  # written in place: no list of planes plus their concatenation
                out = torch.empty((n, c, *plane.shape[-2:]), dtype=plane.dtype, device=plane.device)
            out[i, j] = plane[0, 0]
    assert out is not None  # n·c > 1
    return out


#: Net input pixels per call: a tile of ``2**16`` pixels takes about a quarter of a
#: second on a 2-core CPU (so Ctrl-C is honoured well within a second even on a slower
#: or busy CPU, and the 64-channel activations stay at 16 MiB each). Its 8-pixel halos
#: add 12.5% to the work; ``2**17`` tiles (7.6%) made inference only 4% faster
#: (benchmarks/results/inference_profile.md), not worth twice the Ctrl-C latency.
#: GPUs get larger tiles, where calls are cheap.
TILE_PIXELS_CPU = 1 << 16
TILE_PIXELS_ACCELERATOR = 1 << 21


def tile_pixels(device: torch.device | str) -> int:
    """The tile size :func:`forward_tiled` uses on ``device`` (see :data:`TILE_PIXELS_CPU`)."""
    return TILE_PIXELS_CPU if torch.device(device).type == "cpu" else TILE_PIXELS_ACCELERATOR


def tile_count(net: torch.nn.Module, size: tuple[int, int], max_pixels: int) -> int:
    """How many calls :func:`forward_tiled` makes for one ``size`` image (1 when it fits in one)."""
    h, w = size
    if h * w <= max_pixels:
        return 1
    side = max(64, int(math.sqrt(max_pixels)) - 2 * _halo(net))
    return math.ceil(h / side) * math.ceil(w / side)


def _halo(net: torch.nn.Module) -> int:
    return sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d))


def forward_tiled(
    net: torch.nn.Module, x: torch.Tensor, *, max_pixels: int | None = None, on_call: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """``net(x)`` computed in overlapping tiles when ``x`` is large.

    The net is a stack of ``depth`` 3×3 convolutions, so an output pixel sees
    ``depth`` pixels each way: tiles with a halo of ``depth`` give exactly the
    full-image result while bounding memory (a 2048² output at 64 channels is
    1 GiB per activation) and the time of one native call (Ctrl-C is only seen
    between calls). A batch is tiled one image at a time.

    Args:
        net: the trained net.
        x: its input, ``N×C×H×W``.
        max_pixels: the most ``N·H·W`` input pixels per call; default by device
            (:func:`tile_pixels`).
        on_call: called with the number of images' tiles each call completed
            (``N`` for a whole batch in one call, 1 per tile), for progress.
    """
    n, _, h, w = x.shape
    limit = tile_pixels(x.device) if max_pixels is None else max_pixels
    if n * h * w <= limit:
        y = net(x)
        if on_call is not None:
            on_call(n)  # each image fits in this one call: one tile each
        return y
    if n > 1:
        batch = torch.empty_like(x)
        for i in range(n):
            batch[i : i + 1] = forward_tiled(net, x[i : i + 1], max_pixels=limit, on_call=on_call)
        return batch
    halo = _halo(net)
    side = max(64, int(math.sqrt(limit)) - 2 * halo)
    out = torch.empty_like(x)
    for top in range(0, h, side):
        for left in range(0, w, side):
            t0, l0 = max(top - halo, 0), max(left - halo, 0)
            b1, r1 = min(top + side + halo, h), min(left + side + halo, w)
            tile = net(x[..., t0:b1, l0:r1])
            bh, bw = min(side, h - top), min(side, w - left)
            out[..., top : top + bh, left : left + bw] = tile[..., top - t0 : top - t0 + bh, left - l0 : left - l0 + bw]
            if on_call is not None:
                on_call(1)
    return out


#: Pixels per chunk of the median's sort (whose int64 indices would otherwise
#: double the ensemble's memory); also keeps each native call short.
MEDIAN_CHUNK = 1 << 20


def pixelwise_median(stack: torch.Tensor) -> torch.Tensor:
    """Pixelwise median over dim 0; the mean of the middle two for an even count (numpy's)."""
    n = stack.shape[0]
    if n == 1:
        return stack[0]
    flat = stack.reshape(n, -1)
    out = torch.empty(flat.shape[1], dtype=stack.dtype, device=stack.device)
    for start in range(0, flat.shape[1], MEDIAN_CHUNK):
        ordered = flat[:, start : start + MEDIAN_CHUNK].sort(dim=0).values
        if n % 2:
            out[start : start + MEDIAN_CHUNK] = ordered[n // 2]
        else:
            out[start : start + MEDIAN_CHUNK] = 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
    return out.reshape(stack.shape[1:])


@torch.no_grad()
def super_resolve(
    net: torch.nn.Module,
    lr: torch.Tensor,
    sf: tuple[float, float],
    *,
    ensemble: bool = True,
    back_projection_iters: int = 10,
    kernel: torch.Tensor | None = None,
    max_pixels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply the trained net to the whole image with ensemble, median and back-projection.

    ``progress(done, total)`` is called as the work goes (net tiles of each variant,
    then each variant's back-projection, then the final one): on a large output the
    inference takes longer than training, and the user should see it move.

    Shape:
        ``1×C×H×W`` → ``1×C×ceil(H·sf_y)×ceil(W·sf_x)``, values in [0, 1].
    """
    net.eval()
    transforms = ensemble_transforms(sf, ensemble)
    # Memory (benchmarks/results/memory_plan.md): the variants' outputs go straight
    # into one preallocated stack, the net's input is freed before back-projection
    # and the median sorts in chunks, so the peak is about (n + 2·g)·C·H'·W' floats
    # for n variants in groups of g, plus one tile of activations.
    out_size = output_size((int(lr.shape[-2]), int(lr.shape[-1])), sf)[1]
    stack = torch.empty((len(transforms), lr.shape[1], *out_size), dtype=lr.dtype, device=lr.device)
    index = 0
    limit = tile_pixels(lr.device) if max_pixels is None else max_pixels
    total = 1 + sum(1 + tile_count(net, out_size[::-1] if t.swaps_axes else out_size, limit) for t in transforms)
    done = 0

    def advance(units: int) -> None:
        nonlocal done
        done += units
        if progress is not None:
            progress(done, total)

    advance(0)
    # Variants of equal shape go through the net as one batch.
    for swapped in (False, True):
        group = [t for t in transforms if t.swaps_axes == swapped]
        if not group:
            continue
        batch = torch.cat([t.apply(lr) for t in group], dim=0)
        sf_t = (sf[1], sf[0]) if swapped else sf
        up = planewise(lambda p: imresize(p, sf_t), batch)
        del batch
        sr = forward_tiled(net, up, max_pixels=limit, on_call=advance)
        del up
        sr.clamp_(0.0, 1.0)
        for i, t in enumerate(group):
            y = t.invert(sr[i : i + 1])
            stack[index : index + 1] = back_project(y, lr, sf, iterations=back_projection_iters, kernel=kernel)
            index += 1
            advance(1)
        del sr
    fused = pixelwise_median(stack)[None]
    del stack
    result = back_project(fused, lr, sf, iterations=back_projection_iters, kernel=kernel)
    advance(1)
    return result
