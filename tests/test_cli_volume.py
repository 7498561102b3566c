"""``zssr upscale`` on stacks and volumes (issue #29): the same kind of file out, read back with tifffile/nibabel.

The command runs in-process through ``zssr.cli.main(argv)`` with a few iterations; the
algorithm has its own tests (tests/test_volume.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import zssr.cli as cli

FAST = ["--max-iterations", "3", "--set", "crop_size=16", "--set", "output_flip=false", "--set",
        "back_projection_iters=1", "--device", "cpu", "--quiet"]


def _imagej(path, shape=(5, 16, 20), dz=2.0, dxy=0.5):
    rng = np.random.default_rng(0)
    data = rng.integers(200, 4000, size=shape).astype(np.uint16)
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / dxy, 1 / dxy),
                     metadata={"axes": "ZYX", "spacing": dz, "unit": "um"})
    return data


def _one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_16bit_imagej_stack_comes_back_whole_with_halved_voxel_sizes(tmp_path):
    """The regression of issue #29: a 5-slice 16-bit stack used to come back as one slice, exit 0."""
    _imagej(tmp_path / "s.tif")
    assert cli.main(["upscale", str(tmp_path / "s.tif"), "-s", "2", "-o", str(tmp_path / "o.tif"), *FAST]) == 0
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        series = tif.series[0]
        assert (series.axes, series.shape, series.dtype) == ("ZYX", (5, 32, 40), np.uint16)
        assert tif.imagej_metadata["spacing"] == pytest.approx(2.0)
        assert tif.pages.first.get_resolution() == pytest.approx((4.0, 4.0))  # 1 / 0.25 µm


def test_axis_z_without_scale_takes_the_factor_from_the_voxel_sizes(tmp_path):
    _imagej(tmp_path / "s.tif", shape=(3, 16, 16), dz=2.0, dxy=0.5)
    assert cli.main(["upscale", str(tmp_path / "s.tif"), "--axis", "z", "-o", str(tmp_path / "z.tif"), *FAST]) == 0
    with tifffile.TiffFile(tmp_path / "z.tif") as tif:
        assert tif.series[0].shape == (12, 16, 16) and tif.series[0].dtype == np.uint16
        assert tif.imagej_metadata["spacing"] == pytest.approx(0.5)


def test_nifti_volume_comes_back_with_its_dtype_and_isotropic_zooms(tmp_path):
    nib = pytest.importorskip("nibabel", reason="NIfTI needs nibabel (pip install 'zssr[volume]')")
    data = np.random.default_rng(0).normal(0, 300, size=(16, 18, 3)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 3.0, 1.0])), tmp_path / "v.nii.gz")
    assert cli.main(["upscale", str(tmp_path / "v.nii.gz"), "--axis", "z", "-o", str(tmp_path / "o.nii.gz"),
                     *FAST]) == 0
    back = nib.load(tmp_path / "o.nii.gz")
    assert back.shape == (16, 18, 9) and back.get_data_dtype() == np.int16
    assert back.header.get_zooms() == pytest.approx((1.0, 1.0, 1.0))


def test_axis_z_without_voxel_sizes_is_one_line_naming_scale(tmp_path, capsys):
    with tifffile.TiffWriter(tmp_path / "p.tif") as tif:
        for _ in range(3):
            tif.write(np.zeros((16, 16), np.uint16), photometric="minisblack", metadata=None)
    assert cli.main(["upscale", str(tmp_path / "p.tif"), "--axis", "z", "-o", str(tmp_path / "o.tif"), *FAST]) == 2
    line = _one_error_line(capsys)
    assert "-s/--scale" in line and "no voxel size" in line
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("axes, words", [("ZYXW", "unknown letter"), ("CZYX", "names 4 axes but the array has 3")])
def test_bad_axes_is_one_line_naming_axes(tmp_path, capsys, axes, words):
    _imagej(tmp_path / "s.tif", shape=(3, 16, 16))
    assert cli.main(["upscale", str(tmp_path / "s.tif"), "-s", "2", "--axes", axes, "-o", str(tmp_path / "o.tif"),
                     *FAST]) == 2
    line = _one_error_line(capsys)
    assert "axes" in line and words in line


def test_output_of_another_kind_is_refused_before_training(tmp_path, capsys):
    _imagej(tmp_path / "s.tif", shape=(3, 16, 16))
    assert cli.main(["upscale", str(tmp_path / "s.tif"), "-s", "2", "-o", str(tmp_path / "o.png"), *FAST]) == 2
    assert ".tif" in _one_error_line(capsys)


def test_2d_images_still_need_scale(tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    assert cli.main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "o.png"), *FAST]) == 2
    assert "-s/--scale" in _one_error_line(capsys)


def test_corrupt_tiff_fails_in_one_line_with_no_raw_decoder_log(tmp_path):
    """The CI fuzz case (tests/fuzzing.py, seed 381): tifffile's log records never reach stderr."""
    source = tmp_path / "mutated.bmp"
    source.write_bytes((Path(__file__).parent / "fixtures" / "corrupt_cmyk.tif").read_bytes())
    # A subprocess: in-process, pytest's log capture would swallow the raw records this test is about.
    run = subprocess.run([sys.executable, "-m", "zssr", "upscale", str(source), "-s", "2", "--out-dir",
                          str(tmp_path / "out"), *FAST], capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, run.stderr
    assert lines and all(line.startswith("zssr: ") for line in lines), lines
