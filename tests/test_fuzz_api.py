"""Property-based fuzzing of the public API ``zssr.upscale`` (issue #16, item 4).

Images of every shape and dtype (gray, RGB, RGBA, 2 or 5 channels, 1-D, 4-D, ints, bools,
complex, objects, NaN/inf, 0–255 floats), scales, seeds, devices, presets, kernels as arrays
(and files, tensors, garbage) and ``**overrides`` of every type are drawn within a budget
(tiny images, ≤ 3 iterations, factors ≤ 4). Whatever is passed, ``zssr.upscale`` either
returns an ``H'×W'×C`` float32 image in [0, 1] or raises a :class:`zssr.ZSSRError` subclass
(naming the parameter): never a ``TypeError``/``ValueError``/``IndexError`` from deeper down,
never a hang; and it never edits the caller's array.

The causes of issue #16 met here (cause 2: seeds; cause 6: empty arrays, ``scale=True``,
``scale=(2, 2, 2)``) have their own regression tests at the bottom, and the main strategies
draw them too.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fuzzing import (
    MAX_FUZZ_SCALE,
    NO_SHRINK,
    HardTimeout,
    ImageSpec,
    fresh_root,
    hard_timeout,
    kernel_arrays,
    valid_kernel_arrays,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import zssr
from zssr.config import PRESETS, Config

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
API_TIMEOUT_S = 60.0


def examples(fraction: float) -> int:
    """``fraction`` of the active profile's ``max_examples``."""
    return max(1, int(settings.default.max_examples * fraction))


# ----------------------------------------------------------------------------- strategies


DTYPES = ["float32", "float64", "float16", "uint8", "uint16", "int8", "int32", "int64", "bool", "complex64", "object", "<U1"]


@st.composite
def image_arrays(draw: Any, *, allow_empty: bool = False) -> Any:
    """Anything passed as the image: arrays of every shape, dtype and range (and a few non-arrays)."""
    kind = draw(st.sampled_from(["array"] * 8 + ["list", "none", "int", "tensor", "str", "grad tensor", "bytes", "strided"]))
    low = 0 if allow_empty else 1
    h, w = draw(st.integers(low, 20)), draw(st.integers(low, 20))
    if allow_empty:
        h, w = draw(st.sampled_from([(0, 0), (h, 0), (0, w)]))
    shape = draw(st.sampled_from([(h, w), (h, w, 1), (h, w, 3), (h, w, 4), (h, w, 3), (h, w, 3), (h, w, 2), (h, w, 5),
                                  (h,), (h, w, 3, 1), ()]))
    shape = draw(st.sampled_from([shape] * 8 + [(h, w, 3, 1, 1), (1, 1, 1, h, w)]))  # > 4-D (issue #30)
    dtype = draw(st.sampled_from(DTYPES[:3] * 3 + DTYPES + ["longdouble"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.random(shape)
    special = draw(st.sampled_from(["none"] * 6 + ["nan", "inf", "-inf", "x255", "negative", "overshoot", "zero", "one",
                                                   "1e300", "-1e300", "1e39"]))
    if special in ("nan", "inf", "-inf") and values.size:
        values.flat[draw(st.integers(0, values.size - 1))] = float(special)
    elif special == "x255":
        values = values * 255
    elif special == "negative":
        values = values - 0.5
    elif special == "overshoot":
        values = values * 1.05 - 0.025  # bicubic ringing: within the tolerance, clipped
    elif special == "zero":
        values = np.zeros(shape)
    elif special == "one":
        values = np.ones(shape)
    elif special in ("1e300", "-1e300", "1e39") and values.size:  # finite, out of range: not "infinite" (issue #30)
        values.flat[draw(st.integers(0, values.size - 1))] = float(special)
    if dtype in ("uint8", "uint16", "int8", "int32", "int64"):
        top = {"uint8": 255, "uint16": 65535, "int8": 127, "int32": 255, "int64": 255}[dtype]
        array = np.nan_to_num(np.round(values * top), nan=0, posinf=top, neginf=0).clip(-top, top).astype(dtype)
    elif dtype == "bool":
        array = np.nan_to_num(values) > 0.5
    elif dtype == "object":
        array = values.astype(object)
    elif dtype == "<U1":
        array = np.full(shape, "a")
    elif dtype == "longdouble":
        array = values.astype(np.longdouble)
    else:
        array = values.astype(dtype)
    if kind == "list":
        return array.tolist()
    if kind == "none":
        return None
    if kind == "int":
        return 3
    if kind == "tensor":
        return torch.from_numpy(np.asarray(array, dtype=np.float32)) if array.dtype.kind in "fiub" else array
    if kind == "str":
        return draw(st.sampled_from(["", "missing.png", "/", "\x00"]))
    if kind == "grad tensor" and array.dtype.kind == "f":  # detached by the API, never torch's RuntimeError
        dtype_t = draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.float16]))
        return torch.tensor(np.asarray(array, dtype=np.float64), dtype=dtype_t, requires_grad=True)
    if kind == "bytes":  # a path, never an array of bytes
        given = draw(st.sampled_from([b"", b"missing.png", b"/", b"\xff.png", bytearray(b"missing.png")]))
        return given
    if kind == "strided" and array.ndim >= 2:
        return np.asfortranarray(array)[::-1, ::-1]
    return array


