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
from .step import (
    FatherRenderer,
    SonMaker,
    StepRunner,
    block_end,
    cuda_graph_capture,
    resolve_engine,
    set_learning_rate,
    side_stream,
)

__all__ = [
    "TEST_CROP", "TrainingHistory", "make_optimizer", "reconstruction_error", "reconstruction_windows", "train_scale_step",
]

_SYNC_EVERY = 10
_LOSS_BLOCK = 4096
#: The sons' noise: additive σ (one, or per channel) and speckle σ per unit intensity (per channel, or None).
SonNoise = tuple[float | tuple[float, ...], tuple[float, ...] | None]


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
    #: how the steps ran (``eager``, ``device``, or ``graph`` once captured; zssr.step)
    engine: str = "eager"
    #: why a CUDA-graph capture fell back to the uncaptured step, if it did
    capture_fallback: str | None = None


def make_optimizer(net: ZSSRNet, config: Config, device: torch.device | str = "cpu") -> torch.optim.Adam:
    """Adam as in the authors' TF1 code: β = (0.9, 0.999), ε = 1e-8.

    For the ``graph`` engine (:func:`zssr.step.resolve_engine`) it is the capturable
    Adam with its learning rate in a device tensor, so a captured step reads each new rate.
    """
    if resolve_engine(config.training_engine, device) == "graph":
        return torch.optim.Adam(
            net.parameters(), lr=torch.tensor(config.learning_rate, device=device), betas=config.adam_betas,
            eps=config.adam_eps, capturable=True, foreach=True,
        )
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
    speckle_std: Sequence[float] | None = None,
) -> float:
    """MSE between the input and the net's SR of its own son (docs/authors_code.md §2.4, drives the LR policy).

    ``windows`` (:func:`reconstruction_windows`): measure on those crops of the input, each
    with its own son, instead of the whole image. The net runs in tiles
    (:func:`~zssr.ensemble.forward_tiled`): bounded activations, and Ctrl-C
    honoured between tiles on a large input.
    """
    if windows is None:
        son = make_son(image, sf, kernel=kernel, noise_std=noise_std, speckle_std=speckle_std, jpeg_quality=jpeg_quality,
                       generator=generator)
        up = imresize(son, sf, size=tuple(image.shape[-2:]))
        out = forward_tiled(net, up).clamp(0.0, 1.0)
        return float(torch.mean((out - image) ** 2))
    total = torch.zeros((), dtype=torch.float64, device=image.device)
    pixels = 0
    for top, left, ch, cw in windows:
        crop = image[..., top : top + ch, left : left + cw]
        son = make_son(crop, sf, kernel=kernel, noise_std=noise_std, speckle_std=speckle_std, jpeg_quality=jpeg_quality,
                       generator=generator)
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
    noise, speckle, jpeg = son_degradation(config)

    def test(it: int) -> bool:
        """The reconstruction test after iteration ``it``; True once past the deadline."""
        tested = time.perf_counter()
        err = reconstruction_error(
            net, image, sf, kernel=kernel, noise_std=noise, generator=generator, windows=windows, jpeg_quality=jpeg,
            speckle_std=speckle,
        )
        policy.record(it, err)
        history.test_seconds += time.perf_counter() - tested
        return deadline is not None and time.perf_counter() >= deadline

    set_learning_rate(optimizer, policy.learning_rate)
    net.train()
    # Losses stay on the device and are read back every _SYNC_EVERY iterations (the device
    # engine: at tests only): a per-iteration float() would stall a GPU on every step.
    # They are kept in blocks as training goes: max_iterations=10**12 is a long run, not a 4 TB allocation.
    losses = _LossLog(config.max_iterations, image.device)
    start = time.perf_counter()
    engine = resolve_engine(config.training_engine, image.device)
    if engine == "eager":
        _eager_loop(net, optimizer, sources, sf, config, kernel, generator, sampler, (noise, speckle), jpeg, policy,
                    history,
                    losses, test, progress)
    else:
        _device_loop(net, optimizer, image, sources, sf, config, kernel, generator, sampler, (noise, speckle), jpeg,
                     policy,
                     history, losses, test, progress, capture=engine == "graph")
    history.losses = losses.values(history.iterations)
    history.seconds = time.perf_counter() - start
    history.test_iterations = list(policy.test_iterations)
    history.test_errors = list(policy.test_errors)
    history.lr_changes = list(policy.changes)
    return history


class _LossLog:
    """Per-iteration losses kept on the device, in blocks of _LOSS_BLOCK."""

    def __init__(self, max_iterations: int, device: torch.device) -> None:
        self.max_iterations, self.device = max_iterations, device
        self.blocks = [torch.zeros(min(_LOSS_BLOCK, max_iterations), device=device)]

    def put(self, it: int, loss: torch.Tensor) -> None:
        slot = it % _LOSS_BLOCK
        if slot == 0 and it > 0:
            self.blocks.append(torch.zeros(min(_LOSS_BLOCK, self.max_iterations - it), device=self.device))
        self.blocks[-1][slot] = loss

    def read(self, it: int) -> float:
        """The loss of iteration ``it`` (the newest block's), waiting for the device."""
        return float(self.blocks[-1][it % _LOSS_BLOCK])

    def values(self, count: int) -> list[float]:
        return torch.cat(self.blocks)[:count].tolist()


