"""What a run will cost in time, measured on this device before training (issue #13, item 4).

A ZSSR run is two phases of known size: at most ``max_iterations`` training steps
per scale step, each on one ``crop_size²`` father (plus a reconstruction test every
``test_every`` steps on at most ``test_pixels`` pixels), then the ensemble's
passes of the net over the whole output. So one timed training step and one
timed forward pass on this device (a throwaway net, its own random numbers: the
run's are untouched) give an upper bound for training and an estimate for
inference, printed before a long run starts.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch

from .config import Config
from .limits import Plan
from .network import ZSSRNet

__all__ = ["DeviceSpeed", "RunEstimate", "estimate_run", "measure_speed"]


@dataclass(frozen=True)
class DeviceSpeed:
    """Measured speeds of the net on one device (at the thread count it was measured with)."""

    step_seconds: float  #: one training step (forward, L1 loss, backward, Adam) on a crop
    pixel_seconds: float  #: the net's forward pass, per input pixel, without gradients
    device: str


@dataclass(frozen=True)
class RunEstimate:
    """Seconds a run is expected to take, per phase (training is an upper bound)."""

    iterations: int
    training_seconds: float
    test_seconds: float
    passes: int
    output_pixels: float
    inference_seconds: float

    @property
    def total_seconds(self) -> float:
        """All phases together."""
        return self.training_seconds + self.test_seconds + self.inference_seconds

    def describe(self, speed: DeviceSpeed) -> str:
        """One line for the user: what each phase costs and why."""
        return (
            f"at most {self.iterations} iterations × {speed.step_seconds:.3g} s = {_duration(self.training_seconds)} "
            f"of training (+ {_duration(self.test_seconds)} of tests), inference ≈ {self.passes} passes over "
            f"{self.output_pixels / 1e6:.3g} MP ≈ {_duration(self.inference_seconds)}; "
            f"≈ {_duration(self.total_seconds)} at most in all (measured on {speed.device} now)"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@torch.no_grad()
def _forward_seconds(net: ZSSRNet, x: torch.Tensor) -> float:
    start = time.perf_counter()
    net(x)
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return time.perf_counter() - start


def measure_speed(config: Config, channels: int, device: str | torch.device, *, repeats: int = 3) -> DeviceSpeed:
    """Time ``repeats`` training steps and forward passes of a fresh net on a ``crop_size²`` crop (after a warm-up).

    Takes about ``2·(repeats + 1)`` training steps of time (well under 2 s on a 2-core CPU).
    """
    with torch.random.fork_rng(devices=[]):  # torch's global state too (nn.Conv2d's default init draws from it)
        return _measure(config, channels, torch.device(device), repeats)


def _measure(config: Config, channels: int, dev: torch.device, repeats: int) -> DeviceSpeed:
    gen = torch.Generator().manual_seed(0)  # its own: the run's random numbers are untouched
    net = ZSSRNet(channels, config.width, config.depth, init_variance=config.init_variance,
                  residual=config.learn_residual, generator=gen, precision=config.precision).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    side = config.crop_size
    x = torch.rand(1, channels, side, side, generator=gen).to(dev)
    target = torch.rand(1, channels, side, side, generator=gen).to(dev)
    steps, forwards = [], []
    for k in range(repeats + 1):
        start = time.perf_counter()
        loss = torch.mean(torch.abs(net(x) - target))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        float(loss.detach())  # waits for the device
        seconds = time.perf_counter() - start
        forward = _forward_seconds(net, x)
        if k > 0:  # the first of each is a warm-up (allocations, kernels chosen)
            steps.append(seconds)
            forwards.append(forward)
    return DeviceSpeed(statistics.median(steps), statistics.median(forwards) / (side * side), str(dev))


def estimate_run(plan: Plan, config: Config, speed: DeviceSpeed) -> RunEstimate:
    """The time ``plan`` takes at ``speed``: training at most, tests at most, inference about.

    Inference counts the ensemble's net passes over each step's output (8 with the
    geometric ensemble, 4 for anisotropic factors, 1 without; ``degradation="auto"`` may pick
    it once the input is read, so it counts it); its resamplings and
    back-projections add little next to the 8-layer net.
    """
    h, w = plan.input_size
    runs = config.nets  # each of Config.nets runs trains and infers the whole plan
    iterations = config.max_iterations * len(plan.steps) * runs
    test_px = float(h * w) if config.test_pixels is None else float(min(h * w, config.test_pixels))
    tests = runs * len(plan.steps) * math.ceil(config.max_iterations / config.test_every)
    passes, pixels = 0, 0.0
    for sf, (oh, ow) in zip(plan.steps, plan.sizes):
        n = 1 if not (config.output_flip or config.degradation == "auto") else (8 if sf[0] == sf[1] else 4)
        passes += n * runs
        pixels += n * oh * ow * runs
    return RunEstimate(
        iterations=iterations, training_seconds=iterations * speed.step_seconds,
        test_seconds=tests * test_px * speed.pixel_seconds, passes=passes, output_pixels=plan.sizes[-1][0] * plan.sizes[-1][1],
        inference_seconds=pixels * speed.pixel_seconds,
    )