def _affordable(value: Any) -> bool:
    """Valid-looking factors above the budget (costly, or cause 1) are not drawn here."""
    numbers: list[float] = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        numbers = [float(value)]
    elif isinstance(value, str):
        for part in value.replace("X", "x").replace(",", "x").split("x"):
            try:
                numbers.append(float(part))
            except ValueError:
                pass
    elif isinstance(value, (list, tuple, np.ndarray)):
        for v in np.asarray(value, dtype=object).ravel():
            try:
                numbers.append(float(v))
            except (TypeError, ValueError):
                pass
    return all(not (math.isfinite(v) and v > MAX_FUZZ_SCALE) for v in numbers)


def scales() -> st.SearchStrategy[Any]:
    """Scale arguments: numbers, strings, pairs, step lists, arrays, and every wrong type."""
    factor = st.floats(1.0, MAX_FUZZ_SCALE)
    good = st.one_of(factor, st.integers(1, 4), factor.map(lambda v: f"{v:g}"), st.tuples(factor, factor),
                     st.lists(factor, min_size=2, max_size=2), st.builds(lambda a, b: f"{a:g}x{b:g}", factor, factor),
                     st.builds(lambda a, b: f"{min(a, b):g},{max(a, b):g}", factor, factor),
                     st.builds(lambda a, b: np.array([a, b]), factor, factor), factor.map(np.float32))
    bad = st.one_of(
        st.sampled_from([0, -1, 0.5, float("nan"), float("inf"), -float("inf"), "x", "", None, 1 + 2j, [], [2],
                         (1, "a"), {"v": 2}, b"2", "2x", np.array([]), np.array([[2, 2]]), object(), 1e-300,
                         True, (), (2, 2, 2),  # cause 6
                         10**400, -(10**400), [2, 10**400], (10**400, 2), np.float64(1e300), "1e400"]),  # issue #30
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.integers(-5, 0),
        st.lists(st.one_of(st.floats(), st.text(max_size=2)), max_size=3),
    )
    return st.one_of(good, good, bad).filter(_affordable)


def seeds() -> st.SearchStrategy[Any]:
    """Seeds the API must take: None and integers in [0, 2**63) (numpy ints too)."""
    return st.one_of(st.none(), st.integers(0, 9), st.integers(0, 2**63 - 1), st.integers(0, 2**31).map(np.int64))


def presets() -> st.SearchStrategy[Any]:
    """Presets: names, Config instances, and wrong names/types."""
    return st.one_of(st.sampled_from(sorted(PRESETS)), st.sampled_from(list(PRESETS.values())),
                     st.sampled_from(["Ideal", "", "nope", None, 3, Config]))


def kernels() -> st.SearchStrategy[Any]:
    """Kernels: None, arrays (valid and malformed), tensors, nested lists, 'auto', paths, garbage."""
    arrays = kernel_arrays()
    return st.one_of(
        st.none(), st.none(), arrays, arrays.map(torch.from_numpy), arrays.map(lambda a: a.tolist()),
        st.sampled_from(["auto", "AUTO", "missing.npy", "", 3, 2.5, object(), b"k", [[1, "a"]], [[1], [1, 2]],
                         np.ones((3, 3), dtype=complex), torch.ones(3, 3, dtype=torch.complex64),
                         b"missing.npy", torch.full((3, 3), 1 / 9, requires_grad=True), np.full((3, 3), 1e300)]),
    )


