"""zssr.step: the device training engine (fathers and sons on the device, CUDA-graph capture with a fallback)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from skimage import data

import zssr
from zssr.config import PRESETS, resolve_config
from zssr.errors import ConfigError
from zssr.examples import FatherSampler, FatherSource, make_son
from zssr.network import ZSSRNet
from zssr.resize import imresize
from zssr.step import (
    FatherRenderer, MatrixResize, SonMaker, StepRunner, block_end, resize_matrix, resolve_engine, set_learning_rate,
)
from zssr.training import make_optimizer, train_scale_step

TINY = dict(max_iterations=6, test_every=2, lr_slope_range=6)


def _photo(h: int = 40, w: int = 52) -> torch.Tensor:
    return torch.from_numpy(data.astronaut()[100 : 100 + h, 150 : 150 + w].astype(np.float32) / 255.0).permute(2, 0, 1)[None]


@pytest.mark.parametrize("in_size,scale,size", [
    ((128, 128), (0.5, 0.5), None), ((128, 128), (1 / 3, 1 / 3), None), ((128, 128), (0.25, 0.25), None),
    ((128, 96), (1 / 1.5, 1.0), None), ((86, 128), (1.5, 1.0), (128, 128)), ((43, 43), (3.0, 3.0), (128, 128)),
    ((37, 50), (2.0, 2.0), (74, 100)),
])
def test_matrix_resize_equals_matlab_imresize(in_size, scale, size):
    """The son's two matrix products are zssr.resize.imresize (itself MATLAB-exact, test_resize) to float rounding."""
    x = torch.rand(1, 3, *in_size, generator=torch.Generator().manual_seed(0))
    ref = imresize(x.double(), scale, size=size)
    got = MatrixResize(in_size, scale, size, "cpu")(x)
    assert got.shape == ref.shape
    assert torch.allclose(got.double(), ref, atol=2e-6)


def test_resize_matrix_rows_sum_to_one():
    """Each output is a normalised weighted mean of inputs (MATLAB's contributions), mirrored taps folded in."""
    m = resize_matrix(20, 7, 7 / 20)
    assert np.allclose(m.sum(axis=1), 1.0)


@pytest.mark.parametrize("legacy", [False, True])
def test_rendered_fathers_equal_the_eager_fathers(legacy):
    """Every draw (exact crops with quarter turns and mirrors, warps, the fallback) renders on the device path
    as the eager sampler renders it, up to float32 rounding of whole-pixel bicubic samples."""
    image = _photo(60, 80)
    big = torch.nn.functional.interpolate(image, scale_factor=1.5, mode="bilinear", align_corners=False).clamp(0, 1)
    sources = [FatherSource(image, 1.0), FatherSource(big, 1.5)]
    config = dataclasses.replace(PRESETS["ideal"], crop_size=32, legacy_crops=legacy)
    sampler = FatherSampler(config, (32, 32), np.random.default_rng(5))
    renderer = FatherRenderer((32, 32), "cpu")
    out = torch.empty(1, 3, 32, 32)
    draws = [sampler.draw(sources) for _ in range(200)]
    thetas = torch.as_tensor(renderer.thetas(draws, sources), dtype=torch.float32)
    kinds = set()
    for draw, theta in zip(draws, thetas):
        ref = sampler.render(draw, sources)
        renderer(sources[draw.source].image, theta, draw.padding, out)
        kinds.add((draw.exact is not None, draw.source))
        assert torch.allclose(out, ref, atol=2e-4), draw
    assert kinds == {(True, 0), (True, 1), (False, 0), (False, 1)}


def test_drawing_consumes_the_random_stream_as_sampling_does():
    """A block drawn ahead gives the fathers the eager loop would cut, in the same order."""
    image = _photo()
    sources = [FatherSource(image, 1.0)]
    config = dataclasses.replace(PRESETS["ideal"], crop_size=24)
    a = FatherSampler(config, (24, 24), np.random.default_rng(9))
    b = FatherSampler(config, (24, 24), np.random.default_rng(9))
    drawn = [a.render(d, sources) for d in [a.draw(sources) for _ in range(20)]]
    for father in drawn:
        assert torch.equal(father, b.sample(sources))


