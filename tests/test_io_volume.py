"""Tests of :mod:`zssr.io.volume`: stacks and volumes read with their axes and voxel sizes, written back alike.

Files are made in ``tmp_path`` with tifffile and nibabel (the writers microscopy and MRI
tools use), and read back with them, so the tests check what other software will see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from zssr.errors import ConfigError, ImageReadError, ImageWriteError, ShapeError
from zssr.io.volume import Volume, check_axes, enlarged, is_volume_file, read_volume, write_volume

FIXTURES = Path(__file__).parent / "fixtures"


def _stack(shape: tuple[int, ...] = (5, 16, 20), dtype: type = np.uint16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is None:
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(max(info.min, -3000), min(info.max, 3000), size=shape, endpoint=True).astype(dtype)


def _imagej(path, data, axes="ZYX", dz=2.0, dxy=0.5):
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / dxy, 1 / dxy),
                     metadata={"axes": axes, "spacing": dz, "unit": "um"})
    return path


def test_imagej_stack_reads_every_slice_with_axes_and_voxel_sizes(tmp_path):
    data = _stack()
    volume = read_volume(_imagej(tmp_path / "s.tif", data))
    assert volume.format == "imagej" and volume.axes == "ZYX" and volume.unit == "um"
    assert volume.data.dtype == np.uint16 and np.array_equal(np.asarray(volume.data), data)
    assert dict(volume.spacing) == pytest.approx({"Z": 2.0, "Y": 0.5, "X": 0.5})


def test_uncompressed_stack_is_memory_mapped_not_loaded(tmp_path):
    volume = read_volume(_imagej(tmp_path / "s.tif", _stack()))
    assert isinstance(volume.data, np.memmap)


def test_ome_stack_reads_physical_sizes_and_channel_names(tmp_path):
    data = _stack((2, 3, 16, 16), np.int16)
    tifffile.imwrite(tmp_path / "o.ome.tif", data, ome=True, metadata={
        "axes": "CZYX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1.5,
        "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm", "PhysicalSizeZUnit": "µm",
        "Channel": {"Name": ["dapi", "gfp"]}})
    volume = read_volume(tmp_path / "o.ome.tif")
    assert volume.format == "ome" and volume.axes == "CZYX" and volume.unit == "µm"
    assert dict(volume.spacing) == pytest.approx({"Z": 1.5, "Y": 0.25, "X": 0.25})
    assert list(volume.metadata["channel_names"]) == ["dapi", "gfp"]


def test_plain_multipage_tiff_pages_are_read_as_z_without_voxel_sizes(tmp_path):
    with tifffile.TiffWriter(tmp_path / "p.tif") as tif:
        for plane in _stack((3, 16, 16)):
            tif.write(plane, photometric="minisblack", metadata=None)
    volume = read_volume(tmp_path / "p.tif")
    assert volume.axes == "ZYX" and volume.shape == (3, 16, 16) and dict(volume.spacing) == {}


def test_is_volume_file_tells_stacks_from_pictures(tmp_path):
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "one.tif", _stack((16, 16)), photometric="minisblack")
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    assert not is_volume_file(tmp_path / "a.png")
    assert not is_volume_file(tmp_path / "one.tif")
    assert not is_volume_file(tmp_path / "rgb.tif")
    assert is_volume_file(_imagej(tmp_path / "s.tif", _stack()))


def _corrupt_tiff(tmp_path):
    """A corrupt 8x8 CMYK TIFF Hypothesis made in CI (tests/fuzzing.py; fixtures/README.md).

    tifffile logs ten ERROR records on it before giving up; the stack probe once ran tifffile
    outside the hold-back, so they reached stderr raw ahead of the CLI's one error line.
    """
    path = tmp_path / "broken.tif"
    path.write_bytes((FIXTURES / "corrupt_cmyk.tif").read_bytes())
    return path


def test_stack_probe_of_a_corrupt_tiff_says_no_and_logs_nothing(tmp_path, capfd, caplog):
    path = _corrupt_tiff(tmp_path)
    assert not is_volume_file(path)
    assert capfd.readouterr().err == ""
    assert not [r for r in caplog.records if r.name == "tifffile"]


def test_corrupt_tiff_as_a_volume_is_one_read_error_and_no_raw_log(tmp_path, capfd):
    path = _corrupt_tiff(tmp_path)
    with pytest.raises(ImageReadError, match="cannot read volume"):
        read_volume(path)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("fmt", ["imagej", "ome", "tiff"])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_written_tiff_reads_back_with_same_dtype_axes_and_voxel_sizes(tmp_path, fmt, dtype):
    data = _stack((4, 16, 16), dtype)
    volume = Volume(data, "ZYX", {"Z": 2.0, "Y": 0.5, "X": 0.5}, "um", fmt)  # type: ignore[arg-type]
    write_volume(tmp_path / "w.tif", volume)
    back = read_volume(tmp_path / "w.tif")
    assert back.axes == "ZYX" and back.data.dtype == dtype and np.array_equal(np.asarray(back.data), data)
    expected = {"Y": 0.5, "X": 0.5} if fmt == "tiff" else {"Z": 2.0, "Y": 0.5, "X": 0.5}
    assert dict(back.spacing) == pytest.approx(expected)


def test_enlarged_divides_voxel_sizes_of_enlarged_axes_only():
    volume = Volume(np.zeros((2, 8, 8), np.uint8), "ZYX", {"Z": 4.0, "Y": 1.0, "X": 1.0})
    out = enlarged(volume, np.zeros((8, 8, 8), np.uint8), {"Z": 4.0})
    assert dict(out.spacing) == {"Z": 1.0, "Y": 1.0, "X": 1.0} and out.axes == "ZYX"


@pytest.mark.parametrize("axes, error, words", [
    ("ZYXW", ConfigError, "unknown letter"), ("ZYX", ShapeError, "names 3 axes but the array has 4"),
    ("ZZYX", ConfigError, "more than once"), ("ZTC", ConfigError, "Y and X"), (3, ConfigError, "string"),
])
def test_bad_axes_is_a_typed_error_naming_axes(axes, error, words):
    with pytest.raises(error, match="axes") as caught:
        check_axes(axes, (2, 3, 8, 8))
    assert words in str(caught.value)


def test_write_refuses_a_suffix_of_another_kind(tmp_path):
    volume = Volume(np.zeros((2, 8, 8), np.uint8), "ZYX", format="imagej")
    with pytest.raises(ImageWriteError, match=r"\.tif"):
        write_volume(tmp_path / "w.nii.gz", volume)


def test_missing_file_is_an_image_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="no.tif"):
        read_volume(tmp_path / "no.tif")


# ----------------------------------------------------------------------------- NIfTI (nibabel, optional)


@pytest.fixture
def nib():
    return pytest.importorskip("nibabel", reason="NIfTI needs nibabel (pip install 'zssr[volume]')")


def test_nifti_labels_the_largest_voxel_axis_z(tmp_path, nib):
    nib.save(nib.Nifti1Image(_stack((8, 4, 10), np.int16), np.diag([1.0, 3.0, 1.0, 1.0])), tmp_path / "v.nii.gz")
    volume = read_volume(tmp_path / "v.nii.gz")
    assert volume.axes == "YZX" and dict(volume.spacing) == pytest.approx({"Y": 1.0, "Z": 3.0, "X": 1.0})


def test_nifti_written_back_keeps_dtype_and_enlarged_zooms_and_affine(tmp_path, nib):
    affine = np.diag([1.0, 1.0, 4.0, 1.0])
    affine[:3, 3] = [-10.0, -20.0, -30.0]
    nib.save(nib.Nifti1Image(_stack((8, 6, 3), np.int16), affine), tmp_path / "v.nii")
    volume = read_volume(tmp_path / "v.nii")
    assert isinstance(volume.data, np.memmap)
    write_volume(tmp_path / "o.nii.gz", enlarged(volume, np.zeros((8, 6, 12), np.int16), {"Z": 4.0}))
    back = nib.load(tmp_path / "o.nii.gz")
    assert back.shape == (8, 6, 12) and back.get_data_dtype() == np.int16
    assert back.header.get_zooms() == pytest.approx((1.0, 1.0, 1.0))
    # centred-block grid: output voxel 0 lies (4 - 1) / 2 output voxels before input voxel 0
    assert back.affine[:3, 3] == pytest.approx([-10.0, -20.0, -31.5])


def test_scaled_nifti_is_read_as_values_and_written_in_its_disk_dtype(tmp_path, nib):
    image = nib.Nifti1Image(_stack((8, 8, 3), np.int16), np.eye(4))
    image.header.set_slope_inter(0.5, 100.0)
    nib.save(image, tmp_path / "s.nii")
    volume = read_volume(tmp_path / "s.nii")
    expected = np.asanyarray(nib.load(tmp_path / "s.nii").dataobj)
    assert np.allclose(volume.data, expected)
    write_volume(tmp_path / "o.nii", volume)
    back = nib.load(tmp_path / "o.nii")
    assert back.get_data_dtype() == np.int16 and np.allclose(np.asanyarray(back.dataobj), expected, atol=0.5)
