"""Training examples cut from the test image itself: HR fathers and their LR sons.

Paper §3 and docs/authors_code.md §2.1–2.2. Each iteration draws one father: a crop of the
input (or, in gradual SR, of an earlier output) in one of three augmentation
modes, then makes its son by downscaling it with the SR kernel (MATLAB bicubic
or the given kernel), optionally adding noise to the son only (paper §3:
"teaches the network to ignore uncorrelated cross-scale information").
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .config import Config
from .kernels import downscale
from .resize import imresize

__all__ = [
    "FatherDraw", "FatherSource", "FatherSampler", "add_son_noise", "degrade", "input_sources", "jpeg_roundtrip", "make_son",
    "son_degradation", "Mode",
]

Mode = Literal["as-is", "no-interp", "affine"]

_CANDIDATES = 16  # crop offsets tried per affine draw before redrawing the transform
_REDRAWS = 8


@dataclass(frozen=True)
class FatherSource:
    """An image fathers are cut from, and its scale relative to the input (1 for the input).

    ``group``: sources sharing a group (all at one ``base_scale``) are interchangeable, e.g.
    the slices of a stack (issue #29): a draw that picks one of them picks uniformly among
    them, so one net learns from all. ``None`` (a single image) draws as before.
    """

    image: torch.Tensor
    base_scale: float
    group: int | None = None


def input_sources(images: Sequence[torch.Tensor], father_scale: float = 1.0, group: int | None = None) -> list[FatherSource]:
    """The father sources the input gives: each image itself, or its copy downscaled by ``father_scale`` < 1.

    Why: a scale-1 father holds the input's own artefacts on the input's pixel grid (a
    JPEG's 8×8 blocks), and the net learns to draw them into the output; an anti-aliased
    downscaled copy (MATLAB bicubic) softens them and moves them off any fixed period
    (``Config.father_scale``, *ours*, issue #28).
    """
    if father_scale >= 1.0:
        return [FatherSource(image, 1.0, group=group) for image in images]
    return [FatherSource(imresize(image, father_scale), father_scale, group=group) for image in images]


@dataclass(frozen=True)
class FatherDraw:
    """The geometry of one father (:meth:`FatherSampler.draw`), in source pixel coordinates.

    ``exact``: ``(top, left, height, width, k, mirror)`` of an integer crop turned ``k``
    quarter turns and mirrored (as-is / no-interp modes). Otherwise the crop pixel ``p``
    (``x, y``) samples the source at ``(p + Σpre) @ inverse.T + Σpost`` (or
    ``(p + Σpre) / divide + Σpost``), bicubically with ``padding``; the terms are kept
    apart and added in the order they always were, so the float64 points are bit-identical.
    """

    source: int
    exact: tuple[int, int, int, int, int, bool] | None = None
    pre: tuple[np.ndarray | float, ...] = ()
    inverse: np.ndarray | None = None
    divide: np.ndarray | None = None
    post: tuple[np.ndarray | float, ...] = ()
    padding: str = "reflection"

    def source_points(self, pixels: np.ndarray) -> np.ndarray:
        """Where the crop pixels ``pixels`` (``…×2``, ``x, y``) sample the source (warp draws only)."""
        if self.exact is not None:
            raise ValueError("an exact crop has no warp")
        moved = pixels
        for term in self.pre:
            moved = moved + term
        out = moved @ self.inverse.T if self.inverse is not None else moved / self.divide
        for term in self.post:
            out = out + term
        return out

    def affine(self, crop: tuple[int, int]) -> np.ndarray:
        """``2×3`` matrix ``M`` with source ``(x, y) = M @ (x_crop, y_crop, 1)`` for a father of size ``crop``.

        Exact crops too: a quarter turn and a mirror are integer affine maps, found by
        turning the crop's own coordinate grid as :meth:`FatherSampler.render` turns its pixels.
        """
        if self.exact is None:
            ch, cw = crop
            origin = self.source_points(np.zeros((1, 2)))[0]
            ex = self.source_points(np.array([[1.0, 0.0]]))[0] - origin
            ey = self.source_points(np.array([[0.0, 1.0]]))[0] - origin
            return np.stack([ex, ey, origin], axis=1)
        top, left, ch, cw, k, mirror = self.exact
        ys, xs = np.meshgrid(np.arange(top, top + ch, dtype=np.float64), np.arange(left, left + cw, dtype=np.float64),
                             indexing="ij")
        grid = np.rot90(np.stack([xs, ys], -1), k, axes=(0, 1))
        if mirror:
            grid = grid[:, ::-1]
        origin = grid[0, 0]
        ex = grid[0, 1] - origin if grid.shape[1] > 1 else np.array([1.0, 0.0])
        ey = grid[1, 0] - origin if grid.shape[0] > 1 else np.array([0.0, 1.0])
        return np.stack([ex, ey, origin], axis=1)


def degrade(x: torch.Tensor, sf: tuple[float, float], kernel: torch.Tensor | None,
            size: tuple[int, int] | None = None) -> torch.Tensor:
    """The SR degradation by ``sf``: MATLAB bicubic, or the given *aligned* kernel (docs/authors_code.md §6).

    Used for sons and for back-projection's down step alike.
    """
    if kernel is None:
        return imresize(x, (1.0 / sf[0], 1.0 / sf[1]), size=size)
    return downscale(x, kernel, sf, size=size)


def make_son(
    father: torch.Tensor,
    sf: tuple[float, float],
    *,
    kernel: torch.Tensor | None = None,
    noise_std: float | Sequence[float] = 0.0,
    speckle_std: Sequence[float] | None = None,
    jpeg_quality: int | None = None,
    generator: torch.Generator | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Downscale a father by ``sf`` (MATLAB bicubic, or an *aligned* numeric kernel), add noise, compress.

    The son should carry what the input carries (paper §4.2): noise of ``noise_std``
    (one σ, or one per channel) and, for speckle, ``speckle_std`` (σ per unit intensity,
    per channel, scaled by the son's own values), then, for a JPEG input, the same
    compression (:func:`jpeg_roundtrip` at ``jpeg_quality``), in the order a camera applies them.

    Shape:
        ``N×C×H×W`` → ``N×C×ceil(H/sf_y)×ceil(W/sf_x)`` (or ``size``).
    """
    son = degrade(father, sf, kernel, size)
    sigma = _noise_scale(noise_std, int(son.shape[1]))
    speckle = None if speckle_std is None else _noise_scale(tuple(speckle_std), int(son.shape[1]))
    if sigma is not None or speckle is not None:
        # Drawn on the CPU generator so a seed gives the same noise on every device.
        noise = torch.randn(son.shape, generator=generator, dtype=son.dtype, device="cpu").to(son.device)
        son = add_son_noise(son, noise, sigma, speckle)
    if jpeg_quality is not None:
        son = jpeg_roundtrip(son, jpeg_quality)
    return son


def add_son_noise(son: torch.Tensor, noise: torch.Tensor, sigma: float | torch.Tensor | None,
                  speckle: float | torch.Tensor | None) -> torch.Tensor:
    """``son`` plus ``noise`` (N(0, 1)) scaled to σ(I) = √(σ² + (b·I)²), clamped to [0, 1].

    Without speckle it is the authors' ``son + σ·noise`` exactly (same values, same order).
    """
    if speckle is None:
        if sigma is None:
            return son
        return (son + sigma.to(son) * noise if torch.is_tensor(sigma) else son + sigma * noise).clamp(0.0, 1.0)
    b = speckle.to(son) if torch.is_tensor(speckle) else speckle
    variance = (b * son) ** 2
    if sigma is not None:
        variance = variance + (sigma.to(son) if torch.is_tensor(sigma) else sigma) ** 2
    return (son + variance.sqrt() * noise).clamp(0.0, 1.0)


def son_degradation(config: Config) -> tuple[float | tuple[float, ...], tuple[float, ...] | None, int | None]:
    """``noise_std``, ``speckle_std`` and ``jpeg_quality`` of :func:`make_son` (per-channel σ wins over the scalar)."""
    noise: float | tuple[float, ...] = config.noise_std if config.channel_noise_std is None else config.channel_noise_std
    return noise, config.channel_speckle_std, config.jpeg_quality


def _noise_scale(noise_std: float | Sequence[float], channels: int) -> float | torch.Tensor | None:
    """A scalar σ as it is (the authors' path, unchanged), per-channel σ as ``1×C×1×1``; None when zero."""
    if isinstance(noise_std, (int, float)):
        return float(noise_std) if noise_std > 0 else None
    values = [float(v) for v in noise_std]
    if len(values) not in (1, channels):
        raise ValueError(f"noise_std must have 1 or {channels} values (one per channel), got {len(values)}")
    if not any(v > 0 for v in values):
        return None
    return torch.tensor(values * (channels if len(values) == 1 else 1), dtype=torch.float32).view(1, channels, 1, 1)


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Each image of ``x`` saved as an 8-bit JPEG at ``quality`` (Pillow, IJG tables) and decoded again.

    RGB images are compressed as colour JPEGs (Pillow's default 4:2:0 chroma), one
    channel as grayscale, any other count channel by channel. Runs on the CPU.

    Shape:
        ``N×C×H×W`` → same, values on the 8-bit grid.
    """
    codes = (x.detach().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu().numpy()
    out = np.empty(codes.shape, dtype=np.float32)
    for i in range(codes.shape[0]):
        groups = [codes[i]] if codes.shape[1] in (1, 3) else [codes[i, c : c + 1] for c in range(codes.shape[1])]
        planes = []
        for g in groups:
            picture = Image.fromarray(g[0] if g.shape[0] == 1 else np.ascontiguousarray(g.transpose(1, 2, 0)))
            buffer = io.BytesIO()
            picture.save(buffer, format="JPEG", quality=int(quality))
            decoded = np.asarray(Image.open(buffer).convert(picture.mode))
            planes.append(decoded[None] if decoded.ndim == 2 else decoded.transpose(2, 0, 1))
        out[i] = np.concatenate(planes, axis=0)
    return torch.from_numpy(out / np.float32(255.0)).to(device=x.device, dtype=x.dtype)


def _inside(points: np.ndarray, h: int, w: int) -> np.ndarray:
    """Which (x, y) points (…×2) lie within the pixel-centre box of an h×w image."""
    x, y = points[..., 0], points[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


class FatherSampler:
    """Draws HR-father crops with the authors' source rule and augmentation modes.

    Args:
        config: augmentation fields of :class:`~zssr.config.Config`.
        crop: ``(H, W)`` of every father (``crop_size`` clamped to the input).
        rng: all geometric randomness (seeded by the caller).

    The authors' affine crops are placed without re-centring, so ~25–39% of
    their pixels are black on average (docs/authors_code.md §2.1). By default we place each
    crop so that all of it lies inside the transformed source (rejection
    sampling of the offset, then of the transform, then an axis-aligned
    fallback); ``config.legacy_crops`` reproduces the authors' placement.
    """

    def __init__(self, config: Config, crop: tuple[int, int], rng: np.random.Generator) -> None:
        self.config = config
        self.crop = crop
        self.rng = rng
        # crop pixel (x, y) positions, shared by every affine draw
        ys, xs = np.meshgrid(np.arange(crop[0], dtype=np.float64), np.arange(crop[1], dtype=np.float64), indexing="ij")
        self._pixels = np.stack([xs, ys], -1)

    # -- which source and which mode (docs/authors_code.md §2.1 "Scale and source") --------
    def _mode(self) -> Mode:
        r = self.rng.random()
        c = self.config
        if r < c.augment_as_is_probability:
            return "as-is"
        if r < c.augment_as_is_probability + c.augment_no_interpolate_probability:
            return "no-interp"
        return "affine"

    def _source_index(self, sources: list[FatherSource], scale: float) -> int:
        chosen = len(sources) - 1
        for i, src in enumerate(sources):
            if src.base_scale > scale - 1e-6:
                chosen = i
                break
        group = sources[chosen].group
        if group is None:
            return chosen
        # multi-source sampling: uniformly among the interchangeable sources (one random number per draw)
        members = [i for i, src in enumerate(sources) if src.group == group]
        return members[int(self.rng.integers(0, len(members)))]

    def sample(self, sources: list[FatherSource]) -> torch.Tensor:
        """One father, ``1×C×crop_h×crop_w``, values in [0, 1]."""
        return self.render(self.draw(sources), sources)

    def draw(self, sources: list[FatherSource]) -> FatherDraw:
        """The geometry of one father, drawn without touching pixels (same random stream as :meth:`sample`).

        Why: the device engine (:mod:`zssr.step`) draws a whole block of fathers on the
        host and renders them on the GPU, so no iteration waits for the host.
        """
        mode = self._mode()
        c = self.config
        max_scale = sources[-1].base_scale
        scale = 1.0 if mode == "as-is" else float(self.rng.uniform(c.augment_min_scale, max(max_scale, c.augment_min_scale)))
        index = self._source_index(sources, scale)
        src = sources[index]
        if mode == "affine":
            return self._affine(index, src, scale / src.base_scale)
        rotate = c.allow_rotation and mode == "no-interp"
        k = int(self.rng.integers(0, 4)) if rotate else 0
        mirror = bool(self.rng.random() < 0.5) if rotate else False
        return self._exact_draw(index, src.image, k, mirror)

    def render(self, draw: FatherDraw, sources: list[FatherSource]) -> torch.Tensor:
        """The father pixels of ``draw``: an exact crop (rot90, mirror), or a bicubic warp."""
        image = sources[draw.source].image
        if draw.exact is not None:
            top, left, ch, cw, k, mirror = draw.exact
            crop = image[..., top : top + ch, left : left + cw]
            if k:
                crop = torch.rot90(crop, k, dims=(-2, -1))
            return crop.flip(-1) if mirror else crop
        return self._warp(image, draw.source_points(self._pixels), padding=draw.padding)

    # -- as-is / no-interp: integer crop, then rot90 and mirror (no resampling)
    def _exact_draw(self, index: int, image: torch.Tensor, k: int, mirror: bool) -> FatherDraw:
        ch, cw = self.crop
        if k % 2:
            ch, cw = cw, ch  # a 90° turn swaps the crop's sides in the source
        h, w = image.shape[-2:]
        ch, cw = min(ch, h), min(cw, w)
        top = int(self.rng.integers(0, h - ch + 1))
        left = int(self.rng.integers(0, w - cw + 1))
        return FatherDraw(index, exact=(top, left, ch, cw, k, mirror))

    # -- affine: scale, anisotropy, mirror, rotation, shear (OpenCV-cubic warp)
    def _draw_linear(self, scale: float) -> np.ndarray:
        c = self.config
        d = self.rng.normal(0.0, c.augment_scale_diff_sigma) if c.augment_scale_diff_sigma > 0 else 0.0
        sx, sy = scale + d / 2.0, scale - d / 2.0
        sx, sy = max(sx, 1e-3), max(sy, 1e-3)
        if c.allow_rotation:
            if self.rng.random() < 0.5:
                sx = -sx
            theta = self.rng.uniform(0.0, 2.0 * math.pi)
        else:
            theta = 0.0
        a, b = (self.rng.normal(0.0, c.augment_shear_sigma, 2) if c.augment_shear_sigma > 0 else (0.0, 0.0))
        shear = np.array([[1.0, a], [b, 1.0]])
        rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        return shear @ rot @ np.diag([sx, sy])  # output = L · (source − c) + c' (x, y order)

    def _affine(self, index: int, src: FatherSource, scale: float) -> FatherDraw:
        image = src.image
        h, w = image.shape[-2:]
        ch, cw = self.crop
        centre = np.array([w / 2.0, h / 2.0])
        if self.config.legacy_crops:
            lin = self._draw_linear(scale)
            # authors: t = U·clip(sW − crop) without re-centring (docs/authors_code.md §2.1 "Quirk")
            t = np.array([self.rng.random() * max(scale * w - cw, 0.0), self.rng.random() * max(scale * h - ch, 0.0)])
            return FatherDraw(index, pre=(t, -centre), inverse=np.linalg.inv(lin), post=(centre,), padding="zeros")
        half = np.array([(cw - 1) / 2.0, (ch - 1) / 2.0])
        corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float64) * half
        for _ in range(_REDRAWS):
            lin = self._draw_linear(scale)
            inv = np.linalg.inv(lin)
            extent = np.abs(lin) @ np.array([w / 2.0, h / 2.0])
            room = np.maximum(extent - half, 0.0)
            offsets = self.rng.uniform(-1.0, 1.0, size=(_CANDIDATES, 2)) * room
            src_corners = (offsets[:, None, :] + corners[None]) @ inv.T + centre - 0.5
            ok = _inside(src_corners, h, w).all(axis=1)
            if ok.any():
                o = offsets[int(np.argmax(ok))]
                return FatherDraw(index, pre=(-half, o), inverse=inv, post=(centre, -0.5))
        # Axis-aligned fallback: always fits once the scaled source covers the crop.
        sx, sy = max(scale, cw / w), max(scale, ch / h)
        o = self.rng.uniform(-1.0, 1.0, 2) * np.maximum(np.array([sx * w, sy * h]) / 2.0 - half, 0.0)
        return FatherDraw(index, pre=(-half, o), divide=np.array([sx, sy]), post=(centre, -0.5))

    @staticmethod
    def _warp(image: torch.Tensor, src_pts: np.ndarray, padding: str) -> torch.Tensor:
        """Bicubic (a = −0.75, OpenCV INTER_CUBIC, no antialiasing) sampling at source pixel coords."""
        h, w = image.shape[-2:]
        grid = np.empty_like(src_pts)
        grid[..., 0] = (2.0 * src_pts[..., 0] + 1.0) / w - 1.0
        grid[..., 1] = (2.0 * src_pts[..., 1] + 1.0) / h - 1.0
        g = torch.as_tensor(grid, dtype=image.dtype, device=image.device)[None]
        out = F.grid_sample(image, g, mode="bicubic", padding_mode=padding, align_corners=False)
        return out.clamp(0.0, 1.0)
