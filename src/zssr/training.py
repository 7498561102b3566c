"""Test-time training of the image-specific net for one scale step (paper §3, docs/authors_code.md §2).

Each iteration, in the authors' order: draw a father, make its son, one Adam
step on the L1 loss of the *unclipped* output, every ``test_every`` iterations
measure the reconstruction error, then apply the learning-rate policy; stop once
the policy would go below ``min_learning_rate`` or at ``max_iterations``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .config import Config
from .ensemble import forward_tiled
from .examples import FatherSampler, FatherSource, make_son, son_degradation
from .network import ZSSRNet
from .resize import imresize
from .schedule import LearningRatePolicy

__all__ = [
    "TEST_CROP", "TrainingHistory", "make_optimizer", "reconstruction_error", "reconstruction_windows", "train_scale_step",
]

_SYNC_EVERY = 10
_LOSS_BLOCK = 4096


@dataclass
class TrainingHistory:
    """What one scale step's training did (for curves, benchmarks and tests)."""

    scale: tuple[float, float]
    iterations: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    test_iterations: list[int] = field(default_factory=list)
    test_errors: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    lr_changes: list[int] = field(default_factory=list)
    test_pixels: int = 0
    test_seconds: float = 0.0
    stopped_by_time_budget: bool = False


def make_optimizer(net: ZSSRNet, config: Config) -> torch.optim.Adam:
    """Adam as in the authors' TF1 code: β = (0.9, 0.999), ε = 1e-8."""
    return torch.optim.Adam(net.parameters(), lr=config.learning_rate, betas=config.adam_betas, eps=config.adam_eps)


#: Side of the reconstruction test's crops on an image above ``Config.test_pixels``.
TEST_CROP = 128

Window = tuple[int, int, int, int]


