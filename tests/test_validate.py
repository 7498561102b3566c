"""The one scale rule (``zssr._validate``): what every entry point accepts and refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zssr._validate import scale_pair, scale_value
from zssr.errors import ScaleError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2, (2.0, 2.0)), (1.5, (1.5, 1.5)), ((2, 3), (2.0, 3.0)), ([1.5, 2.0], (1.5, 2.0)),
     (np.float32(2.0), (2.0, 2.0)), (np.array([2, 3]), (2.0, 3.0)), (torch.tensor([2.0, 4.0]), (2.0, 4.0))],
)
def test_a_number_is_used_for_both_axes_and_a_pair_is_vertical_horizontal(value, expected) -> None:
    assert scale_pair(value) == expected


@pytest.mark.parametrize("value", [True, False, "2", None, (2,), (2, 2, 2), (True, 2), ("2", "3"), [], {"a": 1}])
def test_bools_strings_and_wrong_lengths_are_refused_naming_the_parameter(value) -> None:
    with pytest.raises(ScaleError, match="^factor must be a number or a"):
        scale_pair(value, "factor")


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, (2, 0), (math.nan, 2)])
def test_non_finite_and_non_positive_factors_are_refused(value) -> None:
    with pytest.raises(ScaleError, match="finite and > 0"):
        scale_pair(value)


def test_the_bound_is_strict_or_inclusive_as_asked_and_the_hint_is_kept() -> None:
    assert scale_pair(1, minimum=1.0, strict=False) == (1.0, 1.0)
    with pytest.raises(ScaleError, match=r"scale must be finite and > 1 \(enlarges\), got 1"):
        scale_pair(1, minimum=1.0, hint=" (enlarges)")
    with pytest.raises(ScaleError, match="≥ 1"):
        scale_pair((0.5, 2), minimum=1.0, strict=False)


def test_a_single_value_refuses_pairs_and_bools() -> None:
    assert scale_value(3, "scale", minimum=1.0) == 3.0
    for bad in (True, (2, 2), "3"):
        with pytest.raises(ScaleError, match="^scale must be a single number"):
            scale_value(bad, "scale")
    with pytest.raises(ScaleError, match="> 1"):
        scale_value(1.0, "scale", minimum=1.0)
