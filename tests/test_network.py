"""zssr.network: the authors' 8×64 residual CNN (docs/authors_code.md §3)."""

from __future__ import annotations

import math

import pytest
import torch

from zssr import network
from zssr.network import ZSSRNet, conv_layout


def test_architecture_matches_the_authors():
    net = ZSSRNet(3)
    convs = list(net.layers)
    assert len(convs) == 8
    assert [c.in_channels for c in convs] == [3] + [64] * 7
    assert [c.out_channels for c in convs] == [64] * 7 + [3]
    assert all(c.bias is None and c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)


def test_init_std_is_sqrt_of_variance_over_fan_in():
    net = ZSSRNet(3, generator=torch.Generator().manual_seed(0))
    first, hidden = net.layers[0].weight.detach(), net.layers[3].weight.detach()
    assert abs(float(first.std()) - math.sqrt(0.1 / 27)) < 0.005  # ≈ 0.0609
    assert abs(float(hidden.std()) - math.sqrt(0.1 / 576)) < 0.0005  # ≈ 0.01318


def test_output_is_input_plus_residual_and_keeps_shape():
    net = ZSSRNet(1, width=8, depth=3)
    x = torch.rand(2, 1, 9, 13)
    with torch.no_grad():
        body = ZSSRNet(1, width=8, depth=3, residual=False)
        body.load_state_dict(net.state_dict())
        assert torch.allclose(net(x), x + body(x))
    assert net(x).shape == x.shape


def test_seeded_init_is_reproducible():
    a = ZSSRNet(3, generator=torch.Generator().manual_seed(7))
    b = ZSSRNet(3, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_auto_precision_is_bfloat16_exactly_where_the_cpu_has_it_natively() -> None:
    from zssr.network import native_bfloat16, uses_bfloat16

    assert uses_bfloat16("auto", "cpu") == native_bfloat16()
    assert not uses_bfloat16("auto", "cuda") and not uses_bfloat16("auto", "mps")
    assert uses_bfloat16("bfloat16", "cpu") and not uses_bfloat16("float32", "cpu")
    x = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(1))
    auto = ZSSRNet(3, width=8, depth=4, generator=torch.Generator().manual_seed(2), precision="auto")
    resolved = "bfloat16" if native_bfloat16() else "float32"
    same = ZSSRNet(3, width=8, depth=4, generator=torch.Generator().manual_seed(2), precision=resolved)
    with torch.no_grad():
        assert torch.equal(auto(x), same(x))


def test_bfloat16_convolutions_stay_close_to_float32_and_keep_float32_weights_and_output() -> None:
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    nets = {p: ZSSRNet(3, generator=torch.Generator().manual_seed(3), precision=p) for p in ("float32", "bfloat16")}
    with torch.no_grad():
        a, b = nets["float32"](x), nets["bfloat16"](x)
    assert b.dtype == torch.float32 and all(w.dtype == torch.float32 for w in nets["bfloat16"].parameters())
    assert not torch.equal(a, b) and float((a - b).abs().max()) < 0.02  # the residual is bfloat16-rounded, the input not


def test_precision_is_validated() -> None:
    import pytest

    from zssr.config import Config
    from zssr.errors import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        Config(precision="half")
    with pytest.raises(ValueError, match="precision"):
        ZSSRNet(3, precision="fp8")


