"""zssr.resize: MATLAB imresize semantics.

Reference values: the SelfExSR Set5/Set14 `_LR.png` files (jbhuang0604/SelfExSR, commit 8f6dd8c,
see ../shared/data/SOURCES.md) were made by MATLAB `imresize(HR, 1/s)` on uint8 images.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zssr import resize as R
from zssr.errors import ScaleError, ShapeError, ZSSRError
from zssr.resize import imresize


def _generic(x: torch.Tensor, scale, size=None, method="cubic", antialias=True) -> torch.Tensor:
    """The per-axis tap-sum path, used as the reference for the fused fast path."""
    in_size = (x.shape[-2], x.shape[-1])
    sc, out = R.output_size(in_size, scale, size)
    y = x
    for axis in sorted((0, 1), key=lambda a: sc[a]):
        if sc[axis] == 1 and out[axis] == in_size[axis]:
            continue
        idx, w = R.resize_weights(in_size[axis], out[axis], sc[axis], R.INTERP_KERNELS[method], antialias)
        y = R._resize_axis(y, y.dim() - 2 + axis, idx, w)
    return y


def _pairs(data_dir: Path, dataset: str, s: int):
    folder = data_dir / dataset / "SelfExSR" / f"image_SRF_{s}"
    for hr_path in sorted(folder.glob("*_HR.png")):
        hr = np.asarray(Image.open(hr_path))
        lr = np.asarray(Image.open(str(hr_path).replace("_HR.png", "_LR.png")))
        yield hr_path.name, hr, lr


def _uint8_downscale(hr: np.ndarray, s: int, boundary: str) -> np.ndarray:
    hwc = hr[..., None] if hr.ndim == 2 else hr
    t = torch.from_numpy(hwc.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
    out = imresize(t, 1 / s, quantize=True, boundary=boundary)
    res = np.rint(out[0].permute(1, 2, 0).numpy() * 255.0).astype(np.int64)
    return res[..., 0] if hr.ndim == 2 else res


@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
@pytest.mark.parametrize("s", [2, 3, 4])
def test_uint8_downscale_reproduces_matlab_lr_inside_the_outer_frame(data_dir, dataset, s):
    """MATLAB's uint8 path (round after each pass) gives the published LR files.

    Exact at x2/x3, |diff| <= 1 at x4, everywhere but the outermost one-pixel frame:
    the files' generator clamped at the border instead of mirroring (next test).
    """
    for name, hr, lr in _pairs(data_dir, dataset, s):
        ours = _uint8_downscale(hr, s, "symmetric")
        assert ours.shape == lr.shape, name
        diff = np.abs(ours - lr.astype(np.int64))[1:-1, 1:-1]
        assert diff.max() <= (1 if s == 4 else 0), name


@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
@pytest.mark.parametrize("s", [2, 3, 4])
def test_replicate_boundary_reproduces_matlab_lr_files_bit_exactly(data_dir, dataset, s):
    """With an edge-clamp boundary the SelfExSR LR files are reproduced everywhere, frame included."""
    for name, hr, lr in _pairs(data_dir, dataset, s):
        assert np.array_equal(_uint8_downscale(hr, s, "replicate"), lr), name


CASES = [
    ((37, 53), (0.5, 0.5), None),
    ((64, 64), (2.0, 2.0), None),
    ((64, 80), (1 / 3, 0.25), None),
    ((50, 60), (1.5, 2.0), None),
    ((128, 128), (1.5, 1.5), (192, 192)),
    ((86, 86), (1.5, 1.5), (128, 128)),
    ((40, 40), (1.0, 1.5), None),
    ((20, 31), (0.5, 2.0), None),
    ((8, 8), (0.25, 0.25), None),
    ((129, 77), (2 / 3, 0.75), None),
    ((30, 30), (0.7071, 1.41421356), None),
]


@pytest.mark.parametrize("shape,scale,size", CASES)
@pytest.mark.parametrize("method", ["cubic", "linear"])
def test_fast_path_equals_generic_taps(shape, scale, size, method):
    x = torch.rand(2, 3, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fast = imresize(x, scale, size=size, method=method)
    ref = _generic(x, scale, size, method)
    assert fast.shape == ref.shape
    assert torch.allclose(fast, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("shape,scale,size", CASES)
def test_float32_agrees_with_float64(shape, scale, size):
    x = torch.rand(1, 3, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a = imresize(x, scale, size=size)
    b = imresize(x.float(), scale, size=size)
    assert b.dtype == torch.float32
    assert (a - b.double()).abs().max() < 2e-4


@pytest.mark.parametrize(
    "in_size,scale,size,expected",
    [
        ((10, 10), 0.5, None, (5, 5)),
        ((255, 255), 1 / 3, None, (85, 85)),  # 255*(1/3) is 84.999... in floating point
        ((11, 7), (2.0, 3.0), None, (22, 21)),
        ((11, 7), 1.5, None, (17, 11)),
        ((11, 7), None, (20, 5), (20, 5)),
        ((86, 86), 1.5, (128, 128), (128, 128)),
    ],
)
def test_output_shape_for_every_pairing_of_scale_and_size(in_size, scale, size, expected):
    x = torch.rand(1, 1, *in_size)
    assert tuple(imresize(x, scale, size=size).shape[-2:]) == expected


@pytest.mark.parametrize("method", list(R.INTERP_KERNELS))
def test_scale_one_is_identity(method):
    x = torch.rand(1, 3, 17, 19, dtype=torch.float64)
    assert torch.equal(imresize(x, 1.0, method=method), x)


@pytest.mark.parametrize("method", list(R.INTERP_KERNELS))
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("scale", [0.5, 0.3, 1.7, 3.0])
def test_constant_image_stays_constant(method, antialias, scale):
    """Weights are normalised per output pixel, so constants are preserved (box without
    antialiasing crashes the authors' code, #11; here it works)."""
    x = torch.full((1, 2, 23, 29), 0.37, dtype=torch.float64)
    y = imresize(x, scale, method=method, antialias=antialias)
    assert torch.allclose(y, torch.full_like(y, 0.37), atol=1e-12)


def test_antialiasing_is_decided_per_axis():
    """Shrinking one axis and enlarging the other antialiases only the shrunk axis."""
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    both = imresize(x, (0.5, 2.0))
    rows_only = _generic(x, (0.5, 2.0))
    assert torch.allclose(both, rows_only, atol=1e-12)
    no_aa = imresize(x, (0.5, 2.0), antialias=False)
    assert not torch.allclose(both, no_aa)


def test_downscale_antialias_removes_aliasing():
    """A Nyquist-rate checkerboard averages to grey under antialiased shrinking."""
    i = torch.arange(64)
    board = ((i[:, None] + i[None, :]) % 2).double()[None, None]
    y = imresize(board, 0.5)[..., 4:-4, 4:-4]
    assert (y - 0.5).abs().max() < 1e-9


def test_upscale_interpolates_sample_positions():
    """Bicubic x3 upscaling keeps the input values at the input pixel centres."""
    x = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    y = imresize(x, 3.0)
    assert torch.allclose(y[..., 1::3, 1::3][..., 2:-2, 2:-2], x[..., 2:-2, 2:-2], atol=1e-12)


def test_leading_dims_are_kept():
    x = torch.rand(2, 3, 4, 10, 12)
    assert imresize(x, 0.5).shape == (2, 3, 4, 5, 6)
    assert imresize(x[0, 0, 0], 2.0).shape == (20, 24)


def test_gradients_flow():
    x = torch.rand(1, 1, 9, 11, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, (0.5, 1.5)), (x,))
    assert torch.autograd.gradcheck(lambda t: imresize(t, 0.7, method="lanczos3"), (x,))