def test_son_maker_equals_make_son_then_resize_back_without_noise():
    father = _photo(32, 32)
    sons = SonMaker((32, 32), (2.0, 2.0), kernel=None, noise_std=0.0, jpeg_quality=None, channels=3, device="cpu")
    ref = imresize(imresize(father.double(), 0.5), 2.0, size=(32, 32))
    assert sons.capturable and sons.sigma is None
    assert torch.allclose(sons(father, None).double(), ref, atol=2e-6)


def test_son_maker_adds_per_channel_noise_and_is_not_capturable_with_jpeg():
    father = _photo(32, 32)
    sons = SonMaker((32, 32), (2.0, 2.0), kernel=None, noise_std=(0.0, 0.1, 0.0), jpeg_quality=None, channels=3,
                    device="cpu")
    noise = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    clean = sons(father, torch.zeros_like(noise))
    noisy = sons(father, noise)
    assert torch.equal(clean[:, 0], noisy[:, 0]) and not torch.equal(clean[:, 1], noisy[:, 1])
    jpeg = SonMaker((32, 32), (2.0, 2.0), kernel=None, noise_std=0.0, jpeg_quality=50, channels=3, device="cpu")
    assert not jpeg.capturable


def test_son_maker_speckle_matches_make_son_on_the_same_noise_and_stays_capturable():
    """The device engine's sons carry speckle as the eager path's do: same formula, same draw."""
    father = _photo(32, 32)
    sons = SonMaker((32, 32), (2.0, 2.0), kernel=None, noise_std=(0.01, 0.0, 0.0), jpeg_quality=None, channels=3,
                    device="cpu", speckle_std=(0.1, 0.1, 0.0))
    assert sons.noisy and sons.capturable
    noise = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    son = make_son(father, (2.0, 2.0), noise_std=(0.01, 0.0, 0.0), speckle_std=(0.1, 0.1, 0.0),
                   generator=torch.Generator().manual_seed(2))
    up = imresize(son, 2.0, size=(32, 32))
    assert torch.allclose(sons(father, noise), up, atol=2e-5)


def test_block_ends_at_the_next_reconstruction_test():
    """Blocks (fathers drawn at once) end where the LR policy needs a number: test iterations 0, 50, 100..."""
    assert [block_end(i, 50, 3000) for i in (0, 1, 50, 51, 2951)] == [1, 51, 51, 101, 3000]


def test_engine_resolution_keeps_eager_on_cpus_and_graphs_on_cuda():
    assert resolve_engine("auto", "cpu") == "eager"
    assert resolve_engine("auto", "cuda") == "graph"
    assert resolve_engine("graph", "cpu") == "device"
    assert resolve_engine("device", "cuda") == "device"
    with pytest.raises(ConfigError, match="training_engine"):
        resolve_config("ideal", training_engine="fast")


class _Recorder:
    """A stand-in for CUDA-graph capture on the CPU: 'captures' by returning the step itself."""

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.captures = fail, 0

    def __call__(self, step):
        self.captures += 1
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        return step


def test_step_runner_warms_up_then_captures_once_and_replays():
    calls = []
    capture = _Recorder()
    isolated = []
    runner = StepRunner(lambda: calls.append(1), capture=capture, warmup=3, isolate=lambda fn: (isolated.append(1), fn()))
    for _ in range(10):
        runner()
    assert len(calls) == 10 and capture.captures == 1 and len(isolated) == 3 and runner.captured


def test_step_runner_falls_back_to_the_uncaptured_step_when_capture_fails():
    calls = []
    runner = StepRunner(lambda: calls.append(1), capture=_Recorder(fail=True), warmup=2)
    with pytest.warns(RuntimeWarning, match="not captured"):
        for _ in range(6):
            runner()
    assert len(calls) == 6 and not runner.captured and "RuntimeError" in runner.fallback


def _train(engine: str, capture=None, iterations: int = 12):
    """One scale step of a tiny run; ``capture`` swaps the CUDA-graph capture for a CPU stand-in."""
    image = _photo()
    config = dataclasses.replace(PRESETS["ideal"], crop_size=24, training_engine=engine, precision="float32",
                                 max_iterations=iterations, test_every=4, lr_slope_range=12)
    torch.manual_seed(0)
    net = ZSSRNet(3, 16, 4, generator=torch.Generator().manual_seed(0), precision="float32")
    opt = make_optimizer(net, config)
    import zssr.training as training

    original = training.cuda_graph_capture
    if capture is not None:
        training.cuda_graph_capture = capture
    try:
        history = train_scale_step(net, opt, image, [FatherSource(image, 1.0)], (2.0, 2.0), config=config, kernel=None,
                                   rng=np.random.default_rng(1), generator=torch.Generator().manual_seed(2))
    finally:
        training.cuda_graph_capture = original
    return net, history


