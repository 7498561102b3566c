"""zssr.network: the authors' 8×64 residual CNN (docs/authors_code.md §3)."""

from __future__ import annotations

import math

import torch

from zssr.network import ZSSRNet


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