def _after_step(it: int, policy: LearningRatePolicy, optimizer: torch.optim.Optimizer, history: TrainingHistory,
                out_of_time: bool, lr_now: list[float]) -> bool:
    """The LR policy's step after iteration ``it`` (rate set only when it changed); True when training ends."""
    lr = policy.step(it)
    if lr != lr_now[0]:
        set_learning_rate(optimizer, lr)
        lr_now[0] = lr
    history.iterations = it + 1
    if policy.finished:
        return True
    if out_of_time:
        history.stopped_by_time_budget = True
        return True
    return False


def _eager_loop(net: ZSSRNet, optimizer: torch.optim.Optimizer, sources: list[FatherSource], sf: tuple[float, float],
                config: Config, kernel: torch.Tensor | None, generator: torch.Generator, sampler: FatherSampler,
                noise: SonNoise, jpeg: int | None, policy: LearningRatePolicy,
                history: TrainingHistory, losses: _LossLog, test: Callable[[int], bool],
                progress: Callable[[int, float, float], None] | None) -> None:
    """The authors' loop: each example made when its iteration needs it."""
    loss_value = float("nan")
    lr_now = [policy.learning_rate]
    for it in range(config.max_iterations):
        father = sampler.sample(sources)
        son = make_son(father, sf, kernel=kernel, noise_std=noise[0], speckle_std=noise[1], jpeg_quality=jpeg,
                       generator=generator)
        net_input = imresize(son, sf, size=tuple(father.shape[-2:]))
        loss = torch.mean(torch.abs(net(net_input) - father))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.put(it, loss.detach())
        if it % _SYNC_EVERY == 0:
            loss_value = losses.read(it)
        history.learning_rates.append(policy.learning_rate)
        out_of_time = test(it) if it % config.test_every == 0 else False
        done = _after_step(it, policy, optimizer, history, out_of_time, lr_now)
        if progress is not None:
            progress(it, loss_value, lr_now[0])
        if done:
            break


def _device_loop(net: ZSSRNet, optimizer: torch.optim.Optimizer, image: torch.Tensor, sources: list[FatherSource],
                 sf: tuple[float, float], config: Config, kernel: torch.Tensor | None, generator: torch.Generator,
                 sampler: FatherSampler, noise: SonNoise, jpeg: int | None,
                 policy: LearningRatePolicy, history: TrainingHistory, losses: _LossLog, test: Callable[[int], bool],
                 progress: Callable[[int, float, float], None] | None, *, capture: bool) -> None:
    """The device engine (:mod:`zssr.step`): fathers drawn a block at a time, no host sync between tests."""
    dev = image.device
    channels = int(image.shape[1])
    renderer = FatherRenderer(sampler.crop, dev)
    sons = SonMaker(sampler.crop, sf, kernel=kernel, noise_std=noise[0], jpeg_quality=jpeg, channels=channels, device=dev,
                    speckle_std=noise[1])
    father = torch.zeros(1, channels, *sampler.crop, device=dev)
    son_noise = torch.zeros(1, channels, *sons.son_size, device=dev) if sons.noisy else None
    step_loss = torch.zeros((), device=dev)
    # The son noise comes from a device generator seeded from the run's (same seed, same noise).
    noise_gen = torch.Generator(device=dev).manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = net(sons(father, son_noise))
        loss = torch.mean(torch.abs(out - father))
        loss.backward()
        optimizer.step()
        step_loss.copy_(loss.detach())

    cuda = dev.type == "cuda"
    runner = StepRunner(step, capture=cuda_graph_capture if capture and cuda and sons.capturable else None,
                        isolate=side_stream(dev) if cuda else None)
    padding = "zeros" if config.legacy_crops else "reflection"
    loss_value = float("nan")
    lr_now = [policy.learning_rate]
    it = 0
    while it < config.max_iterations:
        stop = block_end(it, config.test_every, config.max_iterations)
        draws = [sampler.draw(sources) for _ in range(stop - it)]
        thetas = torch.as_tensor(renderer.thetas(draws, sources), dtype=torch.float32).to(dev)
        noises = None
        if son_noise is not None:
            noises = torch.randn((len(draws), *son_noise.shape[1:]), generator=noise_gen, device=dev)
        done = False
        for i, draw in enumerate(draws):
            renderer(sources[draw.source].image, thetas[i], padding, father)
            if noises is not None and son_noise is not None:
                son_noise.copy_(noises[i : i + 1])
            runner()
            losses.put(it, step_loss)
            history.learning_rates.append(policy.learning_rate)
            out_of_time = False
            if it % config.test_every == 0:
                out_of_time = test(it)
                loss_value = losses.read(it)
            done = _after_step(it, policy, optimizer, history, out_of_time, lr_now)
            if progress is not None:
                progress(it, loss_value, lr_now[0])
            it += 1
            if done:
                break
        if done:
            break
    history.engine = "graph" if runner.captured else "device"
    history.capture_fallback = runner.fallback
