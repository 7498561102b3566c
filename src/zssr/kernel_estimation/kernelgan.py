"""KernelGAN: blind estimation of the SR (downscaling) kernel from the LR image alone.

KernelGAN (Bell-Kligler, Shocher & Irani, NeurIPS 2019) trains an image-specific
GAN on the LR image only: a deep *linear* generator G downscales crops of the image
by 2, and a patch discriminator D tells G's output patches from the image's own
patches. At equilibrium G's downscaling preserves the patch distribution across
scales, so G *is* the SR kernel (paper §3). The networks, losses and crop sampling
are in :mod:`._gan`; this module holds the training loop and the estimator. Every
architectural and schedule number is the authors' default (anchors §1,
`sefibk/KernelGAN`); the schedule and loss numbers are :class:`KernelGANConfig` fields,
so a diagnostic can change one without touching module state.

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
    all-zero margins are then cropped (lossless), so it is an even square. No sub-pixel
    shift is applied here (KernelGAN's own ``kernel_shift`` is left to
    ``align_kernel(k, 2)`` at use time; for this kernel that is an integer shift plus the
    small residual of G's centring, so a second interpolation is avoided).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import seed_value
from ..errors import ConfigError
from ..resize import imresize
from ._common import (
    CROP,
    DEGENERATE_SPREAD,
    MARGIN,
    WIDTH_CORRECTION,
    KernelEstimate,
    check_factor,
    check_image,
    kernel_for_factor,
    luma,
    rescale_kernel,
    spread_mass,
    trim_zero_border,
)
from ._gan import (
    D_CROP,
    KERNEL_SIZE,
    bicubic_half_taps,
    bicubic_target,
    build_networks,
    compose_layers,
    crop_corners,
    crop_probabilities,
    gradient_map,
    kernel_losses,
    penalty_mask,
    x2_kernel,
)

# Re-exported building blocks (from ._gan) for diagnostics that take KernelGAN apart
# (experiments/kernel_estimation): D_CROP, KERNEL_SIZE, build_networks, x2_kernel.
__all__ = [
    "D_CROP",
    "KERNEL_SIZE",
    "LOSS_NAMES",
    "RESTARTS",
    "Callback",
    "KernelGANConfig",
    "KernelGANProgress",
    "build_networks",
    "estimate_kernel",
    "training_data",
    "x2_kernel",
]

RESTARTS = 2  # *ours*: fresh seeds tried after a degenerate estimate (see KernelEstimate.reliable)

LOSS_NAMES: tuple[str, ...] = (
    "g_adversarial",
    "d",
    "bicubic",
    "sum_to_one",
    "boundaries",
    "centralized",
    "sparse",
)

#: Called after every iteration as ``callback(done, kernel)`` with G's raw current 13×13 kernel.
Callback = Callable[[int, torch.Tensor], None]
#: ``progress(seed, iterations)`` is called before each seed is trained and returns a
#: per-iteration :data:`Callback` (or None); its ``close()``, if it has one, is called when
#: that seed is done. The same shape as the pipeline's ``ProgressFactory``: the caller hangs
#: a progress bar on it (``TqdmKernelProgress``), the estimator never draws one itself.
KernelGANProgress = Callable[[int, int], Callback | None]


@dataclass(frozen=True)
class KernelGANConfig:
    """KernelGAN's training recipe; the defaults are the authors' (sefibk/KernelGAN configs.py, learner.py).

    Fields, not module constants, so a diagnostic (``experiments/kernel_estimation``) can
    switch one part of KernelGAN off for one run without changing it for anyone else.

    Attributes:
        learning_rate, betas: Adam's, for G and D alike.
        lr_step, lr_decay: both learning rates are divided by ``lr_decay`` every ``lr_step``
            iterations.
        lambda_sum2one, lambda_boundaries: weights of the kernel's sum-to-1 and boundary losses.
        lambda_bicubic_start, lambda_bicubic_min, bicubic_decay, bicubic_step: the bicubic
            prior's weight starts at ``lambda_bicubic_start``; once G is similar to bicubic it
            is divided by ``bicubic_decay`` every ``bicubic_step`` iterations, down to
            ``lambda_bicubic_min``.
        bicubic_similar, bicubic_patience: "similar to bicubic" is a bicubic loss below
            ``bicubic_similar`` on ``bicubic_patience`` consecutive iterations.
        constraints_on_below: once the bicubic weight drops below this, the centralized
            and sparse losses switch on with weights ``lambda_centralized`` and
            ``lambda_sparse``.
        sparse_power: the sparse loss is the mean of ``|k|^sparse_power``.
        boundary_penalty: the boundary mask's scale.
        noise_real: noise std added to D's real crops (the authors' 1/255 on the [0, 1]
            scale, i.e. 2/255 on the working [-1, 1] scale; data.py).
        noise_fake: noise std added on the working scale to G's output in D's step
            (kernelGAN.py).
        noise_accumulates: the authors' DataGenerator adds D's noise to a numpy *view* of the
            image (``crop_im +=``), so the noise stays in the image: it piles up where D's
            crops fall (the edges) and G's later crops read it too. A diagnostic switch,
            off: it does not make the estimates follow the blur
            (experiments/kernel_estimation/results/kernelgan_ab_noise.md); some derived
            repositories copy the crop instead. The caller's image is never changed.

    Raises:
        ConfigError: a field of the wrong type or out of range, naming the field.
    """

    learning_rate: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_step: int = 750
    lr_decay: float = 10.0
    lambda_sum2one: float = 0.5
    lambda_boundaries: float = 0.5
    lambda_bicubic_start: float = 5.0
    lambda_bicubic_min: float = 5e-6
    bicubic_decay: float = 100.0
    bicubic_step: int = 200
    bicubic_similar: float = 0.4
    bicubic_patience: int = 3
    constraints_on_below: float = 5e-3
    lambda_centralized: float = 1.0
    lambda_sparse: float = 5.0
    sparse_power: float = 0.2
    boundary_penalty: float = 30.0
    noise_real: float = 2.0 / 255.0
    noise_fake: float = 1.0 / 255.0
    noise_accumulates: bool = False

    def __post_init__(self) -> None:
        """Refuse a field of the wrong type or range here, not as a NaN loss 1000 iterations later."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "noise_accumulates":
                if not isinstance(value, bool):
                    raise ConfigError(f"{f.name} must be true or false, got {value!r}")
            elif f.name == "betas":
                ok = isinstance(value, tuple) and len(value) == 2 and all(_is_number(b) and 0 <= b < 1 for b in value)
                if not ok:
                    raise ConfigError(f"betas must be a pair of numbers in [0, 1), got {value!r}")
            elif f.name in ("lr_step", "bicubic_step", "bicubic_patience"):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                    raise ConfigError(f"{f.name} must be a positive integer, got {value!r}")
            elif not _is_number(value) or value < 0:
                raise ConfigError(f"{f.name} must be a finite number >= 0, got {value!r}")
        if self.lr_decay <= 0 or self.bicubic_decay <= 0:
            name = "lr_decay" if self.lr_decay <= 0 else "bicubic_decay"
            raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")


