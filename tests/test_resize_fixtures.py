"""zssr.resize against MATLAB-made pixels, from small committed crops (no shared data needed).

The full-data tests in test_resize.py compare whole SelfExSR ``_LR.png`` files (MATLAB
``imresize(HR, 1/s)`` on uint8). A bicubic downscale is local: each LR pixel reads HR pixels
within 2 LR pixels of it. So an HR crop with a 3-LR-pixel margin, cut on a multiple of s,
reproduces the matching window of the LR file exactly. ``tests/fixtures/README.md`` says
where every crop came from; ``tests/fixtures/make_fixtures.py`` remakes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zssr.resize import imresize

FIXTURES = Path(__file__).parent / "fixtures"
SCALES = [2, 3, 4]


def _fixture(s: int) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"resize_crops_x{s}.npz") as z:
        return {k: z[k] for k in z.files}


def _down_window(f: dict[str, np.ndarray], crop: str, boundary: str) -> np.ndarray:
    """MATLAB ``imresize(uint8 crop, 1/s)`` through zssr.resize, cut to the fixture's LR window."""
    s, hr = int(f["scale"]), f[f"{crop}_hr"]
    hwc = hr[..., None] if hr.ndim == 2 else hr
    t = torch.from_numpy(hwc.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
    out = imresize(t, 1 / s, quantize=True, boundary=boundary)  # type: ignore[arg-type]
    res = np.rint(out[0].permute(1, 2, 0).numpy() * 255.0).astype(np.int64)
    res = res[..., 0] if hr.ndim == 2 else res
    (r, c), n = f[f"{crop}_window"], f[f"{crop}_lr"].shape[0]
    return res[r : r + n, c : c + n]


@pytest.mark.parametrize("boundary", ["symmetric", "replicate"])
@pytest.mark.parametrize("s", SCALES)
def test_uint8_downscale_reproduces_an_interior_window_of_the_matlab_lr_file_bit_exactly(s, boundary):
    """Away from the border both boundary rules give MATLAB's LR pixels exactly, at ×2, ×3 and ×4."""
    f = _fixture(s)
    np.testing.assert_array_equal(_down_window(f, "interior", boundary), f["interior_lr"])


@pytest.mark.parametrize("corner", ["topleft", "bottomright"])
@pytest.mark.parametrize("s", SCALES)
def test_replicate_boundary_reproduces_the_lr_files_corners_bit_exactly_frame_included(s, corner):
    """The SelfExSR files' generator clamped at the edge (test_resize.py, full-data twin)."""
    f = _fixture(s)
    np.testing.assert_array_equal(_down_window(f, corner, "replicate"), f[f"{corner}_lr"])


@pytest.mark.parametrize("corner", ["topleft", "bottomright"])
@pytest.mark.parametrize("s", SCALES)
def test_symmetric_boundary_matches_the_corner_inside_the_outer_frame_only(s, corner):
    """MATLAB's mirror boundary: exact at ×2/×3 and within 1 level at ×4 off the outer one-pixel
    frame; on the frame these crops differ (so they do tell the two boundary rules apart)."""
    f = _fixture(s)
    diff = np.abs(_down_window(f, corner, "symmetric") - f[f"{corner}_lr"].astype(np.int64))
    inside = diff[1:, 1:] if corner == "topleft" else diff[:-1, :-1]
    assert inside.max() <= (1 if s == 4 else 0)
    assert diff.max() > inside.max() >= 0 and diff.max() >= 1


def test_the_x4_corner_holds_the_one_level_ring_that_the_full_data_test_allows():
    """Pins the ±1 of the ×4 symmetric path just inside the frame (test_resize.py's tolerance)."""
    f = _fixture(4)
    diff = np.abs(_down_window(f, "topleft", "symmetric") - f["topleft_lr"].astype(np.int64))
    assert diff[1:, 1:].max() == 1


@pytest.mark.parametrize("s", SCALES)
def test_fixture_windows_are_textured_enough_to_catch_a_one_pixel_shift(s):
    """A window shifted by one LR pixel, or one grey level off, would not pass the exact tests."""
    f = _fixture(s)
    ours = _down_window(f, "interior", "symmetric")
    lr = f["interior_lr"].astype(np.int64)
    shifts = ((ours[1:], lr[:-1]), (ours[:-1], lr[1:]), (ours[:, 1:], lr[:, :-1]), (ours[:, :-1], lr[:, 1:]))
    for shifted, ref in shifts:
        assert not np.array_equal(shifted, ref)
    assert not np.array_equal(ours + 1, lr)


@pytest.mark.parametrize("s", SCALES)
def test_fixture_geometry_is_consistent(s):
    """Crops start on the LR grid (offsets multiple of s) and are s × the LR size they feed."""
    f = _fixture(s)
    for crop in ("interior", "topleft", "bottomright"):
        hr, lr = f[f"{crop}_hr"], f[f"{crop}_lr"]
        assert hr.dtype == lr.dtype == np.uint8 and lr.shape[:2] == (8, 8)
        assert all(o % s == 0 for o in f[f"{crop}_hr_origin"])
        assert hr.shape[0] % s == 0 and hr.shape[1] % s == 0