@pytest.mark.parametrize("bad", [0.0, -2.0, math.nan, math.inf, (1.0, 0.0), (1.0, 2.0, 3.0)])
def test_bad_scale_raises_scale_error(bad):
    with pytest.raises(ScaleError, match="scale"):
        imresize(torch.rand(1, 1, 8, 8), bad)


def test_bad_arguments_raise_typed_errors():
    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(ScaleError):
        imresize(x)
    with pytest.raises(ScaleError, match="size"):
        imresize(x, size=(0, 4))
    with pytest.raises(ZSSRError, match="method"):
        imresize(x, 2.0, method="nearest")  # type: ignore[arg-type]
    with pytest.raises(ZSSRError, match="floating"):
        imresize(torch.ones(1, 1, 8, 8, dtype=torch.uint8), 2.0)
    with pytest.raises(ShapeError):
        imresize(torch.rand(5), 2.0)


def test_cuda_matches_cpu(cuda_device):
    x = torch.rand(1, 3, 40, 50)
    for scale in (0.5, 2.0, 1.5, (1 / 3, 0.75)):
        cpu = imresize(x, scale)
        gpu = imresize(x.to(cuda_device), scale)
        assert gpu.device.type == "cuda"
        assert torch.allclose(gpu.cpu(), cpu, atol=1e-5)


@pytest.mark.parametrize("scale", [1e-9, 1e-300, (1.0, 1e-6)])
def test_a_scale_whose_antialiasing_kernel_spans_too_many_pixels_is_refused_at_once(scale: object) -> None:
    """Found by the fuzzer: ``zssr resize --scale 1e-9`` built 4·10⁹ taps (a MemoryError traceback)."""
    with pytest.raises(ScaleError, match="shrinks too far"):
        imresize(torch.rand(1, 3, 12, 12), scale)  # type: ignore[arg-type]
    assert imresize(torch.rand(1, 3, 12, 12), 1e-9, antialias=False).shape[-2:] == (1, 1)
