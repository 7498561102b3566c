"""Property-based fuzzing of the decoders with mutated files (issue #16, item 4).

Valid PNG, JPEG, TIFF, BMP and WebP files of every mode (and kernel files) are mutated (bit
flips, byte sets, truncation, insertions, deletions, duplicated runs, splices from a file of
another format) and handed to :func:`zssr.io.read_image`, :func:`zssr.kernels.load_kernel` and
``zssr upscale``. A decoder either returns a well-formed result or raises its typed error
(``ImageReadError``, ``KernelError``); the command exits 0 or 2 with one line; nothing hangs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from fuzzing import (
    MODES,
    HardTimeout,
    ImageSpec,
    check_files,
    check_outcome,
    fresh_root,
    hard_timeout,
    image_specs,
    mutations,
    run_cli,
    snapshot,
    valid_kernel_files,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zssr.errors import ImageReadError, KernelError
from zssr.io import read_image
from zssr.kernels import load_kernel

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
DECODE_TIMEOUT_S = 30.0
#: Inputs the upscale property runs on: the files mutated are at most 14×14; a header mutated to
#: claim 32776×8 pixels decodes (libjpeg pads the missing rows) and trains for minutes.
BUDGET_PIXELS = 32 * 32

#: One small valid file per format: the donors of splices (a chunk of a PNG inside a TIFF, …).
DONORS = tuple(ImageSpec(fmt, MODES[fmt][-1 if fmt == "TIFF" else 0], 9, 7, 3).encode() for fmt in sorted(MODES))


def examples(fraction: float) -> int:
    """``fraction`` of the active profile's ``max_examples``."""
    return max(1, int(settings.default.max_examples * fraction))


@st.composite
def mutated_images(draw: Any, *, min_side: int = 1, max_side: int = 16) -> tuple[ImageSpec, bytes, str]:
    """A valid image file's bytes, mutated; and the suffix to save it under (usually its own)."""
    spec = draw(image_specs(min_side=min_side, max_side=max_side))
    data = draw(mutations(spec.encode(), donors=DONORS))
    suffix = draw(st.sampled_from([spec.suffix] * 4 + [".png", ".jpg", ".tif", ".bmp", ".webp"]))
    return spec, data, suffix


@settings(max_examples=examples(2.0), suppress_health_check=SLOW_OK)
@given(mutated_images())
def test_read_image_on_mutated_files_returns_a_well_formed_picture_or_raises_image_read_error(case: Any) -> None:
    spec, data, suffix = case
    with fresh_root() as root:
        path = Path(root) / f"mutated{suffix}"
        path.write_bytes(data)
        try:
            with hard_timeout(DECODE_TIMEOUT_S):
                picture = read_image(path)
        except HardTimeout:
            raise AssertionError(f"read_image still decoding after {DECODE_TIMEOUT_S:g} s") from None
        except ImageReadError as exc:
            event("ImageReadError")
            assert "\n" not in str(exc)
            return
        except BaseException as exc:
            raise AssertionError(f"read_image raised {type(exc).__name__}: {exc} (not an ImageReadError)") from exc
        event("decoded")
        color = picture.color
        assert isinstance(color, np.ndarray) and color.dtype == np.float32 and color.ndim == 3
        assert color.shape[2] in (1, 3) and min(color.shape[:2]) >= 1
        assert np.isfinite(color).all() and color.min() >= 0.0 and color.max() <= 1.0
        if picture.alpha is not None:
            assert picture.alpha.shape == color.shape[:2] and np.isfinite(picture.alpha).all()
        assert picture.bit_depth in (8, 16)


@settings(max_examples=examples(1.0), suppress_health_check=SLOW_OK)
@given(kernel=valid_kernel_files(), data=st.data())
def test_load_kernel_on_mutated_files_returns_a_normalised_kernel_or_raises_kernel_error(kernel: Any, data: Any) -> None:
    mutated = data.draw(mutations(kernel.data, donors=DONORS + (kernel.data,)), label="bytes")
    with fresh_root() as root:
        path = Path(root) / f"k{kernel.suffix}"
        path.write_bytes(mutated)
        try:
            with hard_timeout(DECODE_TIMEOUT_S):
                k = load_kernel(path)
        except HardTimeout:
            raise AssertionError(f"load_kernel still reading after {DECODE_TIMEOUT_S:g} s") from None
        except KernelError as exc:
            event("KernelError")
            assert "\n" not in str(exc)
            return
        except BaseException as exc:
            raise AssertionError(f"load_kernel raised {type(exc).__name__}: {exc} (not a KernelError)") from exc
        event("loaded")
        assert isinstance(k, torch.Tensor) and k.dim() == 2 and k.numel() > 0
        assert torch.isfinite(k).all() and abs(float(k.sum()) - 1.0) < 1e-6


@settings(max_examples=examples(0.4), suppress_health_check=SLOW_OK)
@given(case=mutated_images(min_side=8, max_side=14), out=st.sampled_from(["-o", "--out-dir"]))
def test_upscale_on_mutated_files_exits_0_or_2_with_one_line_and_writes_only_complete_outputs(case: Any, out: str) -> None:
    torch.set_num_threads(1)
    _, data, suffix = case
    with fresh_root() as root:
        folder = Path(root)
        (folder / "in").mkdir()
        source = folder / "in" / f"mutated{suffix}"
        source.write_bytes(data)
        try:
            size = read_image(source).color.shape[:2]
        except ImageReadError:
            size = (0, 0)
        if size[0] * size[1] > BUDGET_PIXELS:  # a mutated header can make a big (valid) image: a long run, no bug
            event("decodes larger than the budget: not run")
            return
        target = folder / "out" / "x.png" if out == "-o" else folder / "out"
        if out == "-o":
            target.parent.mkdir()
        before = snapshot(folder)
        run = run_cli(["upscale", str(source), "-s", "2", out, str(target), "--quiet", "--preset", "fast",
                       "--max-iterations", "1"])
        event(f"exit {run.code}")
        check_outcome(run)
        check_files(folder, before, protected=[source], failed=run.code != 0)