def test_graph_engine_on_the_cpu_is_the_device_engine_with_a_tiny_budget():
    """The compiled path's CPU test: ``graph`` off CUDA runs the device engine (nothing to capture), same values."""
    net_a, hist_a = _train("graph")
    net_b, hist_b = _train("device")
    assert hist_a.engine == hist_b.engine == "device"
    assert hist_a.losses == hist_b.losses
    assert all(torch.equal(p, q) for p, q in zip(net_a.parameters(), net_b.parameters()))


def test_device_engine_learns_and_records_what_eager_records():
    """Same history fields (iterations, tests, rates) as the eager loop, and the same training: the fathers are
    the eager ones and the sons the same resizes, so the first losses agree to float rounding."""
    _, dev = _train("device", iterations=40)
    _, eager = _train("eager", iterations=40)
    assert dev.iterations == eager.iterations == 40
    assert dev.test_iterations == eager.test_iterations
    assert len(dev.losses) == len(dev.learning_rates) == 40
    assert np.allclose(dev.losses[:10], eager.losses[:10], rtol=1e-3)


def test_device_engine_is_deterministic_and_close_to_eager_end_to_end():
    lr = data.chelsea()[:48, :64].astype(np.float32) / 255.0
    a = zssr.upscale(lr, 2, seed=3, training_engine="device", noise_std=0.02, **TINY)
    b = zssr.upscale(lr, 2, seed=3, training_engine="device", noise_std=0.02, **TINY)
    e = zssr.upscale(lr, 2, seed=3, training_engine="eager", noise_std=0.02, **TINY)
    assert np.array_equal(a, b)
    assert np.abs(a - e).mean() < 0.01


def test_set_learning_rate_fills_a_tensor_rate_in_place():
    """A captured Adam reads its rate from a device tensor: the tensor must be updated, not replaced."""
    p = torch.nn.Parameter(torch.zeros(2))
    rate = torch.tensor(1e-3)
    opt = torch.optim.Adam([p], lr=rate)
    set_learning_rate(opt, 1e-4)
    assert opt.param_groups[0]["lr"] is rate and float(rate) == pytest.approx(1e-4)
    plain = torch.optim.Adam([p], lr=1e-3)
    set_learning_rate(plain, 1e-5)
    assert plain.param_groups[0]["lr"] == 1e-5


def test_cuda_graph_engine_captures_and_matches_the_uncaptured_device_engine(cuda_device):
    """On CUDA the step is captured (history.engine == 'graph') and trains like the uncaptured step."""
    lr = data.chelsea()[:64, :80].astype(np.float32) / 255.0
    cfg = dict(max_iterations=60, test_every=10, lr_slope_range=30)
    graph = zssr.pipeline.upscale_tensor(torch.from_numpy(lr).permute(2, 0, 1)[None], [(2.0, 2.0)],
                                         config=resolve_config("ideal", training_engine="graph", **cfg), seed=1,
                                         device="cuda")
    plain = zssr.pipeline.upscale_tensor(torch.from_numpy(lr).permute(2, 0, 1)[None], [(2.0, 2.0)],
                                         config=resolve_config("ideal", training_engine="device", **cfg), seed=1,
                                         device="cuda")
    assert graph.steps[0].engine == "graph", graph.steps[0].capture_fallback
    assert plain.steps[0].engine == "device"
    assert np.allclose(graph.steps[0].losses, plain.steps[0].losses, rtol=1e-3, atol=1e-4)
    assert (graph.image - plain.image).abs().max() < 1e-3


def test_cuda_graph_engine_gradual_and_noisy_runs_are_deterministic(cuda_device):
    lr = data.chelsea()[:48, :64].astype(np.float32) / 255.0
    a = zssr.upscale(lr, 2, preset="gradual", seed=2, device="cuda", noise_std=0.01, **TINY)
    b = zssr.upscale(lr, 2, preset="gradual", seed=2, device="cuda", noise_std=0.01, **TINY)
    assert a.shape == (96, 128, 3)
    assert np.allclose(a, b, atol=1e-5)