def _is_number(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            and math.isfinite(value))


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
    progress: KernelGANProgress | None = None,
    callback: Callback | None = None,
    restarts: int = RESTARTS,
    width_correction: bool = False,
    config: KernelGANConfig | None = None,
) -> KernelEstimate:
    """Estimate the image's SR kernel with KernelGAN (trained on the image alone).

    The GAN is always trained at ×2 (the authors' only stable setting, anchors §1):

    - ``factor == 2``: G's kernel, filtered (``N_FILTERING``) and renormalised; with
      ``width_correction`` (ours, off by default) stretched by ``WIDTH_CORRECTION`` = 2/√3:
      G learns the blur that maps LR to LR↓, which for a Gaussian blur of a sharp image is
      √3/2 as wide as the blur that made LR from HR (see the constant). The stretched kernel
      is closer to the true one, but ZSSR does worse with it
      (``experiments/kernel_estimation/results/kernel_width_correction.md``).
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
        progress: a :data:`KernelGANProgress` factory, called once per seed trained (e.g.
            ``TqdmKernelProgress`` for a bar on stderr); None reports nothing.
        callback: called after every iteration as ``callback(done, kernel)`` with G's raw
            current 13×13 kernel (detached, on ``device``); ``done`` counts from 1 again
            for each restarted seed.
        restarts: how many more seeds (``seed + 1``, ``seed + 2``, …) to train when an
            estimate is degenerate (not :attr:`KernelEstimate.reliable`); KernelGAN's
            failures on periodic content depend on the seed. 0 trains once.
        width_correction: apply the 2/√3 stretch described above: for the kernel itself,
            not for feeding ZSSR.
        config: the training recipe; default :class:`KernelGANConfig` (the authors').

    Returns:
        A :class:`KernelEstimate`; ``kernel`` is float64 on the CPU and sums to 1.

    Convention:
        Correlation kernel, unaligned (centre of mass at the grid centre): pass it
        through ``zssr.kernels.align_kernel(k, factor)`` before ``downscale`` (module
        docstring). Deterministic for a given seed, config and device.

    Raises:
        ShapeError: ``image`` is not 1×C×H×W with C in (1, 3), or smaller than 84×84.
        ScaleError: ``factor`` is not a finite number >= 1.
        ConfigError: ``iterations`` < 1, a ``seed`` not an integer in ``[0, 2**63)`` or
            ``restarts``, an unusable ``device``, or ``config`` not a KernelGANConfig.
        KernelError: training diverged (no positive mass left in the kernel).
    """
    f = check_factor(factor)
    image = check_image(image)
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ConfigError(f"iterations must be a positive integer, got {iterations!r}")
    if seed is not None:
        seed = seed_value(seed)
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
        raise ConfigError(f"restarts must be a non-negative integer, got {restarts!r}")
    if config is None:
        config = KernelGANConfig()
    elif not isinstance(config, KernelGANConfig):
        raise ConfigError(f"config must be a KernelGANConfig, got {type(config).__name__}")
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
                bar = progress(seeds[-1], int(iterations)) if progress is not None else None
                try:
                    k_raw, losses = _train(image, int(iterations), seeds[-1], dev, config, _each_step(callback, bar))
                finally:
                    close = getattr(bar, "close", None)
                    if close is not None:
                        close()
                k2 = x2_kernel(k_raw)
                spread = spread_mass(k2)
                if spread <= DEGENERATE_SPREAD:
                    break
    finally:
        torch.set_num_threads(threads)
    if width_correction:
        k2 = rescale_kernel(k2, WIDTH_CORRECTION, even=True)
    kernel = torch.as_tensor(trim_zero_border(kernel_for_factor(k2, f)), dtype=torch.float64)
    return KernelEstimate(
        kernel, f, int(iterations) * len(seeds), time.perf_counter() - start, losses, spread=spread, seeds=tuple(seeds),
    )