def test_under_bfloat16_the_image_itself_is_never_rounded_to_bfloat16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first convolution reads the float32 image (bfloat16 would round mid-grey by ±0.001); the rest run in bfloat16."""
    net = ZSSRNet(3, width=8, depth=4, generator=torch.Generator().manual_seed(0), precision="bfloat16")
    dtypes: list[torch.dtype] = []
    conv2d = torch.nn.functional.conv2d

    def recording(*args: object, **kwargs: object) -> torch.Tensor:
        out = conv2d(*args, **kwargs)  # type: ignore[arg-type]
        dtypes.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.functional, "conv2d", recording)
    net(torch.rand(1, 3, 16, 16))  # the training path (the fused inference path calls oneDNN directly)
    monkeypatch.undo()
    assert dtypes == [torch.float32, torch.bfloat16, torch.bfloat16, torch.bfloat16]
    assert [w.dtype for w in net._inference_weights(True)] == dtypes  # and the fused inference path's weights


def _plain(net: ZSSRNet, x: torch.Tensor) -> torch.Tensor:
    """The unfused forward (autograd path) for comparison."""
    saved = net._fused
    net._fused = False
    try:
        with torch.no_grad():
            return net(x)
    finally:
        net._fused = saved


def test_cpu_inference_with_fused_relus_equals_the_plain_forward() -> None:
    """The oneDNN conv+ReLU inference path computes the plain forward's values (bit for bit on the AMX Xeon
    it was written on; float rounding allowed elsewhere), for both precisions, any width/depth/channels;
    where oneDNN cannot fuse a precision on this CPU, the fallback is the plain forward itself."""
    for precision, atol in (("float32", 1e-5), ("bfloat16", 2e-2)):
        for channels, width, depth, residual in ((3, 64, 8, True), (1, 16, 4, False), (3, 8, 2, True)):
            net = ZSSRNet(channels, width, depth, generator=torch.Generator().manual_seed(0), precision=precision,
                          residual=residual)
            x = torch.rand(2, channels, 37, 53, generator=torch.Generator().manual_seed(1))
            with torch.no_grad():
                fused = net(x)
            # oneDNN fuses bfloat16 only where the CPU has the instructions (AVX-512 BW/VL/DQ or
            # AVX-NE-CONVERT; not the AVX2-only EPYC): elsewhere the plain path must run instead.
            can_fuse = torch.backends.mkldnn.is_available() and (
                precision == "float32" or torch.ops.mkldnn._is_mkldnn_bf16_supported()
            )
            assert net._fused is not False or not can_fuse, (precision, can_fuse)
            assert torch.allclose(fused, _plain(net, x), atol=atol), (precision, channels, width, depth)


def test_fused_inference_sees_weights_changed_by_training() -> None:
    """Its cast weights are cached per weight version: an optimizer step between two passes is seen."""
    net = ZSSRNet(3, 16, 4, generator=torch.Generator().manual_seed(0), precision="bfloat16")
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = net(x)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net(x).abs().mean().backward()
    opt.step()
    with torch.no_grad():
        after = net(x)
    assert not torch.equal(before, after)
    assert torch.allclose(after, _plain(net, x), atol=2e-2)


def test_conv_layout_is_nchw_only_for_float32_on_cpus_without_avx512(monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN's NHWC weight gradient is the slow one only there (benchmarks/results/conv_layout.md)."""
    for avx512, bf16, device, expected in (
        (False, False, "cpu", torch.contiguous_format),
        (False, True, "cpu", torch.channels_last),
        (True, False, "cpu", torch.channels_last),
        (True, True, "cpu", torch.channels_last),
        (False, False, "cuda", torch.channels_last),
    ):
        monkeypatch.setattr(network, "_avx512", lambda avx512=avx512: avx512)
        assert conv_layout(device, bf16) == expected, (avx512, bf16, device)


def test_training_in_either_layout_gives_the_same_output_and_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout is a speed choice: output and every weight gradient agree to float rounding."""
    x = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(1))
    results = []
    for avx512 in (False, True):
        monkeypatch.setattr(network, "_avx512", lambda avx512=avx512: avx512)
        net = ZSSRNet(3, width=16, depth=4, generator=torch.Generator().manual_seed(0), precision="float32")
        out = net(x)
        out.abs().mean().backward()
        results.append((out.detach(), [p.grad.clone() for p in net.parameters() if p.grad is not None]))
    (a, grads_a), (b, grads_b) = results
    assert len(grads_a) == len(grads_b) == 4
    assert torch.allclose(a, b, atol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        assert torch.allclose(ga, gb, atol=1e-5, rtol=1e-4)