def _value_of_any_type() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
        st.text(max_size=4), st.tuples(st.integers(-1, 3)), st.tuples(st.floats(-1, 2), st.floats(-1, 2)),
        st.lists(st.integers(0, 3), max_size=3), st.just(((0.5, 0.5), (1.0, 1.0))), st.just(((0.0, 0.0),)),
        st.sampled_from([10**400, -(10**400), 2**64, (10**400,), 1e300]),  # past float/int64 (issue #30)
    )


#: Config fields that set the run's cost: only budget values are drawn for them.
COSTLY = {
    "width": st.integers(-1, 16), "depth": st.integers(0, 5), "crop_size": st.integers(-1, 40),
    "max_iterations": st.integers(-1, 3), "min_iterations": st.integers(-1, 3),
    "back_projection_iters": st.one_of(st.integers(-1, 3), st.tuples(st.integers(-1, 3)),
                                       st.lists(st.integers(0, 3), max_size=3).map(tuple)),
    "gradual_pattern": st.sampled_from([((1.0, 1.0),), ((0.5, 0.5), (1.0, 1.0)), ((0.5, 0.0), (1.0, 1.0)), (), ((2.0, 2.0),),
                                        "1x1", ((1, 1, 1),)]),
}


@st.composite
def overrides(draw: Any) -> dict[str, Any]:
    """``**overrides``: a few Config fields with values of any type (costly ones bounded), or unknown names."""
    names = [f.name for f in dataclasses.fields(Config)]
    chosen = draw(st.lists(st.sampled_from(names + ["nope", "Width"]), max_size=3, unique=True))
    result = {name: draw(COSTLY.get(name, _value_of_any_type())) for name in chosen}
    result.setdefault("max_iterations", draw(st.integers(1, 3)))
    return result


# ----------------------------------------------------------------------------- the property


def call_upscale(image: Any, **kwargs: Any) -> np.ndarray | None:
    """``zssr.upscale`` under a hard time limit: returns the image, or None after a ZSSRError; anything else fails."""
    torch.set_num_threads(1)
    original = np.array(image, copy=True) if isinstance(image, np.ndarray) else None
    try:
        with hard_timeout(API_TIMEOUT_S):
            out = zssr.upscale(image, **kwargs)
    except HardTimeout:
        raise AssertionError(f"zssr.upscale still running after {API_TIMEOUT_S:g} s") from None
    except zssr.ZSSRError as exc:
        event(f"{type(exc).__name__}")
        assert str(exc).strip() and "\n" not in str(exc).strip(), f"message must be one line: {exc!r}"
        out = None
    except BaseException as exc:
        raise AssertionError(f"zssr.upscale raised {type(exc).__name__}: {exc} (not a ZSSRError)") from exc
    if original is not None:
        assert np.array_equal(image, original, equal_nan=image.dtype.kind in "fc"), "the caller's array was changed"
    if out is not None:
        event("returned an image")
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.ndim == 3, (type(out), getattr(out, "shape", None))
        assert out.shape[2] in (1, 3, 4) and out.size > 0
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    return out


@st.composite
def good_images(draw: Any) -> np.ndarray:
    """Arrays the API documents: H×W, H×W×1, H×W×3 or H×W×4, float in [0, 1] or uint8/uint16, sides ≥ 8."""
    h, w = draw(st.integers(8, 16)), draw(st.integers(8, 16))
    shape = draw(st.sampled_from([(h, w), (h, w, 1), (h, w, 3), (h, w, 3), (h, w, 4)]))
    values = np.random.default_rng(draw(st.integers(0, 2**16))).random(shape)
    dtype = draw(st.sampled_from(["float32", "float32", "float64", "float16", "uint8", "uint16"]))
    if dtype in ("uint8", "uint16"):
        return np.round(values * np.iinfo(dtype).max).astype(dtype)
    return values.astype(dtype)