def reconstruction_windows(size: tuple[int, int], budget: int | None) -> list[Window] | None:
    """The fixed crops ``(top, left, height, width)`` the reconstruction test measures, or None for the whole image.

    Why: the authors' test runs the net over the whole input every ``test_every``
    iterations, so training cost grows with the image (paper §4 promises it does not).
    Above ``budget`` pixels the test uses ``budget // TEST_CROP²`` crops of
    ``TEST_CROP²`` (smaller for a budget under that) spread evenly over a grid of the image (no randomness: the same
    crops at every test of the step, so the error series the LR policy fits stays
    comparable); at or under the budget it is the authors' whole-image test.
    """
    h, w = size
    if budget is None or h * w <= budget:
        return None
    side = min(TEST_CROP, math.isqrt(budget))
    ch, cw = min(side, h), min(side, w)
    rows, cols = h // ch, w // cw
    count = max(1, min(rows * cols, budget // (ch * cw)))
    cells = [(rows * cols * k) // count for k in range(count)]  # evenly spaced, raster order
    # Grid cells spread over the whole image (the last row/column flush with its edge).
    ys = [round(r * (h - ch) / max(rows - 1, 1)) for r in range(rows)]
    xs = [round(c * (w - cw) / max(cols - 1, 1)) for c in range(cols)]
    return [(ys[cell // cols], xs[cell % cols], ch, cw) for cell in cells]


@torch.no_grad()
def reconstruction_error(
    net: ZSSRNet,
    image: torch.Tensor,
    sf: tuple[float, float],
    *,
    kernel: torch.Tensor | None,
    noise_std: float | Sequence[float],
    generator: torch.Generator | None,
    windows: list[Window] | None = None,
    jpeg_quality: int | None = None,
) -> float:
    """MSE between the input and the net's SR of its own son (docs/authors_code.md §2.4, drives the LR policy).

    ``windows`` (:func:`reconstruction_windows`): measure on those crops of the input, each
    with its own son, instead of the whole image. The net runs in tiles
    (:func:`~zssr.ensemble.forward_tiled`): bounded activations, and Ctrl-C
    honoured between tiles on a large input.
    """
    if windows is None:
        son = make_son(image, sf, kernel=kernel, noise_std=noise_std, jpeg_quality=jpeg_quality, generator=generator)
        up = imresize(son, sf, size=tuple(image.shape[-2:]))
        out = forward_tiled(net, up).clamp(0.0, 1.0)
        return float(torch.mean((out - image) ** 2))
    total = torch.zeros((), dtype=torch.float64, device=image.device)
    pixels = 0
    for top, left, ch, cw in windows:
        crop = image[..., top : top + ch, left : left + cw]
        son = make_son(crop, sf, kernel=kernel, noise_std=noise_std, jpeg_quality=jpeg_quality, generator=generator)
        out = forward_tiled(net, imresize(son, sf, size=(ch, cw))).clamp(0.0, 1.0)
        total += torch.sum((out - crop) ** 2, dtype=torch.float64)
        pixels += crop.numel()
    return float(total / pixels)


def train_scale_step(
    net: ZSSRNet,
    optimizer: torch.optim.Optimizer,
    image: torch.Tensor,
    sources: list[FatherSource],
    sf: tuple[float, float],
    *,
    config: Config,
    kernel: torch.Tensor | None,
    rng: np.random.Generator,
    generator: torch.Generator,
    progress: Callable[[int, float, float], None] | None = None,
    deadline: float | None = None,
) -> TrainingHistory:
    """Train ``net`` in place for the step ``input → input × sf``.

    Args:
        net: the net, carried over between gradual steps (authors' default).
        optimizer: its Adam optimizer, also carried over: weights *and* Adam moments
            carry over between steps; the learning rate restarts.
        image: the LR input, ``1×C×H×W`` on the training device.
        sources: father sources (the input first, then earlier outputs).
        sf: this step's ``(vertical, horizontal)`` factor relative to the input.
        kernel: aligned numeric kernel for sons, or None for MATLAB bicubic.
        config: the frozen run configuration.
        rng: geometric randomness (crops, augmentation).
        generator: torch randomness (son noise).
        progress: called as ``progress(iteration, loss, lr)`` after each iteration (the
            loss shown is refreshed every 10 iterations).
        deadline: a ``time.perf_counter()`` value (``Config.time_budget``): training
            stops at the first reconstruction test past it, as if the LR policy had
            ended (never mid-step; at least one iteration).
    """
    history = TrainingHistory(scale=sf)
    policy = LearningRatePolicy(
        learning_rate=config.learning_rate, check_every=config.lr_check_every,
        min_iterations=config.min_iterations, slope_range=config.lr_slope_range, test_every=config.test_every,
        ratio=config.lr_change_ratio, min_learning_rate=config.min_learning_rate,
        legacy_covariance=config.legacy_covariance,
    )
    h, w = image.shape[-2:]
    windows = reconstruction_windows((int(h), int(w)), config.test_pixels)
    history.test_pixels = int(h * w) if windows is None else sum(wh * ww for _, _, wh, ww in windows)
    sampler = FatherSampler(config, (min(config.crop_size, h), min(config.crop_size, w)), rng)
    noise, jpeg = son_degradation(config)
    for group in optimizer.param_groups:
        group["lr"] = policy.learning_rate
    net.train()
    # Losses stay on the device and are read back every _SYNC_EVERY iterations: a
    # per-iteration float() would stall a GPU on every step (the CPU could not queue ahead).
    # They are kept in blocks as training goes: max_iterations=10**12 is a long run, not a 4 TB allocation.
    blocks = [torch.zeros(min(_LOSS_BLOCK, config.max_iterations), device=image.device)]
    loss_value = float("nan")
    start = time.perf_counter()
    for it in range(config.max_iterations):
        father = sampler.sample(sources)
        son = make_son(father, sf, kernel=kernel, noise_std=noise, jpeg_quality=jpeg, generator=generator)
        net_input = imresize(son, sf, size=tuple(father.shape[-2:]))
        loss = torch.mean(torch.abs(net(net_input) - father))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        slot = it % _LOSS_BLOCK
        if slot == 0 and it > 0:
            blocks.append(torch.zeros(min(_LOSS_BLOCK, config.max_iterations - it), device=image.device))
        blocks[-1][slot] = loss.detach()
        if it % _SYNC_EVERY == 0:
            loss_value = float(blocks[-1][slot])
        history.learning_rates.append(policy.learning_rate)
        out_of_time = False
        if it % config.test_every == 0:
            tested = time.perf_counter()
            err = reconstruction_error(
                net, image, sf, kernel=kernel, noise_std=noise, generator=generator, windows=windows, jpeg_quality=jpeg,
            )
            policy.record(it, err)
            history.test_seconds += time.perf_counter() - tested
            out_of_time = deadline is not None and time.perf_counter() >= deadline
        lr = policy.step(it)
        for group in optimizer.param_groups:
            group["lr"] = lr
        history.iterations = it + 1
        if progress is not None:
            progress(it, loss_value, lr)
        if policy.finished:
            break
        if out_of_time:
            history.stopped_by_time_budget = True
            break
    history.losses = torch.cat(blocks)[: history.iterations].tolist()
    history.seconds = time.perf_counter() - start
    history.test_iterations = list(policy.test_iterations)
    history.test_errors = list(policy.test_errors)
    history.lr_changes = list(policy.changes)
    return history
