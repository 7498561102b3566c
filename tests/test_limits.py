"""Limits checked before any training (``zssr.limits``), and the API refusing what the CLI refuses.

Issue 16, causes 1-4 and 6 through the library: no scale is too large to be
refused in one line, seeds are integers in [0, 2**63), devices are checked by index,
kernels are bounded by the factor and the input, empty arrays are shape errors,
and every long phase gives Ctrl-C back within a second.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import zssr
import zssr.limits as limits
from zssr.config import resolve_config
from zssr.errors import ConfigError, KernelError, ResourceError, ScaleError, ShapeError, ZSSRError
from zssr.pipeline import parse_scale, resolve_device, upscale_tensor

TINY = dict(max_iterations=2, test_every=1, lr_slope_range=6)
GIB = 2**30


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any call to ``upscale_tensor`` from ``zssr.upscale`` a test failure: the check must come first."""

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError("upscale_tensor was called: the mistake was not caught up front")

    monkeypatch.setattr("zssr.pipeline.upscale_tensor", trained)
    monkeypatch.setattr("zssr.task.upscale_tensor", trained)  # zssr.upscale trains through the task layer


def _fixed_memory(monkeypatch: pytest.MonkeyPatch, gib: float = 16.0) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": gib * GIB)


# ----------------------------------------------------------------------------- cause 1: scale upper bound