def good_scales() -> st.SearchStrategy[Any]:
    """Scales the API documents, within the budget."""
    factor = st.floats(1.0, MAX_FUZZ_SCALE)
    return st.one_of(factor, st.integers(1, 4), factor.map(lambda v: f"{v:g}"), st.tuples(factor, factor),
                     st.builds(lambda a, b: f"{a:g}x{b:g}", factor, factor),
                     st.builds(lambda a, b: f"{min(a, b):g},{max(a, b):g}", factor, factor))


def good_overrides() -> st.SearchStrategy[dict[str, Any]]:
    """Typed Config overrides a user would pass (the CLI's ``--set`` values, parsed), within the budget."""
    from fuzzing import good_set_items

    from zssr.cli import parse_override

    items = st.lists(good_set_items().map(parse_override), max_size=2)
    return st.builds(lambda pairs, n: {"max_iterations": n, **dict(pairs)}, items, st.integers(1, 3))


def _devices() -> st.SearchStrategy[Any]:
    named = st.sampled_from(["cpu", "auto", "cpu", "cuda", "mps", "", "CPU", None, 0, torch.device("cpu")])
    return st.one_of(named, st.text(max_size=6)).filter(lambda d: not (isinstance(d, str) and d.strip().startswith("cuda:")))


@settings(max_examples=examples(0.5), suppress_health_check=SLOW_OK)
@given(st.data())
def test_upscale_api_returns_an_image_in_0_1_or_raises_a_zssr_error(data: st.DataObject) -> None:
    fault_rate = data.draw(st.sampled_from([0, 0, 5, 10, 25, 60]), label="fault rate %")

    def pick(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], label: str) -> Any:
        return data.draw(bad if data.draw(st.integers(0, 99)) < fault_rate else good, label=label)

    image = pick(good_images(), image_arrays(), "image")
    kwargs = {
        "scale": pick(good_scales(), scales(), "scale"),
        "preset": pick(st.sampled_from(sorted(PRESETS) + list(PRESETS.values())), presets(), "preset"),
        "kernel": pick(st.one_of(st.none(), st.none(), st.none(), valid_kernel_arrays()), kernels(),
                       "kernel"),
        "seed": pick(seeds(), seeds(), "seed"),
        "device": pick(st.sampled_from(["cpu", "auto"]), _devices(), "device"),
        "progress": data.draw(st.sampled_from([False, False, True]), label="progress"),
    }
    extra = pick(good_overrides(), overrides(), "overrides")
    call_upscale(image, **kwargs, **extra)


@settings(max_examples=examples(0.3), suppress_health_check=SLOW_OK)
@given(spec=st.builds(ImageSpec, st.sampled_from(["PNG", "TIFF", "JPEG"]), st.sampled_from(["RGB", "L"]),
                      st.integers(1, 20), st.integers(1, 20), st.integers(0, 99)),
       scale=scales(), seed=seeds())
def test_upscale_api_on_image_files_returns_an_image_or_raises_a_zssr_error(spec: ImageSpec, scale: Any, seed: Any) -> None:
    with fresh_root() as root:
        path = Path(root) / f"in{spec.suffix}"
        try:
            path.write_bytes(spec.encode())
        except (OSError, ValueError):  # JPEG cannot hold every mode Pillow has
            return
        data = path.read_bytes()
        call_upscale(str(path) if seed is None else path, scale=scale, seed=seed, max_iterations=1)
        assert path.read_bytes() == data


# ----------------------------------------------------------------------------- the seven causes of issue #16 (regression tests)


def _raises_zssr_error(image: Any, **kwargs: Any) -> None:
    out = call_upscale(image, **kwargs)
    assert out is None, "expected a ZSSRError naming the parameter, got an image"


