"""Every mistake at the public API is a ``ZSSRError`` naming the parameter (issue #30, cause 7).

Found by a security review: a tensor with ``requires_grad`` raised torch's RuntimeError, 1e300
was called "NaN or infinite", a bytes path was read as an array of bytes. The sweep that
followed found more escapes (integers too large for a float, ``upscale_tensor`` and
``imresize`` arguments of the wrong type, ``upscale_volume``'s voxel sizes); each is pinned
here, and tests/test_fuzz_api.py draws them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import zssr
from zssr.io import read_image, write_image

RNG = np.random.default_rng(0)
IMAGE = RNG.random((12, 12, 3)).astype(np.float32)
FAST = {"max_iterations": 1, "seed": 0, "device": "cpu", "preset": "fast"}


class _PathLike:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return str(self.path)


def _error(call: Any, *args: Any, **kwargs: Any) -> zssr.ZSSRError:
    with pytest.raises(zssr.ZSSRError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert message and "\n" not in message
    return caught.value


def test_a_tensor_that_requires_grad_is_detached_and_upscaled_like_the_same_array() -> None:
    tensor = torch.from_numpy(IMAGE.copy()).requires_grad_(True)
    out = zssr.upscale(tensor, 2, **FAST)
    np.testing.assert_array_equal(out, zssr.upscale(IMAGE, 2, **FAST))
    assert tensor.grad is None
    lr = torch.from_numpy(IMAGE).permute(2, 0, 1)[None].clone().requires_grad_(True)
    config = zssr.resolve_config("fast", max_iterations=1)
    assert zssr.upscale_tensor(lr, [(2.0, 2.0)], config=config, device="cpu").image.shape == (1, 3, 24, 24)
    volume = torch.rand(3, 12, 12, requires_grad=True)
    run = zssr.upscale_volume(volume, 2, axes="ZYX", preset="fast", max_iterations=1, device="cpu")
    assert run.volume.data.shape == (3, 24, 24)


@pytest.mark.parametrize("value", [1e300, -1e300, 1e39, 255.0])
def test_finite_values_out_of_range_are_called_out_of_range_not_infinite(value: float) -> None:
    array = np.full((12, 12, 3), value)
    message = str(_error(zssr.upscale, array, 2, **FAST))
    assert "must lie in [0, 1]" in message and "image_or_path" in message and "infinite" not in message
    assert f"{value:.3g}" in message
    tensor = torch.full((1, 3, 12, 12), value, dtype=torch.float64)
    config = zssr.resolve_config("fast", max_iterations=1)
    message = str(_error(zssr.upscale_tensor, tensor, [(2.0, 2.0)], config=config, device="cpu"))
    assert "must lie in [0, 1]" in message and "infinite" not in message


def test_true_nan_and_infinity_are_still_called_nan_or_infinite() -> None:
    for bad in (np.nan, np.inf):
        array = IMAGE.astype(np.float64)
        array[3, 4, 1] = bad
        assert "NaN or infinite" in str(_error(zssr.upscale, array, 2, **FAST))


def test_bytes_bytearray_and_pathlike_paths_are_read_as_files_never_as_arrays(tmp_path: Path) -> None:
    path = write_image(tmp_path / "in.png", IMAGE)
    expected = zssr.upscale(str(path), 2, **FAST)
    for given in (os.fsencode(path), bytearray(os.fsencode(path)), _PathLike(path)):
        np.testing.assert_array_equal(zssr.upscale(given, 2, **FAST), expected)
    missing = os.fsencode(tmp_path / "missing.png")
    error = _error(zssr.upscale, missing, 2, **FAST)
    assert isinstance(error, zssr.ImageReadError) and "missing.png" in str(error)
    assert isinstance(_error(read_image, 3), zssr.ImageReadError)
    kernel = tmp_path / "k.npy"
    np.save(kernel, np.ones((3, 3)) / 9)
    out = zssr.upscale(IMAGE, 2, kernel=os.fsencode(kernel), **FAST)
    np.testing.assert_array_equal(out, zssr.upscale(IMAGE, 2, kernel=kernel, **FAST))


BAD_ARRAYS = {
    "0-d": np.array(0.5), "1-d": np.ones(12), "5-d": np.ones((12, 12, 3, 1, 1)), "2 channels": np.ones((12, 12, 2)),
    "5 channels": np.ones((12, 12, 5)), "empty": np.ones((0, 12, 3)), "object": np.full((12, 12, 3), 0.5, dtype=object),
    "complex": np.full((12, 12, 3), 0.5 + 0j), "bool": np.ones((12, 12, 3), dtype=bool),
    "int32": np.ones((12, 12, 3), dtype=np.int32), "strings": np.full((12, 12, 3), "a"),
    "ragged list": [[0.5, 0.5], [0.5]], "complex tensor": torch.ones(12, 12, 3, dtype=torch.complex64),
    "bool tensor": torch.ones(12, 12, 3, dtype=torch.bool), "memoryview": memoryview(b"abc"),
}


@pytest.mark.parametrize("name", sorted(BAD_ARRAYS))
def test_malformed_image_arrays_raise_a_shape_error_naming_image_or_path(name: str) -> None:
    error = _error(zssr.upscale, BAD_ARRAYS[name], 2, **FAST)
    assert isinstance(error, zssr.ShapeError) and "image_or_path" in str(error)


def test_strided_non_contiguous_and_low_precision_arrays_are_accepted() -> None:
    big = RNG.random((24, 24, 3))
    for array in (big[::-2, ::-2], np.asfortranarray(IMAGE), IMAGE.astype(np.float16), IMAGE.astype(np.longdouble),
                  torch.from_numpy(IMAGE).bfloat16()):
        assert zssr.upscale(array, 2, **FAST).shape == (24, 24, 3)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"scale": 10**400}, "scale"), ({"scale": [2, 10**400]}, "scale"), ({"learning_rate": 10**400}, "learning_rate"),
    ({"width": 10**400}, "width"), ({"max_iterations": 2**64}, "max_iterations"),
    ({"channel_noise_std": (10**400,)}, "channel_noise_std"), ({"time_budget": -(10**400)}, "time_budget"),
])
def test_integers_too_large_for_a_float_are_typed_errors_naming_the_parameter(kwargs: dict[str, Any], name: str) -> None:
    assert name in str(_error(zssr.upscale, IMAGE, **{**FAST, **kwargs}))


def test_imresize_refuses_huge_and_malformed_scales_and_sizes_with_a_scale_error() -> None:
    x = torch.rand(1, 3, 8, 8)
    for kwargs in ({"scale": 10**400}, {"size": (10**400, 3)}, {"size": "ab"}, {"size": 3}, {"size": (2.5, 3)},
                   {"size": (True, 3)}, {"size": (0, 3)}):
        assert isinstance(_error(zssr.imresize, x, **kwargs), zssr.ScaleError)
    assert zssr.imresize(x, size=(np.int64(5), 7)).shape == (1, 3, 5, 7)


def test_upscale_tensor_refuses_wrong_types_with_typed_errors_naming_the_parameter() -> None:
    config = zssr.resolve_config("fast", max_iterations=1)
    t = torch.rand(1, 3, 12, 12)
    cases: list[tuple[Any, tuple[Any, ...], dict[str, Any], str]] = [
        (np.ones((1, 3, 12, 12)), ([(2, 2)],), {}, "image"),
        ((t * 255).to(torch.uint8), ([(2, 2)],), {}, "image"),
        (t.to(torch.complex64), ([(2, 2)],), {}, "image"),
        (t > 0.5, ([(2, 2)],), {}, "image"),
        (t, (3,), {}, "steps"),
        (t, ([(10**400, 2)],), {}, "scale step"),
        (t, ([(2, 2)],), {"kernels": 3}, "kernels"),
        (t, ([(2, 2)],), {"kernels": [np.ones((3, 3)) / 9]}, "kernels[0]"),
        (t, ([(2, 2)],), {"kernels": ["a"]}, "kernels[0]"),
        (t, ([(2, 2)],), {"progress": 3}, "progress"),
    ]
    for image, args, kwargs, name in cases:
        assert name in str(_error(zssr.upscale_tensor, image, *args, config=config, device="cpu", **kwargs))
    for bad in (None, "ideal"):
        assert "config" in str(_error(zssr.upscale_tensor, t, [(2, 2)], config=bad, device="cpu"))


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"spacing": {"Z": "a"}}, "spacing"), ({"spacing": {"Z": None}}, "spacing"), ({"spacing": 3}, "spacing"),
    ({"spacing": {"Z": 10**400}}, "spacing"), ({"spacing": {"Z": -1.0}}, "spacing"), ({"spacing": {3: 1.0}}, "spacing"),
    ({"spacing": {"Z": float("nan")}}, "spacing"), ({"axis": "z", "slice_thickness": "a"}, "slice_thickness"),
    ({"axis": "z", "slice_thickness": 10**400}, "slice_thickness"), ({"scale": 10**400}, "scale"),
])
def test_upscale_volume_checks_voxel_sizes_slice_thickness_and_scale(kwargs: dict[str, Any], name: str) -> None:
    call = {"scale": 2, "axes": "ZYX", "max_iterations": 1, "device": "cpu", **kwargs}
    assert name in str(_error(zssr.upscale_volume, RNG.random((4, 12, 12)), **call))