@pytest.mark.parametrize("scale", [4000, "3000x3000", "2,3000"])
def test_a_scale_no_input_could_fit_is_a_resource_error_before_the_image_is_read(
    scale: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_memory(monkeypatch)
    _no_training(monkeypatch)
    with pytest.raises(ResourceError, match=r"^scale .* is too large for this machine"):
        zssr.upscale("this-file-is-never-read.png", scale)


@pytest.mark.parametrize("scale", [1e308, 1e9, 1e5, "1e308", "2,1e9", 4097])
def test_a_step_beyond_x4096_is_a_scale_error_before_the_image_is_read(scale: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the long fuzz run: ``-s 1e6x2`` on a gray 8×8 fits in memory, then failed making its first son."""
    _no_training(monkeypatch)
    with pytest.raises(ScaleError, match=r"beyond what ZSSR can train on: .* at most ×4096"):
        zssr.upscale("this-file-is-never-read.png", scale)


def test_an_output_too_large_for_memory_says_its_size_need_and_the_largest_that_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fixed_memory(monkeypatch, 16.0)
    _no_training(monkeypatch)
    with pytest.raises(ResourceError) as caught:
        zssr.upscale(np.random.default_rng(0).random((48, 48, 3)), 300, preset="ideal")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("×300 of 48×48 makes an output of 14400×14400 pixels, which needs about")
    assert "17 GB available" in message and "enough for an output of about" in message


def test_the_plan_counts_18_values_per_pixel_with_the_ensemble_and_8_without() -> None:
    ideal, kernel = resolve_config("ideal"), resolve_config("kernel")
    a = limits.plan_run((100, 100), 3, [(4.0, 4.0)], config=ideal)
    b = limits.plan_run((100, 100), 3, [(4.0, 4.0)], config=kernel)
    assert (a.values_per_pixel, b.values_per_pixel) == (18, 8)
    assert a.output_size == (400, 400)
    images = a.peak_bytes - a.fixed_bytes
    assert images == pytest.approx(18 * 3 * 400 * 400 * 4 + 3 * 100 * 100 * 4)
    assert math.isinf(limits.plan_run((8, 8), 1, [(1e308, 1e308)], config=ideal).peak_bytes)


def test_a_plan_that_fits_passes_and_upscale_tensor_checks_its_plan_too(monkeypatch: pytest.MonkeyPatch) -> None:
    config = resolve_config("ideal", **TINY)
    limits.check_plan(limits.plan_run((24, 24), 3, [(2.0, 2.0)], config=config), available=8 * GIB)
    _fixed_memory(monkeypatch, 0.01)
    with pytest.raises(ResourceError, match="×2 of 24×24 makes an output of 48×48 pixels"):
        upscale_tensor(torch.rand(1, 3, 24, 24), [(2.0, 2.0)], config=config, device="cpu")


def test_available_memory_is_positive_and_finite_on_this_machine() -> None:
    available = limits.available_memory("cpu")
    assert 0 < available < math.inf


# ----------------------------------------------------------------------------- cause 2: seeds


@pytest.mark.parametrize("seed", [1.5, "x", True, -1, 2**63, 2**64, np.float64(3.0)])
def test_bad_seeds_are_config_errors_naming_the_seed_in_the_api(seed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match=r"^seed must be an integer in \[0, 2\*\*63\)"):
        zssr.upscale(np.zeros((24, 24, 3)), 2, seed=seed)


@pytest.mark.parametrize("seed", [1.5, -1, 2**63])
def test_upscale_tensor_refuses_bad_seeds_instead_of_truncating_them(seed: Any) -> None:
    with pytest.raises(ConfigError, match="seed"):
        upscale_tensor(torch.rand(1, 3, 24, 24), [(2.0, 2.0)], config=resolve_config("ideal", **TINY), seed=seed,
                       device="cpu")


def test_the_largest_seed_and_numpy_integers_work() -> None:
    config = resolve_config("kernel", **TINY)
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    a = upscale_tensor(x, [(2.0, 2.0)], config=config, seed=2**63 - 1, device="cpu").image
    b = upscale_tensor(x, [(2.0, 2.0)], config=config, seed=np.int64(2**63 - 1), device="cpu").image
    assert torch.equal(a, b)


# ----------------------------------------------------------------------------- cause 3: devices by index


def test_a_cuda_index_this_machine_lacks_is_a_resource_error() -> None:
    with pytest.raises(ResourceError, match=r"cuda:999"):
        resolve_device("cuda:999")
    with pytest.raises(ResourceError, match=r"cuda:99"):
        resolve_device(torch.device("cuda", 99))


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", "cpu:1", "cuda:01", "CUDA", 3])
def test_other_bad_devices_are_zssr_errors(device: Any) -> None:
    with pytest.raises(ZSSRError, match="device"):
        resolve_device(device)


# ----------------------------------------------------------------------------- cause 4: kernel size


def test_a_kernel_far_larger_than_the_image_is_refused_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    with pytest.raises(KernelError, match=r"^kernel is 1001×1001, too large for ×2: at most 33×33"):
        zssr.upscale(np.zeros((48, 48, 3)), 2, preset="kernel", kernel=np.ones((1001, 1001)))


def test_a_kernel_larger_than_the_input_is_refused_with_the_input_size(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    with pytest.raises(KernelError, match=r"of a 20×40 input: at most 20×33"):
        zssr.upscale(np.zeros((20, 40, 3)), 2, preset="kernel", kernel=np.ones((25, 25)))


def test_the_kernel_bound_grows_with_the_factor_and_allows_the_usual_kernels() -> None:
    assert [limits.max_kernel_side(f) for f in (1.5, 2, 3, 4)] == [33, 33, 49, 65]
    assert limits.max_kernel_side(2, 20) == 20
    limits.check_kernel_size((13, 13), (2.0, 2.0), (48, 48))  # KernelGAN ×2
    limits.check_kernel_size((31, 31), (4.0, 4.0), (48, 48))  # DIV2KRK ×4
    with pytest.raises(KernelError, match="after alignment"):
        limits.check_kernel_size((200, 200), (2.0, 2.0), (300, 300), aligned=True)


def test_upscale_tensor_refuses_an_oversized_aligned_kernel() -> None:
    with pytest.raises(KernelError, match="aligned kernel"):
        upscale_tensor(torch.rand(1, 1, 24, 24), [(2.0, 2.0)], kernels=[torch.ones(101, 101) / 101**2],
                       config=resolve_config("kernel", **TINY), device="cpu")


# ----------------------------------------------------------------------------- cause 6: API shapes and scales


@pytest.mark.parametrize("shape", [(0, 0, 3), (24, 0, 3), (0, 24), (0, 24, 1)])
def test_empty_arrays_are_shape_errors(shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ShapeError, match="empty"):
        zssr.upscale(np.zeros(shape, dtype=np.float32), 2)


@pytest.mark.parametrize("scale", [True, (2, 2, 2), (2,), (2, "x"), [2, (2, 2, 2)], [], b"2"])
def test_ambiguous_or_non_numeric_scales_are_scale_errors(scale: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ScaleError):
        zssr.upscale(np.zeros((24, 24, 3)), scale)


def test_lists_are_steps_and_tuples_or_two_numbers_are_one_pair() -> None:
    assert parse_scale((1.5, 2)) == [(1.5, 2.0)]
    assert parse_scale(np.array([1.5, 2.0])) == [(1.5, 2.0)]  # a 1-D array reads as a tuple
    with pytest.raises(ScaleError, match="tuple"):
        parse_scale(np.array([2.0, 2.0, 2.0]))
    assert parse_scale([1.5, 2]) == [(1.5, 2.0)]  # two numbers: one pair, as before
    assert parse_scale([1.5, 2, 3]) == [(1.5, 1.5), (2.0, 2.0), (3.0, 3.0)]
    assert parse_scale([(1.5, 1.5), (2, 2)]) == [(1.5, 1.5), (2.0, 2.0)]
    assert parse_scale(["1.5x2", 3]) == [(1.5, 2.0), (3.0, 3.0)]


@pytest.mark.parametrize(
    "scale, why",
    [("2,1", "does not enlarge the input"), ("1,1", "does not enlarge the input"), ("1", "does not enlarge"),
     (1, "does not enlarge"), ("1x0.5", "must be finite and ≥ 1"), ([2, 2, 2], "repeats step 1"),
     ("2,1.5", "is larger than the last step"), ("2x2,2x1.5", "is larger than the last step"),
     ([3, 4, 2], "is larger than the last step")],
)
def test_steps_that_do_not_enlarge_are_refused(scale: Any, why: str) -> None:
    with pytest.raises(ScaleError, match=why):
        parse_scale(scale)


@pytest.mark.parametrize("target", [(2.0, 2.0), (4.0, 4.0), (1.5, 2.0), (3.0, 1.5), (2.0, 1.0), (1.0, 3.0)])
def test_the_gradual_presets_steps_pass_the_step_rules(target: tuple[float, float]) -> None:
    """The authors' pattern alternates axes (1x1.5 then 1.5x1): the rules must allow it, any target."""
    from zssr.pipeline import check_steps, plan_steps

    steps = plan_steps(target, resolve_config("gradual"))
    assert check_steps(steps) == steps and steps[-1] == target


def test_a_gradual_run_to_an_anisotropic_target_trains() -> None:
    from zssr.pipeline import plan_steps

    config = resolve_config("gradual", **TINY, back_projection_iters=(1,))
    steps = plan_steps((1.5, 2.0), config)
    out = upscale_tensor(torch.rand(1, 1, 12, 12), steps, config=config, device="cpu").image
    assert tuple(out.shape[-2:]) == (18, 24)


def test_upscale_tensor_refuses_steps_that_do_not_enlarge() -> None:
    with pytest.raises(ScaleError, match="larger than the last step"):
        upscale_tensor(torch.rand(1, 1, 16, 16), [(2.0, 2.0), (1.5, 1.5)], config=resolve_config("ideal", **TINY),
                       device="cpu")


@pytest.mark.parametrize("progress", ["yes", 1, None])
def test_progress_must_be_a_bool(progress: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match="progress"):
        zssr.upscale(np.zeros((24, 24, 3)), 2, progress=progress)


# ----------------------------------------------------------------------------- Ctrl-C within a second


def _interrupt_latency(work: Callable[[], object], *, after: float = 0.3) -> float:
    """Seconds from a SIGINT sent ``after`` s into ``work`` to the KeyboardInterrupt it raises."""
    sent: list[float] = []

    def interrupt() -> None:
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(after, interrupt)
    timer.start()
    try:
        work()
    except KeyboardInterrupt:
        return time.perf_counter() - sent[0]
    finally:
        timer.cancel()
    try:  # work ended before the signal: take it here so it does not leak into the next test
        time.sleep(after + 2.0)
    except KeyboardInterrupt:
        pass
    pytest.fail("the work finished before the interrupt: make it longer")


needs_sigint = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to the test process")


@needs_sigint
def test_ctrl_c_stops_a_downscale_with_a_big_kernel_within_a_second() -> None:
    from zssr.kernels import downscale

    g = torch.Generator().manual_seed(0)
    x, k = torch.rand(1, 3, 512, 512, generator=g), torch.rand(201, 201, generator=g)
    assert _interrupt_latency(lambda: downscale(x, k, 2)) < 1.0


@needs_sigint
def test_ctrl_c_stops_inference_on_a_large_image_within_a_second() -> None:
    # Python sees the signal only between native calls, here between layers: on 2-megapixel
    # tiles (before) one 64-channel layer took seconds, on the CPU's tiles it takes ~0.1 s.
    from zssr.ensemble import forward_tiled
    from zssr.network import ZSSRNet

    # float32: the slower arithmetic, so the longest native calls (and the work outlasts the 4 s)
    net = ZSSRNet(3, generator=torch.Generator().manual_seed(0), precision="float32")
    x = torch.rand(1, 3, 2048, 2048)
    with torch.no_grad():
        assert _interrupt_latency(lambda: forward_tiled(net, x), after=4.0) < 1.0


@needs_sigint
def test_ctrl_c_stops_trainings_error_measurement_on_a_large_input_within_a_second() -> None:
    """The training loop's one long call: the reconstruction error runs the net over the whole input."""
    from zssr.network import ZSSRNet
    from zssr.training import reconstruction_error

    net = ZSSRNet(3, generator=torch.Generator().manual_seed(0), precision="float32")  # the longest calls
    x = torch.rand(1, 3, 2048, 2048)
    reconstruction_error(net, x[..., :32, :32], (2.0, 2.0), kernel=None, noise_std=0.0, generator=None)  # warm-up

    def measure() -> None:
        reconstruction_error(net, x, (2.0, 2.0), kernel=None, noise_std=0.0, generator=None)

    assert _interrupt_latency(measure, after=5.0) < 1.0


def _largest_net_input(net: torch.nn.Module, work: Callable[[], object]) -> int:
    sizes: list[int] = []
    handle = net.register_forward_pre_hook(lambda module, args: sizes.append(int(args[0][:, 0].numel())))
    try:
        work()
    finally:
        handle.remove()
    return max(sizes)


def test_the_net_never_sees_more_than_one_tile_in_training_or_inference() -> None:
    """Bounded native calls (Ctrl-C) and activations (memory), whatever the image size."""
    from zssr.ensemble import TILE_PIXELS_CPU, super_resolve
    from zssr.network import ZSSRNet
    from zssr.training import reconstruction_error

    net = ZSSRNet(1, width=4, depth=3, generator=torch.Generator().manual_seed(0))
    x = torch.rand(1, 1, 300, 250)  # 75k pixels: more than one tile already
    assert x[0, 0].numel() > TILE_PIXELS_CPU
    with torch.no_grad():
        largest = _largest_net_input(
            net, lambda: reconstruction_error(net, x, (2.0, 2.0), kernel=None, noise_std=0.0, generator=None))
        assert largest <= TILE_PIXELS_CPU
        work = lambda: super_resolve(net, x, (2.0, 2.0), ensemble=False, back_projection_iters=1)  # noqa: E731
        assert _largest_net_input(net, work) <= TILE_PIXELS_CPU


def test_chunked_downscale_and_median_give_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    import zssr.ensemble as ensemble
    import zssr.kernels.apply as apply

    g = torch.Generator().manual_seed(0)
    x, k = torch.rand(2, 3, 97, 83, generator=g), torch.rand(13, 11, generator=g)
    stack = torch.rand(8, 3, 40, 50, generator=g)
    whole = [apply.downscale(x, k, f) for f in (2.0, (2.0, 1.5), 1.7)] + [ensemble.pixelwise_median(stack)]
    monkeypatch.setattr(apply, "DOWNSCALE_BAND_MACS", 1 << 12)
    monkeypatch.setattr(ensemble, "MEDIAN_CHUNK", 777)
    parts = [apply.downscale(x, k, f) for f in (2.0, (2.0, 1.5), 1.7)] + [ensemble.pixelwise_median(stack)]
    for a, b in zip(whole, parts):
        assert torch.equal(a, b)