def _each_step(*callbacks: Callback | None) -> Callback | None:
    """One per-iteration callback calling each given one in turn (None if none is given)."""
    given = [c for c in callbacks if c is not None]
    if not given:
        return None
    if len(given) == 1:
        return given[0]

    def both(done: int, kernel: torch.Tensor) -> None:
        for c in given:
            c(done, kernel)

    return both


def training_data(
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
    gray = luma(img)
    small = imresize(torch.as_tensor(gray)[None, None], 0.5)[0, 0].numpy()
    small_map = np.kron(gradient_map(small), np.ones((2, 2)))[:h, :w]
    rng = np.random.default_rng(seed)
    g_corners = crop_corners(crop_probabilities(small_map, CROP), (h, w), CROP, iterations, rng)
    d_corners = crop_corners(crop_probabilities(gradient_map(gray), D_CROP), (h, w), D_CROP, iterations, rng)
    return img * 2.0 - 1.0, g_corners.tolist(), d_corners.tolist()


def _train(
    image: torch.Tensor,
    iterations: int,
    seed: int,
    dev: torch.device,
    config: KernelGANConfig,
    callback: Callback | None,
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """KernelGAN's training loop; returns G's final raw kernel (float64) and the loss curves."""
    cfg = config
    # STEP 1-2 - the working image and every crop position.
    work, g_corners, d_corners = training_data(image, iterations, seed, dev)
    c = int(work.shape[1])

    # STEP 3 - networks, optimisers, fixed tensors.
    g_net, d_net = build_networks(c, seed)
    g_net.to(dev)
    d_net.to(dev)
    opt_g = torch.optim.Adam(g_net.parameters(), lr=cfg.learning_rate, betas=cfg.betas, foreach=True)
    opt_d = torch.optim.Adam(d_net.parameters(), lr=cfg.learning_rate, betas=cfg.betas, foreach=True)
    d_params = list(d_net.parameters())
    noise_gen = torch.Generator(device=dev)
    noise_gen.manual_seed(seed)
    taps = bicubic_half_taps().to(dev)
    taps2d = (taps[:, None] * taps[None, :])[None, None]
    mask = penalty_mask(KERNEL_SIZE, cfg.boundary_penalty).to(dev)
    idx = torch.arange(KERNEL_SIZE, dtype=torch.float32, device=dev)
    centre = KERNEL_SIZE // 2 + 0.5 * (2 - KERNEL_SIZE % 2)  # 6.5: ZSSR's ×2 target centre of mass
    log = torch.zeros(iterations, len(LOSS_NAMES), device=dev)

    # STEP 4 - schedule state (authors' Learner).
    lam_bic, lam_cent, lam_sparse = cfg.lambda_bicubic_start, 0.0, 0.0
    similar, streak = False, 0

    for it in range(iterations):
        gt, gl = g_corners[it]
        dt, dl = d_corners[it]
        g_in = work[0, :, gt : gt + CROP, gl : gl + CROP].unsqueeze(1)  # C×1×64×64: channels as batch
        real = work[:, :, dt : dt + D_CROP, dl : dl + D_CROP]
        if cfg.noise_accumulates:  # G's crop is read first, as in the authors' __getitem__
            g_in = g_in.clone()
            real += cfg.noise_real * torch.randn(real.shape, generator=noise_gen, device=dev)
            real = real.clone()

        # G step: fool D, stay near bicubic early on, keep the kernel a plausible kernel.
        for p in d_params:
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        k = g_net.kernel()
        g_out = F.conv2d(g_in, k[None, None], stride=2)
        adv_g = (1.0 - d_net(g_out.transpose(0, 1))).mean()
        with torch.no_grad():
            target = bicubic_target(g_in, taps2d, D_CROP)
        bic = F.mse_loss(g_out, target)
        sum2one, bound, cent, sparse = kernel_losses(k, mask, idx, centre, cfg.sparse_power)
        total = (
            adv_g + lam_bic * bic + cfg.lambda_sum2one * sum2one + cfg.lambda_boundaries * bound
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
            fake = fake + cfg.noise_fake * torch.randn(fake.shape, generator=noise_gen, device=dev)
            if not cfg.noise_accumulates:
                real = real + cfg.noise_real * torch.randn(real.shape, generator=noise_gen, device=dev)
        loss_d = 0.5 * ((1.0 - d_net(real)).mean() + d_net(fake).mean())
        loss_d.backward()
        opt_d.step()

        log[it] = torch.stack((adv_g, loss_d, bic, sum2one, bound, cent, sparse)).detach()
        if callback is not None:
            callback(it + 1, k_now)

        # Schedule, after the step as in the authors' loop (iteration index 0-based).
        if it == 0:
            continue
        if it % cfg.lr_step == 0:
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] /= cfg.lr_decay
        if not similar:
            streak = streak + 1 if float(bic.detach()) < cfg.bicubic_similar else 0
            similar = streak >= cfg.bicubic_patience
        elif it % cfg.bicubic_step == 0 and lam_bic > cfg.lambda_bicubic_min:
            lam_bic = max(lam_bic / cfg.bicubic_decay, cfg.lambda_bicubic_min)
            if lam_bic < cfg.constraints_on_below:
                lam_cent, lam_sparse = cfg.lambda_centralized, cfg.lambda_sparse

    with torch.no_grad():
        k_final = compose_layers([w.detach().to("cpu", torch.float64) for w in g_net.weights()]).numpy()
    curves = log.cpu().double().numpy().T.tolist()
    return k_final, dict(zip(LOSS_NAMES, curves))
