"""zssr.ensemble: geometric self-ensemble, median and back-projection (docs/authors_code.md §4)."""

from __future__ import annotations

import pytest
import torch

from zssr.ensemble import TRANSFORMS, pixelwise_median, back_project, forward_tiled, super_resolve
from zssr.examples import degrade
from zssr.kernels import align_kernel, gaussian_kernel
from zssr.network import ZSSRNet
from zssr.resize import imresize


@pytest.mark.parametrize("t", TRANSFORMS, ids=[f"rot{t.turns}{'-flip' if t.flip else ''}" for t in TRANSFORMS])
def test_every_transform_inverts_exactly(t):
    x = torch.rand(1, 3, 7, 11)
    assert torch.equal(t.invert(t.apply(x)), x)


def test_the_eight_transforms_are_distinct():
    x = torch.rand(1, 1, 5, 5)
    outs = [t.apply(x) for t in TRANSFORMS]
    assert all(not torch.equal(a, b) for i, a in enumerate(outs) for b in outs[i + 1 :])


def test_transforms_match_the_authors_numpy_definition():
    """k < 4: rot90(x, k); k >= 4: fliplr(rot90(x, k - 4)) (numpy on H×W)."""
    import numpy as np

    x = np.arange(12.0).reshape(3, 4)
    for k, t in enumerate(TRANSFORMS):
        ref = np.rot90(x, k % 4)
        ref = np.fliplr(ref) if k >= 4 else ref
        assert np.array_equal(t.apply(torch.from_numpy(x.copy())[None, None])[0, 0].numpy(), ref)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    stack = torch.tensor([1.0, 5.0, 2.0, 9.0])[:, None]
    assert float(pixelwise_median(stack)) == 3.5


def _zero_net(channels=3):
    net = ZSSRNet(channels)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    return net


def test_ensemble_of_an_identity_net_is_the_bicubic_upscale():
    """A zero-residual net outputs its bicubic input; every transform commutes with MATLAB's
    centred grid, so the median of the 8 equals the plain upscale."""
    x = torch.rand(1, 3, 12, 16, dtype=torch.float32)
    out = super_resolve(_zero_net(), x, (2.0, 2.0), ensemble=True, back_projection_iters=0)
    assert torch.allclose(out, imresize(x, 2.0).clamp(0, 1), atol=1e-6)


def test_anisotropic_factors_use_the_four_axis_preserving_transforms():
    x = torch.rand(1, 1, 10, 12)
    out = super_resolve(_zero_net(1), x, (1.5, 2.0), ensemble=True, back_projection_iters=0)
    assert out.shape[-2:] == (15, 24)


@pytest.mark.parametrize("kernel", [False, True])
def test_back_projection_lowers_the_lr_consistency_error(kernel):
    torch.manual_seed(0)
    hr = torch.rand(1, 3, 48, 48)
    k = align_kernel(gaussian_kernel(13, 1.6, 0.8, 0.5), 2).float() if kernel else None
    lr = degrade(hr, (2.0, 2.0), k)
    guess = (imresize(lr, 2.0) + 0.05 * torch.randn(1, 3, 48, 48)).clamp(0, 1)

    def err(y):
        return float(((degrade(y, (2.0, 2.0), k) - lr) ** 2).mean())

    before = err(guess)
    after = err(back_project(guess, lr, (2.0, 2.0), iterations=10, kernel=k))
    assert after < 0.5 * before


def test_tiled_forward_equals_full_forward():
    net = ZSSRNet(3, width=8, depth=4, generator=torch.Generator().manual_seed(0))
    x = torch.rand(2, 3, 70, 90)
    with torch.no_grad():
        assert torch.allclose(forward_tiled(net, x, max_pixels=2 * 40 * 40), net(x), atol=1e-6)
