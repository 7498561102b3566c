"""The one ``modcrop`` (zssr._modcrop), shared by the benchmark and ``zssr demo``.

The demo used to carry its own copy (numerator of ``Fraction(scale).limit_denominator(100)``,
no checks); the benchmark's strict version is the one kept, so the demo's ground truth is
cut like the benchmark's and a scale without whole LR sizes is refused up front.
"""

from __future__ import annotations

import numpy as np
import pytest

import zssr.bench
from zssr import cli
from zssr._modcrop import check_sr_scale, modcrop
from zssr.errors import ScaleError, ShapeError


def test_the_benchmark_exports_the_shared_modcrop() -> None:
    assert zssr.bench.modcrop is modcrop


@pytest.mark.parametrize(("scale", "block"), [(2, 2), (3, 3), (4, 4), (1.5, 3), (2.5, 5), (4 / 3, 4)])
def test_sides_become_the_top_left_multiple_of_the_scale_numerator(scale: float, block: int) -> None:
    image = np.arange(160 * 161 * 3, dtype=np.int64).reshape(160, 161, 3)
    out = modcrop(image, scale)
    h, w = 160 - 160 % block, 161 - 161 % block
    assert out.shape == (h, w, 3)
    np.testing.assert_array_equal(out, image[:h, :w])


@pytest.mark.parametrize("scale", [1.01, 2.01, np.pi, 1.0 + 1e-6])
def test_scales_without_whole_lr_sizes_are_refused(scale: float) -> None:
    """Denominators above 64 (1.01 = 101/100): the demo's old copy cropped to the numerator instead."""
    with pytest.raises(ScaleError, match="q ≤ 64"):
        modcrop(np.zeros((160, 160)), scale)


@pytest.mark.parametrize("scale", [1.0, 0.5, float("nan"), float("inf"), True, "2"])
def test_non_sr_factors_are_refused(scale: object) -> None:
    with pytest.raises(ScaleError):
        check_sr_scale(scale)  # type: ignore[arg-type]


def test_an_image_smaller_than_one_block_is_refused() -> None:
    with pytest.raises(ShapeError, match="smaller than one block"):
        modcrop(np.zeros((20, 40)), 25 / 2)


def test_demo_refuses_a_scale_without_whole_lr_sizes_before_training(tmp_path, capsys) -> None:
    code = cli.main(["demo", "--scale", "1.01", "--max-iterations", "1", "--out-dir", str(tmp_path / "d"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == ["zssr: error: scale must be a ratio p/q with q ≤ 64 so that LR sizes are whole, got 1.01"]
    assert not (tmp_path / "d").exists()
