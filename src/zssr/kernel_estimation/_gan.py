"""KernelGAN's parts: the two networks, the loss terms, where crops are drawn, and G's kernel → ×2 estimate.

Split from :mod:`zssr.kernel_estimation.kernelgan` (which holds the training loop and the
public estimator) so each file has one job. Every architectural number here is the
authors' default (anchors §1, ``sefibk/KernelGAN``); the training recipe (learning rate,
loss weights, schedule, noise) is :class:`~zssr.kernel_estimation.kernelgan.KernelGANConfig`.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from ..errors import KernelError
from ..resize import INTERP_KERNELS
from ._common import CROP

__all__ = [
    "D_CHANNELS", "D_CROP", "D_KERNEL", "D_LAYERS", "G_CHANNELS", "G_STRUCTURE", "KERNEL_SIZE", "N_FILTERING",
    "Discriminator", "Generator", "bicubic_half_taps", "bicubic_target", "build_networks", "compose_layers",
    "crop_corners", "crop_probabilities", "filter_negligible", "gradient_map", "kernel_losses", "penalty_mask",
    "sn_conv", "top_fraction", "x2_kernel", "zero_border",
]

# --- architecture (anchors §1; sefibk/KernelGAN configs.py / networks.py) ---
G_STRUCTURE: tuple[int, ...] = (7, 5, 3, 1, 1, 1)  # G's kernel sizes; effective kernel 13×13
G_CHANNELS = 64
D_CHANNELS = 64
D_KERNEL = 7  # D's receptive field: it judges 7×7 patches
D_LAYERS = 7  # first 7×7 conv + 5 × (1×1, BN, ReLU) + final 1×1
KERNEL_SIZE = sum(G_STRUCTURE) - len(G_STRUCTURE) + 1  # 13
D_CROP = (CROP - KERNEL_SIZE) // 2 + 1  # 26: G's output size = D's real crop size
N_FILTERING = 40  # post-processing keeps taps above 0.75 × the (N+1)-th largest


# ----------------------------------------------------------------------------- networks


class Generator(nn.Module):
    """KernelGAN's G: six bias-free convs (7,5,3,1,1,1), 64 channels, stride 2 on the last.

    Colour images run as a batch of grey images (one shared kernel, anchors §1).
    """

    def __init__(self, channels: int = G_CHANNELS, structure: tuple[int, ...] = G_STRUCTURE) -> None:
        super().__init__()
        sizes = list(structure)
        ins = [1] + [channels] * (len(sizes) - 1)
        outs = [channels] * (len(sizes) - 1) + [1]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, s, bias=False) for i, o, s in zip(ins, outs, sizes))

    def weights(self) -> list[torch.Tensor]:
        """The layers' weights, first layer first (the parameters G is trained in)."""
        return [cast(nn.Conv2d, conv).weight for conv in self.convs]

    def kernel(self) -> torch.Tensor:
        """The 13×13 correlation kernel G applies, differentiable in the weights.

        Shape: ``(13, 13)``, on the weights' device and dtype.
        """
        return compose_layers(self.weights())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Downscale by 2 with the composed kernel (fast path used in training).

        Shape: ``(B, 1, H, W) -> (B, 1, (H - 13) // 2 + 1, (W - 13) // 2 + 1)``.
        """
        return F.conv2d(x, self.kernel()[None, None], stride=2)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The literal layer-by-layer deep-linear pass (reference for the fast path)."""
        last = len(self.convs) - 1
        for n, weight in enumerate(self.weights()):
            x = F.conv2d(x, weight, stride=2 if n == last else 1)
        return x


def compose_layers(weights: list[torch.Tensor]) -> torch.Tensor:
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


class Discriminator(nn.Module):
    """KernelGAN's D: 7×7 SN conv, 5 × [1×1 SN conv, BN, ReLU], 1×1 SN conv, sigmoid.

    A fully convolutional patch critic: each output judges one 7×7 patch. Like the
    authors' D it never leaves train mode (batch statistics, one power iteration per
    forward).

    Shape: ``(1, C, 26, 26) -> (1, 1, 20, 20)``.
    """

    def __init__(self, in_channels: int, channels: int = D_CHANNELS) -> None:
        super().__init__()
        layers: list[nn.Module] = [sn_conv(in_channels, channels, D_KERNEL)]
        for _ in range(D_LAYERS - 2):
            bn = nn.BatchNorm2d(channels)
            nn.init.normal_(bn.weight, 1.0, 0.02)  # authors' weights_init_D
            nn.init.zeros_(bn.bias)
            layers += [sn_conv(channels, channels, 1), bn, nn.ReLU(inplace=True)]
        layers += [sn_conv(channels, 1, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def sn_conv(c_in: int, c_out: int, size: int) -> nn.Module:
    """A spectral-normalised conv of D."""
    # Authors' weights_init_D: Xavier-normal (gain 0.1), zero bias. Spectral norm
    # rescales the weight anyway, so only the direction of this draw matters.
    conv = nn.Conv2d(c_in, c_out, size, bias=True)
    nn.init.xavier_normal_(conv.weight, 0.1)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return nn.utils.parametrizations.spectral_norm(conv)


def build_networks(in_channels: int, seed: int) -> tuple[Generator, Discriminator]:
    """Both nets, initialised from ``seed`` without touching torch's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = Generator()
        for weight in g.weights():
            # Authors' weights_init_G: Xavier-normal, gain 0.1. The composed kernel starts
            # near 0 (~1e-8 per tap); Adam's scale-free steps bootstrap it in a few dozen steps.
            nn.init.xavier_normal_(weight, 0.1)
        d = Discriminator(in_channels)
    return g, d


# ----------------------------------------------------------------------------- losses


def bicubic_half_taps() -> torch.Tensor:
    """The 8 taps of MATLAB's antialiased bicubic ×1/2 at an interior pixel.

    Output pixel ``j`` sits between input pixels ``2j`` and ``2j+1`` (distances
    ±0.5, ±1.5, ±2.5, ±3.5); the antialiased kernel is ``½·cubic(d/2)`` (docs/authors_code.md §7).
    """
    d = np.arange(-3.5, 4.0, 1.0)
    w = 0.5 * INTERP_KERNELS["cubic"].fn(0.5 * d)
    return torch.as_tensor(w / w.sum(), dtype=torch.float32)


def bicubic_target(crops: torch.Tensor, taps2d: torch.Tensor, out: int) -> torch.Tensor:
    """MATLAB bicubic ×1/2 of the crops, on G's output grid.

    G's output pixel ``i`` is centred at crop pixel ``2i + 6.5`` when its kernel's
    centre of mass is at 6.5 (the centralized-loss target); the bicubic output centred
    there starts 3 pixels in. Identical to ``imresize(crop, 0.5)[..., 3:29, 3:29]``
    (no border pixel is involved; checked in the tests).
    """
    return F.conv2d(crops[..., 3:, 3:], taps2d, stride=2)[..., :out, :out]


def penalty_mask(size: int, scale: float) -> torch.Tensor:
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


def kernel_losses(
    k: torch.Tensor, mask: torch.Tensor, idx: torch.Tensor, centre: float, sparse_power: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sum-to-1, boundaries, centralized and sparse (mean ``|k|^sparse_power``) regularisers (paper §3, Eq. 4)."""
    total = k.sum()
    sum2one = (1.0 - total).abs()
    boundaries = (k * mask).abs().mean()
    com = torch.stack(((k.sum(1) * idx).sum(), (k.sum(0) * idx).sum())) / total
    centralized = ((com - centre) ** 2).mean()
    # |k|^0.2 has an infinite slope at 0; the clamp keeps an exact-zero tap finite.
    sparse = k.abs().clamp_min(1e-12).pow(sparse_power).mean()
    return sum2one, boundaries, centralized, sparse


# ----------------------------------------------------------------------------- crops


def zero_border(a: np.ndarray, edge: int) -> np.ndarray:
    """A copy of ``a`` with an ``edge``-pixel border set to 0 (all 0 if nothing is left)."""
    out = np.zeros_like(a)
    if 2 * edge < a.shape[0] and 2 * edge < a.shape[1]:
        out[edge:-edge, edge:-edge] = a[edge:-edge, edge:-edge]
    return out


def top_fraction(a: np.ndarray, percent: float) -> np.ndarray:
    """Indicator of the values above the ``percent`` quantile, normalised to sum 1 (or all 0)."""
    flat = np.sort(a.ravel())
    mask = (a > flat[int(percent * (flat.size - 1))]).astype(np.float64)
    s = mask.sum()
    return mask / s if s > 0 else mask


def gradient_map(gray: np.ndarray, window: int = 5, percent: float = 0.97) -> np.ndarray:
    """Where the image has edges: the authors' ``create_gradient_map``, re-derived.

    Sum of three normalised maps: the top 3 % of ``|∂y|`` pixels, the top 3 % of
    ``|∂x|`` pixels (indicators) and the gradient magnitude itself, each with a
    ``window``-pixel border zeroed; box-blurred over ``window`` and scaled to mean 1.
    """
    gy, gx = np.gradient(gray)
    mag = zero_border(np.hypot(gx, gy), window)
    comb = top_fraction(zero_border(np.abs(gx), window), percent)
    comb = comb + top_fraction(zero_border(np.abs(gy), window), percent)
    if mag.sum() > 0:
        comb = comb + mag / mag.sum()
    blurred = ndimage.uniform_filter(comb, window, mode="constant")
    m = blurred.mean()
    return blurred / m if m > 0 else blurred


def crop_probabilities(loss_map: np.ndarray, crop: int) -> np.ndarray:
    """Crop-centre probabilities ∝ edge content of the crop (authors' ``create_probability_map``).

    Box-blur over ``crop // 2`` (the mass near the centre), zero the centres whose crop
    would leave the image, normalise; uniform if nothing is left (flat images).
    """
    blurred = ndimage.uniform_filter(loss_map, crop // 2, mode="constant")
    prob = zero_border(np.clip(blurred, 0.0, None), crop // 2).ravel()
    s = prob.sum()
    return prob / s if s > 0 else np.full(prob.size, 1.0 / prob.size)


def crop_corners(
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


def filter_negligible(k: np.ndarray, n: int = N_FILTERING) -> np.ndarray:
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


def x2_kernel(k_raw: np.ndarray) -> np.ndarray:
    """G's raw 13×13 kernel → the ×2 estimate: filtered, then on a 14×14 grid.

    G's centre of mass sits near (6.5, 6.5); one zero row and column at the bottom/right
    make that the geometric centre of the 14×14 grid (the unaligned ×2 convention, see
    :mod:`zssr.kernel_estimation.kernelgan`).
    """
    return np.pad(filter_negligible(k_raw), ((0, 1), (0, 1)))


