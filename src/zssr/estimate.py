"""KernelGAN: blind estimation of the SR (downscaling) kernel from the LR image alone.

KernelGAN (Bell-Kligler, Shocher & Irani, NeurIPS 2019) trains an image-specific
GAN on the LR image only: a deep *linear* generator G downscales crops of the image
by 2, and a patch discriminator D tells G's output patches from the image's own
patches. At equilibrium G's downscaling preserves the patch distribution across
scales, so G *is* the SR kernel (paper §3). Every architectural and schedule
number below is the authors' default (anchors §1, `sefibk/KernelGAN`).

Speed: G is linear and bias-free with its stride on the last (1×1) layer, so
``G(x)`` equals one 13×13 correlation followed by 2× subsampling. We train the
six-layer parameterisation (its over-parameterisation is what the paper relies
on), but in each step compose the weights into that 13×13 kernel first and apply
it once: the output and the gradients are the same functions of the weights as
the layer-by-layer pass (tested), at a small fraction of the cost. CPU runs are
pinned to one intra-op thread (every op is tiny). 3000 iterations take about a
minute of CPU time.

Convention:
    Kernels are **correlation** kernels, as everywhere in ``zssr.kernels``. With
    ``k13`` G's raw 13×13 kernel, ``G(x)[i, j] = Σ_{a,b} k13[a, b] · x[2i + a, 2j + b]``,
    i.e. ``G(x) == downscale(x, k13, 2)[..., 3:, 3:]`` (``downscale`` anchors a 13-tap
    kernel at tap 6 = 3 LR pixels; tested).

    Position: a kernel's translation is not identifiable (D only sees
    translation-invariant patch statistics). The bicubic prior and the centralized
    loss pull G's centre of mass to ``(6.5, 6.5)`` (0-based), half a pixel off the
    13-grid centre. The returned ×2 kernel is ``k13`` with one zero row and column
    appended at the bottom/right: 14×14 with its centre of mass at the geometric
    centre, as ``bicubic_kernel(2)`` (8×8, centre 3.5): the *unaligned* convention
    of ``zssr.kernels``. The optional width correction (``WIDTH_CORRECTION``) resamples it
    about its centre of mass onto a larger even grid, keeping that convention. Equal
    all-zero margins are then cropped (lossless), so it is an even square. No sub-pixel shift is applied here (KernelGAN's
    own ``kernel_shift`` is left to ``align_kernel(k, 2)`` at use time; for this
    kernel that is an integer shift plus the small residual of G's centring, so a
    second interpolation is avoided).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn
from tqdm.auto import tqdm

from .errors import ConfigError, KernelError, ScaleError, ShapeError, ZSSRError
from .resize import INTERP_KERNELS, imresize

__all__ = ["DEGENERATE_SPREAD", "KernelEstimate", "estimate_kernel", "spread_mass"]

# --- authors' defaults (anchors §1; sefibk/KernelGAN configs.py / learner.py) ---
G_STRUCTURE: tuple[int, ...] = (7, 5, 3, 1, 1, 1)  # G's kernel sizes; effective kernel 13×13
G_CHANNELS = 64
D_CHANNELS = 64
D_KERNEL = 7  # D's receptive field: it judges 7×7 patches
D_LAYERS = 7  # first 7×7 conv + 5 × (1×1, BN, ReLU) + final 1×1
CROP = 64  # G's input crop
KERNEL_SIZE = sum(G_STRUCTURE) - len(G_STRUCTURE) + 1  # 13
D_CROP = (CROP - KERNEL_SIZE) // 2 + 1  # 26: G's output size = D's real crop size
MARGIN = 10  # border shaved first: synthetic LR images carry boundary artefacts there
MIN_SIZE = CROP + 2 * MARGIN  # 84
LEARNING_RATE = 2e-4
BETAS = (0.5, 0.999)
LR_STEP, LR_DECAY = 750, 10.0
LAMBDA_SUM2ONE, LAMBDA_BOUNDARIES = 0.5, 0.5
LAMBDA_BICUBIC_START, LAMBDA_BICUBIC_MIN, BICUBIC_DECAY, BICUBIC_STEP = 5.0, 5e-6, 100.0, 200
BICUBIC_SIMILAR, BICUBIC_PATIENCE = 0.4, 3  # "similar to bicubic": loss < 0.4 on 3 consecutive iterations
CONSTRAINTS_ON_BELOW = 5e-3  # when λ_bicubic drops below this, switch on:
LAMBDA_CENTRALIZED, LAMBDA_SPARSE = 1.0, 5.0
SPARSE_POWER = 0.2
BOUNDARY_PENALTY = 30.0
# *ours*: an estimate with more than this share of its mass over 4.5 px (Chebyshev) from
# its centre of mass is degenerate. Measured on 42 Set14 estimates: every healthy kernel
# had <= 0.006, every failure >= 0.2 (benchmarks/results/gpu_h200/table2_safeguard.md).
DEGENERATE_SPREAD = 0.2
SPREAD_RADIUS = 4.5
N_FILTERING = 40  # post-processing keeps taps above 0.75 × the (N+1)-th largest
# *ours*, opt-in: G's kernel is the blur that makes LR↓ look like LR, not the blur that
# made LR from HR. For Gaussian blurs of a sharp image those differ by a factor √3/2 in
# width (LR's blur σ/2 in its own pixels; σ'² + σ²/4 = 4·σ²/4 ⇒ σ' = (√3/2)·σ), so the
# ×2 estimate can be stretched by 2/√3 (covariance × 4/3). That brings the kernel closer
# to the true degradation (LR re-synthesis +3.5 dB on Set14) but makes *ZSSR* worse:
# KernelGAN under-estimates anisotropy, the stretch over-widens the true minor axis, and
# ZSSR given a too-wide kernel over-sharpens (benchmarks/results/kernel_width_correction.md).
WIDTH_CORRECTION = 2.0 / math.sqrt(3.0)
RESTARTS = 2  # *ours*: fresh seeds tried after a degenerate estimate (see KernelEstimate.reliable)
NOISE_REAL = 2.0 / 255.0  # 1/255 on the [0,1] scale, added to D's real crops (data.py)
NOISE_FAKE = 1.0 / 255.0  # added on the working [-1,1] scale to G's output in D's step (kernelGAN.py)
# The authors' DataGenerator adds D's noise to a numpy *view* of the image (``crop_im +=``),
# so the noise stays in the image: it piles up where D's crops fall (the edges) and G's
# later crops read it too. A diagnostic switch, off: it does not make the estimates follow
# the blur (benchmarks/results/kernelgan_ab_noise.md); some derived repositories copy the
# crop instead.
NOISE_ACCUMULATES = False

LOSS_NAMES: tuple[str, ...] = (
    "g_adversarial",
    "d",
    "bicubic",
    "sum_to_one",
    "boundaries",
    "centralized",
    "sparse",
)

Callback = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class KernelEstimate:
    """The result of :func:`estimate_kernel`.

    Attributes:
        kernel: 2-D float64 CPU correlation kernel summing to 1 (see module Convention).
        factor: the SR factor the kernel is for.
        iterations: training iterations run (G and D step each).
        seconds: wall-clock time of the estimate.
        losses: per-iteration values of each loss term (unweighted), keys ``LOSS_NAMES``.
        spread: :func:`spread_mass` of the ×2 kernel (before the width correction); above
            ``DEGENERATE_SPREAD`` the estimate is a known KernelGAN failure (see :attr:`reliable`).
        seeds: the seeds trained, in order; more than one when a degenerate estimate was
            retried (``restarts``). ``kernel``, ``losses`` and ``spread`` are the last one's;
            ``iterations`` and ``seconds`` count all of them.
    """

    kernel: torch.Tensor
    factor: float
    iterations: int
    seconds: float
    losses: dict[str, list[float]] = field(default_factory=dict)
    spread: float = 0.0
    seeds: tuple[int, ...] = ()

    @property
    def reliable(self) -> bool:
        """False for a multi-modal kernel whose mass sits far from its centre of mass.

        On periodic or strongly repetitive content (Set14's zebra, bridge, pepper) G can
        settle on a sum of shifted copies of the blur: patches across scales match up to
        a period, so D cannot object, and a kernel split between opposite corners even
        satisfies the centralized loss. ZSSR given such a kernel falls 5–14 dB *below*
        bicubic (benchmarks/results/gpu_h200). Callers fall back to the bicubic kernel.
        """
        return self.spread <= DEGENERATE_SPREAD


# ----------------------------------------------------------------------------- networks


class _Generator(nn.Module):
    """KernelGAN's G: six bias-free convs (7,5,3,1,1,1), 64 channels, stride 2 on the last.

    Colour images run as a batch of grey images (one shared kernel, anchors §1).
    """

    def __init__(self, channels: int = G_CHANNELS, structure: tuple[int, ...] = G_STRUCTURE) -> None:
        super().__init__()
        sizes = list(structure)
        ins = [1] + [channels] * (len(sizes) - 1)
        outs = [channels] * (len(sizes) - 1) + [1]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, s, bias=False) for i, o, s in zip(ins, outs, sizes))

    def kernel(self) -> torch.Tensor:
        """The 13×13 correlation kernel G applies, differentiable in the weights.

        Shape: ``(13, 13)``, on the weights' device and dtype.
        """
        return _compose_layers([conv.weight for conv in self.convs])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Downscale by 2 with the composed kernel (fast path used in training).

        Shape: ``(B, 1, H, W) -> (B, 1, (H - 13) // 2 + 1, (W - 13) // 2 + 1)``.
        """
        return F.conv2d(x, self.kernel()[None, None], stride=2)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The literal layer-by-layer deep-linear pass (reference for the fast path)."""
        last = len(self.convs) - 1
        for n, conv in enumerate(self.convs):
            x = F.conv2d(x, conv.weight, stride=2 if n == last else 1)
        return x


def _compose_layers(weights: list[torch.Tensor]) -> torch.Tensor:
    """One correlation kernel for a chain of bias-free correlations (G's layers).

    Sequential correlations compose into one correlation whose kernel is the full
    *convolution* of the layer kernels, summed over the channels in between. Running
    the chain backwards with ``conv_transpose2d`` (the adjoint of correlation) builds
    it exactly, with no delta image and no flips; pushing a delta through G and
    flipping the result (the authors' ``calc_curr_k``) gives the same kernel.

    Shape: layer weights ``(out, in, s, s)`` → ``(Σs − n + 1, Σs − n + 1)``.
    """
    k = weights[-1]  # 1 × C × 1 × 1: read as "a kernel per input channel of the last layer"
    for w in reversed(weights[:-1]):
        k = F.conv_transpose2d(k, w)
    return k[0, 0]


class _Discriminator(nn.Module):
    """KernelGAN's D: 7×7 SN conv, 5 × [1×1 SN conv, BN, ReLU], 1×1 SN conv, sigmoid.

    A fully convolutional patch critic: each output judges one 7×7 patch. Like the
    authors' D it never leaves train mode (batch statistics, one power iteration per
    forward).

    Shape: ``(1, C, 26, 26) -> (1, 1, 20, 20)``.
    """

    def __init__(self, in_channels: int, channels: int = D_CHANNELS) -> None:
        super().__init__()
        layers: list[nn.Module] = [_sn_conv(in_channels, channels, D_KERNEL)]
        for _ in range(D_LAYERS - 2):
            bn = nn.BatchNorm2d(channels)
            nn.init.normal_(bn.weight, 1.0, 0.02)  # authors' weights_init_D
            nn.init.zeros_(bn.bias)
            layers += [_sn_conv(channels, channels, 1), bn, nn.ReLU(inplace=True)]
        layers += [_sn_conv(channels, 1, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _sn_conv(c_in: int, c_out: int, size: int) -> nn.Module:
    # Authors' weights_init_D: Xavier-normal (gain 0.1), zero bias. Spectral norm
    # rescales the weight anyway, so only the direction of this draw matters.
    conv = nn.Conv2d(c_in, c_out, size, bias=True)
    nn.init.xavier_normal_(conv.weight, 0.1)
    nn.init.zeros_(conv.bias)
    return nn.utils.parametrizations.spectral_norm(conv)


def _build_networks(in_channels: int, seed: int) -> tuple[_Generator, _Discriminator]:
    """Both nets, initialised from ``seed`` without touching torch's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = _Generator()
        for conv in g.convs:
            # Authors' weights_init_G: Xavier-normal, gain 0.1. The composed kernel starts
            # near 0 (~1e-8 per tap); Adam's scale-free steps bootstrap it in a few dozen steps.
            nn.init.xavier_normal_(conv.weight, 0.1)
        d = _Discriminator(in_channels)
    return g, d


# ----------------------------------------------------------------------------- losses


def _bicubic_half_taps() -> torch.Tensor:
    """The 8 taps of MATLAB's antialiased bicubic ×1/2 at an interior pixel.

    Output pixel ``j`` sits between input pixels ``2j`` and ``2j+1`` (distances
    ±0.5, ±1.5, ±2.5, ±3.5); the antialiased kernel is ``½·cubic(d/2)`` (notes §7).
    """
    d = np.arange(-3.5, 4.0, 1.0)
    w = 0.5 * INTERP_KERNELS["cubic"].fn(0.5 * d)
    return torch.as_tensor(w / w.sum(), dtype=torch.float32)


def _bicubic_target(crops: torch.Tensor, taps2d: torch.Tensor, out: int) -> torch.Tensor:
    """MATLAB bicubic ×1/2 of the crops, on G's output grid.

    G's output pixel ``i`` is centred at crop pixel ``2i + 6.5`` when its kernel's
    centre of mass is at 6.5 (the centralized-loss target); the bicubic output centred
    there starts 3 pixels in. Identical to ``imresize(crop, 0.5)[..., 3:29, 3:29]``
    (no border pixel is involved; checked in the tests).
    """
    return F.conv2d(crops[..., 3:, 3:], taps2d, stride=2)[..., :out, :out]


def _penalty_mask(size: int, scale: float = BOUNDARY_PENALTY) -> torch.Tensor:
    """Boundary-loss weights: ``scale·(1 − Gaussian/max)`` on the outer ring, 0 inside.

    Authors' ``create_penalty_mask``: Gaussian of σ = size; for 13×13 only the outer
    2 rows/columns are penalised (the centre ``size//2 + size%2`` plus a 1-px rim is free).
    """
    z = np.arange(size, dtype=np.float64) - (size - 1) // 2
    g = np.exp(-(z[:, None] ** 2 + z[None, :] ** 2) / (2.0 * size**2))
    mask = 1.0 - g / g.max()
    centre = size // 2 + size % 2
    margin = (size - centre) // 2 - 1
    mask[margin : size - margin, margin : size - margin] = 0.0
    return torch.as_tensor(scale * mask, dtype=torch.float32)


def _kernel_losses(
    k: torch.Tensor, mask: torch.Tensor, idx: torch.Tensor, centre: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sum-to-1, boundaries, centralized and sparse regularisers (paper §3, Eq. 4)."""
    total = k.sum()
    sum2one = (1.0 - total).abs()
    boundaries = (k * mask).abs().mean()
    com = torch.stack(((k.sum(1) * idx).sum(), (k.sum(0) * idx).sum())) / total
    centralized = ((com - centre) ** 2).mean()
    # |k|^0.2 has an infinite slope at 0; the clamp keeps an exact-zero tap finite.
    sparse = k.abs().clamp_min(1e-12).pow(SPARSE_POWER).mean()
    return sum2one, boundaries, centralized, sparse


# ----------------------------------------------------------------------------- crops


def _luma(image: torch.Tensor) -> np.ndarray:
    """Grey version of a 1×C×H×W image (BT.601 luma for RGB, as the authors' ``rgb2gray``)."""
    x = image[0].detach().to("cpu", torch.float64).numpy()
    if x.shape[0] == 3:
        return np.tensordot(np.array([0.299, 0.587, 0.114]), x, axes=1)
    return x[0]


def _zero_border(a: np.ndarray, edge: int) -> np.ndarray:
    out = np.zeros_like(a)
    if 2 * edge < a.shape[0] and 2 * edge < a.shape[1]:
        out[edge:-edge, edge:-edge] = a[edge:-edge, edge:-edge]
    return out


def _top_fraction(a: np.ndarray, percent: float) -> np.ndarray:
    """Indicator of the values above the ``percent`` quantile, normalised to sum 1 (or all 0)."""
    flat = np.sort(a.ravel())
    mask = (a > flat[int(percent * (flat.size - 1))]).astype(np.float64)
    s = mask.sum()
    return mask / s if s > 0 else mask


def _gradient_map(gray: np.ndarray, window: int = 5, percent: float = 0.97) -> np.ndarray:
    """Where the image has edges: the authors' ``create_gradient_map``, re-derived.

    Sum of three normalised maps: the top 3 % of ``|∂y|`` pixels, the top 3 % of
    ``|∂x|`` pixels (indicators) and the gradient magnitude itself, each with a
    ``window``-pixel border zeroed; box-blurred over ``window`` and scaled to mean 1.
    """
    gy, gx = np.gradient(gray)
    mag = _zero_border(np.hypot(gx, gy), window)
    comb = _top_fraction(_zero_border(np.abs(gx), window), percent)
    comb = comb + _top_fraction(_zero_border(np.abs(gy), window), percent)
    if mag.sum() > 0:
        comb = comb + mag / mag.sum()
    blurred = ndimage.uniform_filter(comb, window, mode="constant")
    m = blurred.mean()
    return blurred / m if m > 0 else blurred


def _crop_probabilities(loss_map: np.ndarray, crop: int) -> np.ndarray:
    """Crop-centre probabilities ∝ edge content of the crop (authors' ``create_probability_map``).

    Box-blur over ``crop // 2`` (the mass near the centre), zero the centres whose crop
    would leave the image, normalise; uniform if nothing is left (flat images).
    """
    blurred = ndimage.uniform_filter(loss_map, crop // 2, mode="constant")
    prob = _zero_border(np.clip(blurred, 0.0, None), crop // 2).ravel()
    s = prob.sum()
    return prob / s if s > 0 else np.full(prob.size, 1.0 / prob.size)


def _crop_corners(
    prob: np.ndarray, shape: tuple[int, int], size: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` even top-left corners of ``size`` crops, centres drawn from ``prob``.

    Even corners keep G's stride-2 grid on the image's even grid (authors' ``get_top_left``).
    """
    h, w = shape
    centres = rng.choice(prob.size, size=n, p=prob)
    top = np.clip(centres // w - size // 2, 0, h - size)
    left = np.clip(centres % w - size // 2, 0, w - size)
    return np.stack((top - top % 2, left - left % 2), axis=1)


# ----------------------------------------------------------------------------- kernel post-processing


def spread_mass(kernel: np.ndarray | torch.Tensor, radius: float = SPREAD_RADIUS) -> float:
    """Share of a kernel's mass farther than ``radius`` px (Chebyshev) from its centre of mass.

    A ×2 camera blur from KernelGAN's 13×13 support is compact around its centre; a
    failed estimate spreads over the support's edges and corners.
    """
    k = np.abs(np.asarray(kernel, dtype=np.float64))
    total = k.sum()
    if total <= 0:
        return 1.0
    ys, xs = np.indices(k.shape)
    cy, cx = (k * ys).sum() / total, (k * xs).sum() / total
    far = np.maximum(np.abs(ys - cy), np.abs(xs - cx)) > radius
    return float(k[far].sum() / total)


def _filter_negligible(k: np.ndarray, n: int = N_FILTERING) -> np.ndarray:
    """Soft-threshold at 0.75 × the (n+1)-th largest tap, clip at 0, renormalise.

    Authors' ``zeroize_negligible_val``: the threshold is *subtracted* from every tap
    (so every tap below it becomes 0 and the rest lose a common pedestal).
    """
    flat = np.sort(k.ravel())
    thr = 0.75 * flat[-n - 1] if flat.size > n else 0.0
    out = np.clip(k - thr, 0.0, None)
    s = out.sum()
    if not np.isfinite(s) or s <= 0:
        raise KernelError(f"KernelGAN diverged: the estimated kernel has no positive mass (sum {s!r})")
    return out / s


def _x2_kernel(k_raw: np.ndarray) -> np.ndarray:
    """G's raw 13×13 kernel → the ×2 estimate: filtered, then on a 14×14 grid.

    G's centre of mass sits near (6.5, 6.5); one zero row and column at the bottom/right
    make that the geometric centre of the 14×14 grid (module Convention).
    """
    return np.pad(_filter_negligible(k_raw), ((0, 1), (0, 1)))


def _trim_zero_border(k: np.ndarray) -> np.ndarray:
    """Drop all-zero rows/columns in equal numbers from opposite sides (lossless, keeps the centre)."""
    nz_r, nz_c = np.flatnonzero(k.any(axis=1)), np.flatnonzero(k.any(axis=0))
    if nz_r.size == 0:
        return k
    m = min(nz_r[0], k.shape[0] - 1 - nz_r[-1], nz_c[0], k.shape[1] - 1 - nz_c[-1])
    return k[m : k.shape[0] - m, m : k.shape[1] - m]


def _rescale_kernel(k: np.ndarray, s: float, *, even: bool = False) -> np.ndarray:
    """Stretch a kernel spatially by ``s`` about its centre of mass.

    The centre of mass lands on the centre of an odd grid, or with ``even`` (``s ≥ 1``
    only) on the geometric centre of an even grid: the unaligned ×2 convention of this
    module. ``s ≥ 1``: bilinear pull-back sampling. ``s < 1``: bilinear splatting (keeps
    the mass where sampling would miss it). Negative taps are clipped, the result sums to 1.
    """
    n0, n1 = k.shape
    ci, cj = ndimage.center_of_mass(k)
    reach = max(ci, cj, n0 - 1 - ci, n1 - 1 - cj)
    half = int(math.ceil(s * reach)) + 1
    m = 2 * half + (0 if even and s >= 1.0 else 1)
    if s >= 1.0:
        p = np.arange(m, dtype=np.float64) - (m - 1) / 2.0
        rows, cols = np.meshgrid(ci + p / s, cj + p / s, indexing="ij")
        out = ndimage.map_coordinates(k, [rows, cols], order=1, mode="constant", cval=0.0)
    else:
        out = np.zeros((m, m))
        ii, jj = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
        y = half + (ii - ci) * s
        x = half + (jj - cj) * s
        y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
        fy, fx = y - y0, x - x0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                np.add.at(out, (y0 + dy, x0 + dx), k * wy * wx)
    out = np.clip(out, 0.0, None)
    return out / out.sum()


def _kernel_for_factor(k2: np.ndarray, factor: float) -> np.ndarray:
    """Turn the ×2 estimate into the kernel for ``factor`` (see :func:`estimate_kernel`)."""
    if factor == 2:
        return k2
    if factor == 4:
        from .kernels import compose_x4  # written concurrently; imported at use time

        return np.asarray(compose_x4(torch.as_tensor(k2)), dtype=np.float64)
    # Composition k_{2^n} = k2 * (k2 dilated by 2) * … has covariance (4^n − 1)/3 · Cov(k2);
    # extending that to any f means stretching by sqrt((f² − 1)/3): 1 at ×2, √5 at ×4.
    return _rescale_kernel(k2, math.sqrt((factor * factor - 1.0) / 3.0))


# ----------------------------------------------------------------------------- validation


def _check_factor(factor: object) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)):
        raise ScaleError(f"factor must be a single finite number >= 1, got {factor!r}")
    f = float(factor)
    if not math.isfinite(f) or f < 1.0:
        raise ScaleError(f"factor must be a finite number >= 1, got {factor!r}")
    return f


def _check_image(image: object) -> torch.Tensor:
    if not torch.is_tensor(image):
        raise ShapeError(f"image must be a 1×C×H×W torch tensor, got {type(image).__name__}")
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise ShapeError(f"image must be 1×C×H×W with C in (1, 3), got shape {tuple(image.shape)}")
    h, w = int(image.shape[-2]), int(image.shape[-1])
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ShapeError(
            f"image must be at least {MIN_SIZE}×{MIN_SIZE} (a {CROP}-px crop plus a {MARGIN}-px "
            f"border on each side), got {h}×{w}"
        )
    if not image.is_floating_point():
        raise ShapeError(f"image must be a floating-point tensor in [0, 1], got dtype {image.dtype}")
    if not bool(torch.isfinite(image).all()):
        raise ZSSRError("image must hold finite values, got NaN or Inf")
    return image


def _check_device(device: str | torch.device | None, image: torch.Tensor) -> torch.device:
    try:
        dev = image.device if device is None else torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device must name a torch device, got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(dev)!r} requested but CUDA is not available")
    return dev


# ----------------------------------------------------------------------------- estimation


def estimate_kernel(
    image: torch.Tensor,
    factor: float = 2,
    *,
    iterations: int = 3000,
    seed: int | None = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    restarts: int = RESTARTS,
    width_correction: bool = False,
) -> KernelEstimate:
    """Estimate the image's SR kernel with KernelGAN (trained on the image alone).

    The GAN is always trained at ×2 (the authors' only stable setting, anchors §1):

    - ``factor == 2``: G's kernel, filtered (``N_FILTERING``) and renormalised; with
      ``width_correction`` (ours, off by default) stretched by ``WIDTH_CORRECTION`` = 2/√3:
      G learns the blur that maps LR to LR↓, which for a Gaussian blur of a sharp image is
      √3/2 as wide as the blur that made LR from HR (see the constant). The stretched kernel
      is closer to the true one, but ZSSR does worse with it
      (``benchmarks/results/kernel_width_correction.md``).
    - ``factor == 4``: ``zssr.kernels.compose_x4`` of the ×2 kernel (k2 convolved with k2
      dilated by 2: exact if the ×4 degradation is two ×2 steps, KernelGAN's way, #52).
    - any other ``factor >= 1`` (×3, ×1.5, …): the ×2 kernel stretched about its centre
      of mass by ``sqrt((f² − 1)/3)`` (bilinear), which matches the covariance of the
      ×2-composition rule (1 at ×2, √5 at ×4) and shrinks to a delta at ×1. **This is an
      extrapolation, not an estimate**: right for Gaussian-like kernels of a camera whose
      blur grows with the factor as that cascade does, wrong for kernels whose shape
      differs between scales. ``factor == 1`` returns the 1×1 identity kernel without
      training (a ×1 degradation has no cross-scale signal for KernelGAN to learn from).

    Args:
        image: the LR image, ``1×C×H×W`` float in [0, 1], C = 1 or 3, at least 84×84.
        factor: the SR factor (≥ 1) the kernel is wanted for.
        iterations: training iterations (authors: 3000); lr ÷10 every 750.
        seed: seeds weights, crops and noise; ``None`` draws a fresh seed.
        device: where to train; default the image's device.
        progress: show a tqdm bar on stderr, one per seed trained (labelled with the seed).
        callback: called after every iteration as ``callback(done, kernel)`` with G's raw
            current 13×13 kernel (detached, on ``device``); ``done`` counts from 1 again
            for each restarted seed.
        restarts: how many more seeds (``seed + 1``, ``seed + 2``, …) to train when an
            estimate is degenerate (not :attr:`KernelEstimate.reliable`); KernelGAN's
            failures on periodic content depend on the seed. 0 trains once.
        width_correction: apply the 2/√3 stretch described above: for the kernel itself,
            not for feeding ZSSR.

    Returns:
        A :class:`KernelEstimate`; ``kernel`` is float64 on the CPU and sums to 1.

    Convention:
        Correlation kernel, unaligned (centre of mass at the grid centre): pass it
        through ``zssr.kernels.align_kernel(k, factor)`` before ``downscale`` (module
        docstring). Deterministic for a given seed on a given device.

    Raises:
        ShapeError: ``image`` is not 1×C×H×W with C in (1, 3), or smaller than 84×84.
        ScaleError: ``factor`` is not a finite number >= 1.
        ConfigError: ``iterations`` < 1, a negative or non-integer ``seed`` or
            ``restarts``, or an unusable ``device``.
        KernelError: training diverged (no positive mass left in the kernel).
    """
    f = _check_factor(factor)
    image = _check_image(image)
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ConfigError(f"iterations must be a positive integer, got {iterations!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer or None, got {seed!r}")
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
        raise ConfigError(f"restarts must be a non-negative integer, got {restarts!r}")
    dev = _check_device(device, image)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    start = time.perf_counter()
    if f == 1.0:
        identity = torch.ones(1, 1, dtype=torch.float64)
        return KernelEstimate(identity, f, 0, time.perf_counter() - start, {n: [] for n in LOSS_NAMES})

    # Every op here is tiny (≤ 64 channels on ≤ 64×64 crops), so intra-op threads only
    # add barrier cost: 10-100× slower per op on a loaded 2-core machine. Pin CPU runs to
    # one thread for the duration and restore the caller's setting.
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)
    seeds: list[int] = []
    try:
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
            for attempt in range(int(restarts) + 1):
                seeds.append(int(seed) + attempt)
                k_raw, losses = _train(image, int(iterations), seeds[-1], dev, progress, callback)
                k2 = _x2_kernel(k_raw)
                spread = spread_mass(k2)
                if spread <= DEGENERATE_SPREAD:
                    break
    finally:
        torch.set_num_threads(threads)
    if width_correction:
        k2 = _rescale_kernel(k2, WIDTH_CORRECTION, even=True)
    kernel = torch.as_tensor(_trim_zero_border(_kernel_for_factor(k2, f)), dtype=torch.float64)
    return KernelEstimate(
        kernel, f, int(iterations) * len(seeds), time.perf_counter() - start, losses, spread=spread, seeds=tuple(seeds),
    )


def _training_data(
    image: torch.Tensor, iterations: int, seed: int, dev: torch.device
) -> tuple[torch.Tensor, list[list[int]], list[list[int]]]:
    """The working image and all crop corners (G's, then D's) of a KernelGAN run.

    The image: border shaved, H and W made even (G subsamples by 2), moved to KernelGAN's
    working range [-1, 1] (its im2tensor; the loss thresholds and noise levels are in these
    units). Crops, all drawn up front from ``seed``: D's real crops where the LR image has
    edges; G's where the image's own ×1/2 version has edges (its gradient map,
    nearest-neighbour upsampled back), as in the authors' create_prob_maps.
    """
    img = image.detach()[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
    h, w = (int(img.shape[-2]) // 2) * 2, (int(img.shape[-1]) // 2) * 2
    img = img[..., :h, :w].to(dev, torch.float32)
    gray = _luma(img)
    small = imresize(torch.as_tensor(gray)[None, None], 0.5)[0, 0].numpy()
    small_map = np.kron(_gradient_map(small), np.ones((2, 2)))[:h, :w]
    rng = np.random.default_rng(seed)
    g_corners = _crop_corners(_crop_probabilities(small_map, CROP), (h, w), CROP, iterations, rng)
    d_corners = _crop_corners(_crop_probabilities(_gradient_map(gray), D_CROP), (h, w), D_CROP, iterations, rng)
    return img * 2.0 - 1.0, g_corners.tolist(), d_corners.tolist()


def _train(
    image: torch.Tensor,
    iterations: int,
    seed: int,
    dev: torch.device,
    progress: bool,
    callback: Callback | None,
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """KernelGAN's training loop; returns G's final raw kernel (float64) and the loss curves."""
    # STEP 1-2 - the working image and every crop position.
    work, g_corners, d_corners = _training_data(image, iterations, seed, dev)
    c = int(work.shape[1])

    # STEP 3 - networks, optimisers, fixed tensors.
    g_net, d_net = _build_networks(c, seed)
    g_net.to(dev)
    d_net.to(dev)
    opt_g = torch.optim.Adam(g_net.parameters(), lr=LEARNING_RATE, betas=BETAS, foreach=True)
    opt_d = torch.optim.Adam(d_net.parameters(), lr=LEARNING_RATE, betas=BETAS, foreach=True)
    d_params = list(d_net.parameters())
    noise_gen = torch.Generator(device=dev)
    noise_gen.manual_seed(seed)
    taps = _bicubic_half_taps().to(dev)
    taps2d = (taps[:, None] * taps[None, :])[None, None]
    mask = _penalty_mask(KERNEL_SIZE).to(dev)
    idx = torch.arange(KERNEL_SIZE, dtype=torch.float32, device=dev)
    centre = KERNEL_SIZE // 2 + 0.5 * (2 - KERNEL_SIZE % 2)  # 6.5: ZSSR's ×2 target centre of mass
    log = torch.zeros(iterations, len(LOSS_NAMES), device=dev)

    # STEP 4 - schedule state (authors' Learner).
    lam_bic, lam_cent, lam_sparse = LAMBDA_BICUBIC_START, 0.0, 0.0
    similar, streak = False, 0

    for it in tqdm(range(iterations), disable=not progress, desc=f"KernelGAN seed {seed}", unit="it", leave=False):
        gt, gl = g_corners[it]
        dt, dl = d_corners[it]
        g_in = work[0, :, gt : gt + CROP, gl : gl + CROP].unsqueeze(1)  # C×1×64×64: channels as batch
        real = work[:, :, dt : dt + D_CROP, dl : dl + D_CROP]
        if NOISE_ACCUMULATES:  # G's crop is read first, as in the authors' __getitem__
            g_in = g_in.clone()
            real += NOISE_REAL * torch.randn(real.shape, generator=noise_gen, device=dev)
            real = real.clone()

        # G step: fool D, stay near bicubic early on, keep the kernel a plausible kernel.
        for p in d_params:
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        k = g_net.kernel()
        g_out = F.conv2d(g_in, k[None, None], stride=2)
        adv_g = (1.0 - d_net(g_out.transpose(0, 1))).mean()
        with torch.no_grad():
            target = _bicubic_target(g_in, taps2d, D_CROP)
        bic = F.mse_loss(g_out, target)
        sum2one, bound, cent, sparse = _kernel_losses(k, mask, idx, centre)
        total = (
            adv_g + lam_bic * bic + LAMBDA_SUM2ONE * sum2one + LAMBDA_BOUNDARIES * bound
            + lam_cent * cent + lam_sparse * sparse
        )
        total.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)

        # D step: real crops (+ noise) against G's updated output (+ noise).
        opt_d.zero_grad(set_to_none=True)
        with torch.no_grad():
            k_now = g_net.kernel()
            fake = F.conv2d(g_in, k_now[None, None], stride=2).transpose(0, 1)
            fake = fake + NOISE_FAKE * torch.randn(fake.shape, generator=noise_gen, device=dev)
            if not NOISE_ACCUMULATES:
                real = real + NOISE_REAL * torch.randn(real.shape, generator=noise_gen, device=dev)
        loss_d = 0.5 * ((1.0 - d_net(real)).mean() + d_net(fake).mean())
        loss_d.backward()
        opt_d.step()

        log[it] = torch.stack((adv_g, loss_d, bic, sum2one, bound, cent, sparse)).detach()
        if callback is not None:
            callback(it + 1, k_now)

        # Schedule, after the step as in the authors' loop (iteration index 0-based).
        if it == 0:
            continue
        if it % LR_STEP == 0:
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] /= LR_DECAY
        if not similar:
            streak = streak + 1 if float(bic.detach()) < BICUBIC_SIMILAR else 0
            similar = streak >= BICUBIC_PATIENCE
        elif it % BICUBIC_STEP == 0 and lam_bic > LAMBDA_BICUBIC_MIN:
            lam_bic = max(lam_bic / BICUBIC_DECAY, LAMBDA_BICUBIC_MIN)
            if lam_bic < CONSTRAINTS_ON_BELOW:
                lam_cent, lam_sparse = LAMBDA_CENTRALIZED, LAMBDA_SPARSE

    with torch.no_grad():
        k_final = _compose_layers([conv.weight.detach().to("cpu", torch.float64) for conv in g_net.convs]).numpy()
    curves = log.cpu().double().numpy().T.tolist()
    return k_final, dict(zip(LOSS_NAMES, curves))