@settings(max_examples=examples(0.05), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(image=image_arrays(allow_empty=True).filter(lambda a: isinstance(a, np.ndarray) and a.ndim >= 2))
def test_cause_6_empty_arrays_raise_a_shape_error(image: np.ndarray) -> None:
    _raises_zssr_error(image, scale=2, max_iterations=1)


@settings(max_examples=examples(0.05), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(scale=st.one_of(st.booleans(), st.sampled_from([[], ()]), st.lists(st.floats(1, 2), min_size=3, max_size=5).map(tuple)))
def test_cause_6_bool_scales_and_wrong_length_step_lists_raise_a_scale_error(scale: Any) -> None:
    _raises_zssr_error(np.random.default_rng(0).random((12, 12, 3)), scale=scale, max_iterations=1)


@settings(max_examples=examples(0.05), suppress_health_check=SLOW_OK, phases=NO_SHRINK)
@given(seed=st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.booleans(), st.integers(max_value=-1),
                      st.integers(min_value=2**63)))
def test_cause_2_seeds_that_are_not_integers_in_range_raise_a_zssr_error(seed: Any) -> None:
    _raises_zssr_error(np.random.default_rng(0).random((12, 12, 3)), scale=2, seed=seed, max_iterations=1)


# ----------------------------------------------------------------------------- issue #30, cause 7: the other entry points


@st.composite
def tensors(draw: Any) -> Any:
    """``upscale_tensor``/``imresize`` inputs: tensors of every dtype, rank and range (some with requires_grad), arrays."""
    h, w = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    shape = draw(st.sampled_from([(1, 3, h, w), (1, 1, h, w), (1, 3, h, w), (3, h, w), (2, 3, h, w), (1, 2, h, w), (h,), ()]))
    dtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16,
                                  torch.uint8, torch.int64, torch.bool, torch.complex64]))
    values = torch.from_numpy(np.random.default_rng(draw(st.integers(0, 2**16))).random(shape))
    values = values * draw(st.sampled_from([1.0, 1.0, 1.0, 255.0, 1e300, -1.0]))
    array = values.numpy().copy()
    tensor = values.clone().to(dtype) if dtype != torch.bool else values > 0.5
    if tensor.is_floating_point() and draw(st.booleans()):
        tensor.requires_grad_(True)
    return draw(st.sampled_from([tensor, tensor, tensor, array, None]))


def _steps() -> st.SearchStrategy[Any]:
    pair = st.tuples(st.floats(1.0, MAX_FUZZ_SCALE), st.floats(1.0, MAX_FUZZ_SCALE))
    return st.one_of(st.lists(pair, min_size=1, max_size=2), st.sampled_from([3, "2", [(10**400, 2)], [(2, "a")], [], None,
                                                                              [(0.5, 0.5)], [2.0]]))


@settings(max_examples=examples(0.2), suppress_health_check=SLOW_OK)
@given(image=tensors(), steps=_steps(),
       kernels=st.sampled_from([None, None, 3, [None], [np.ones((3, 3)) / 9], ["a"], [torch.full((3, 3), 1 / 9)]]),
       config=st.sampled_from(["fast"] * 6 + [None, "ideal-name"]), progress=st.sampled_from([None, None, 3]))
def test_upscale_tensor_returns_an_image_or_raises_a_zssr_error(image: Any, steps: Any, kernels: Any, config: Any,
                                                                 progress: Any) -> None:
    cfg = PRESETS["fast"].__class__(**{**dataclasses.asdict(PRESETS["fast"]), "max_iterations": 1}) if config == "fast" else config
    torch.set_num_threads(1)
    try:
        with hard_timeout(API_TIMEOUT_S):
            result = zssr.upscale_tensor(image, steps, config=cfg, kernels=kernels, device="cpu", progress=progress)
    except zssr.ZSSRError as exc:
        event(type(exc).__name__)
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return
    except BaseException as exc:
        raise AssertionError(f"zssr.upscale_tensor raised {type(exc).__name__}: {exc} (not a ZSSRError)") from exc
    assert torch.isfinite(result.image).all() and 0.0 <= float(result.image.min()) <= float(result.image.max()) <= 1.0


@settings(max_examples=examples(0.3), suppress_health_check=SLOW_OK)
@given(image=tensors(), scale=st.one_of(st.none(), scales()),
       size=st.sampled_from([None, None, (5, 7), (0, 3), (10**400, 2), "ab", 3, (2.5, 3), (True, 2), [np.int64(4), 6]]))
def test_imresize_returns_a_tensor_or_raises_a_zssr_error(image: Any, scale: Any, size: Any) -> None:
    try:
        with hard_timeout(API_TIMEOUT_S):
            out = zssr.imresize(image, scale, size=size)
    except zssr.ZSSRError as exc:
        event(type(exc).__name__)
        return
    except BaseException as exc:
        raise AssertionError(f"zssr.imresize raised {type(exc).__name__}: {exc} (not a ZSSRError)") from exc
    assert torch.is_tensor(out)
