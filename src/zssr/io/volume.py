"""Stacks and volumes: TIFF (ImageJ, OME, plain) and NIfTI read with their axes and voxel sizes, written back alike.

Why a module of its own (issue #29): a microscopy stack or an MRI volume is not an
``H×W×C`` picture. Reading one through :func:`zssr.io.read_image` kept its first
slice and dropped the rest and the voxel sizes; here the whole array is kept, in its
own dtype and axis order, with the metadata needed to write the result back as the
same kind of file.

Convention:
    A :class:`Volume` holds the samples as stored (any integer or float dtype, no
    scaling) with an axes string of the tifffile/napari letters
    (:data:`AXIS_LETTERS`: ``T`` time, ``C`` channel, ``Z`` depth, ``Y`` rows,
    ``X`` columns, ``S`` samples of a pixel, ``Q``/``I`` an unnamed stack of planes),
    e.g. ``"ZYX"``, ``"TZCYX"``. ``spacing`` has the voxel size of each spatial
    letter the file states (``Z``, ``Y``, ``X``), in ``unit``; a letter without a
    stated size is absent (so ``--axis z`` cannot take its factor from a guess).

Notes:
    * Uncompressed TIFF and ``.nii`` files are memory-mapped: a volume larger than
      RAM is read a slab at a time. Compressed TIFFs, ``.nii.gz`` and NIfTI files
      with an intensity scaling (``scl_slope``) are decoded whole.
    * NIfTI arrays keep nibabel's order (i, j, k[, t]); the spatial axis with the
      largest voxel size is labelled ``Z`` (the last of equal ones), the other two
      ``Y`` then ``X`` in array order, a fourth axis ``T``. A scaled NIfTI is read as
      its float values and written back in its on-disk dtype, nibabel choosing the
      new scaling.
    * Output voxel sizes are the input's divided by each axis's factor; a NIfTI
      affine is scaled likewise and shifted so that each output voxel's centre lies
      where the enlargement puts it (the centred-block grid of MATLAB ``imresize``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, Literal

import numpy as np
import tifffile

from zssr._atomic import atomic_write
from zssr._validate import as_path
from zssr.errors import ConfigError, ImageReadError, ImageWriteError, ShapeError
from zssr.io._formats import DECODE_ERRORS, TIFF_SIGNATURES, one_line
from zssr.io.complaints import decoder_complaints_held_back
from zssr.io.inflate import cap_tifffile_codecs
from zssr.io.paths import open_regular

__all__ = [
    "AXIS_LETTERS", "NIFTI_SUFFIXES", "SPATIAL", "TIFF_SUFFIXES", "VOLUME_SUFFIXES", "Volume", "VolumeFormat",
    "check_axes", "enlarged", "is_volume_file", "read_volume", "volume_suffix", "write_volume",
]

#: The axis letters of tifffile and napari accepted in ``axes``.
AXIS_LETTERS = "TCZYXSQI"
#: The spatial letters, the through-plane one first.
SPATIAL = "ZYX"
TIFF_SUFFIXES = (".tif", ".tiff")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
VOLUME_SUFFIXES = TIFF_SUFFIXES + NIFTI_SUFFIXES

VolumeFormat = Literal["imagej", "ome", "tiff", "nifti", "array"]

# ImageJ metadata carried over to the output (the rest, e.g. per-slice Labels or the
# image counts, describes the input's planes and is rewritten by tifffile).
_IMAGEJ_KEPT = ("unit", "finterval", "fps", "loop", "mode", "Ranges", "LUTs", "min", "max", "Info", "Properties")
_NIFTI_MAGIC = (b"n+1\x00", b"ni1\x00", b"n+2\x00", b"ni2\x00")


@dataclass(frozen=True)
class Volume:
    """A stack or volume as stored, with what is needed to write its result back alike.

    Attributes:
        data: the samples in their own dtype, axes as ``axes`` (a ``numpy.memmap`` when the file allows).
        axes: one letter of :data:`AXIS_LETTERS` per dimension of ``data``, each at most once, with ``Y`` and ``X``.
        spacing: voxel size of each spatial letter the source states, in ``unit``.
        unit: the unit of ``spacing`` (``"µm"``, ``"mm"``…), None when unknown.
        format: what the volume came from and is written as.
        metadata: format-specific: the ImageJ entries kept, OME channel names, the NIfTI header and affine.
        path: the file read, if any.
    """

    data: np.ndarray
    axes: str
    spacing: Mapping[str, float] = field(default_factory=dict)
    unit: str | None = None
    format: VolumeFormat = "array"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", check_axes(self.axes, np.shape(self.data)))
        object.__setattr__(self, "spacing", MappingProxyType(dict(self.spacing)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return tuple(int(n) for n in np.shape(self.data))

    def size(self, letter: str) -> int:
        """The length of the axis ``letter`` (1 when the volume has no such axis)."""
        return self.shape[self.axes.index(letter)] if letter in self.axes else 1


def check_axes(axes: object, shape: tuple[int, ...], *, name: str = "axes") -> str:
    """``axes`` upper-cased and checked against an array of ``shape``.

    Why: a ``Z×Y×X`` array and a ``Y×X×C`` picture have the same rank; only the
    caller knows which it holds, and a guess that reads 5 slices as 5 colour
    channels is silent. So the letters are required and checked, never inferred.

    Raises:
        ConfigError: not a string, an unknown or repeated letter, or no ``Y``/``X``.
        ShapeError: a letter count that is not the array's number of dimensions.
    """
    if not isinstance(axes, str):
        raise ConfigError(f"{name} must be a string of the letters {AXIS_LETTERS} (e.g. 'ZYX'), got {axes!r}")
    letters = axes.strip().upper()
    unknown = sorted({c for c in letters if c not in AXIS_LETTERS})
    if unknown:
        raise ConfigError(f"{name} {axes!r} has unknown letter(s) {''.join(unknown)!r}; use the tifffile/napari "
                          f"letters {AXIS_LETTERS} (T time, C channel, Z depth, Y rows, X columns, S samples)")
    repeated = sorted({c for c in letters if letters.count(c) > 1})
    if repeated:
        raise ConfigError(f"{name} {axes!r} names axis {''.join(repeated)!r} more than once")
    if "Y" not in letters or "X" not in letters:
        raise ConfigError(f"{name} {axes!r} must name the in-plane axes Y and X")
    if len(letters) != len(shape):
        raise ShapeError(f"{name} {axes!r} names {len(letters)} axes but the array has {len(shape)} "
                         f"(shape {tuple(shape)})")
    return letters


def enlarged(volume: Volume, data: np.ndarray, factors: Mapping[str, float]) -> Volume:
    """``volume`` with ``data`` in place of its samples, each ``factors`` axis enlarged by its factor.

    The voxel size of every enlarged axis is divided by its factor; a NIfTI affine follows.
    """
    spacing = {k: (v / factors[k] if k in factors else v) for k, v in volume.spacing.items()}
    metadata = dict(volume.metadata)
    if volume.format == "nifti" and "affine" in metadata:
        metadata["affine"] = _enlarged_affine(np.asarray(metadata["affine"]), volume.axes, factors)
    if volume.format == "imagej" and any(k in factors for k in "ZT"):
        metadata.pop("Ranges", None)
    return replace(volume, data=data, spacing=spacing, metadata=metadata)


def _enlarged_affine(affine: np.ndarray, axes: str, factors: Mapping[str, float]) -> np.ndarray:
    """The voxel → world affine after enlarging: ``v_old = v_new / f − (f − 1) / 2f`` on each enlarged axis."""
    step = np.eye(4)
    for i, letter in enumerate(axes[:3]):
        f = float(factors.get(letter, 1.0))
        step[i, i] = 1.0 / f
        step[i, 3] = -(f - 1.0) / (2.0 * f)
    return affine @ step


def volume_suffix(path: str | Path) -> str:
    """The volume suffix of ``path`` (``.nii.gz`` counts as one), lower-case, or ``""``."""
    name = Path(path).name.lower()
    for suffix in (".nii.gz", ".nii", ".tiff", ".tif"):
        if name.endswith(suffix):
            return suffix
    return ""


def is_volume_file(path: str | Path) -> bool:
    """Whether ``path`` holds a stack or volume rather than one 2-D picture.

    NIfTI files always do; a TIFF does when its first series has more than one plane
    (a ``Z``, ``T``, ``C``, ``Q`` or ``I`` axis longer than 1). Unreadable files are not
    volumes here (the image reader then says what is wrong with them).
    """
    source = Path(path)
    try:
        handle = open_regular(source)  # a pipe or a device is no volume, and is never read (it could block)
    except ImageReadError:
        return False
    with handle:
        try:
            head = handle.read(348 + 4)
        except OSError:
            return False
        if head[:4] in TIFF_SIGNATURES:
            try:
                handle.seek(0)
                with decoder_complaints_held_back(replay=False), tifffile.TiffFile(handle, name=source.name) as tif:
                    series = tif.series[0]
                    return any(n > 1 for letter, n in zip(series.axes, series.shape) if letter not in "YXS")
            except Exception:  # noqa: BLE001 - not a TIFF tifffile reads: the 2-D reader decides
                return False
    return _is_nifti(head) or volume_suffix(source) == ".nii.gz"


def _is_nifti(head: bytes) -> bool:
    return head[344:348] in _NIFTI_MAGIC or head[4:8] in _NIFTI_MAGIC


def read_volume(path: str | Path, *, axes: str | None = None) -> Volume:
    """Read a stack or volume: TIFF (ImageJ, OME or plain multi-page) or NIfTI (``.nii``, ``.nii.gz``).

    Args:
        path: the file; TIFF is recognised by content, NIfTI by content or ``.nii.gz``.
        axes: letters that replace the file's own (checked against its shape), e.g. for
            a plain multi-page TIFF whose pages are time points rather than slices.

    Returns:
        The :class:`Volume`, samples as stored; a plain TIFF's unnamed page axis
        (``Q``/``I``) is read as ``Z``.

    Raises:
        ImageReadError: a missing, unreadable or corrupt file, or one that is not a TIFF or NIfTI
            (NIfTI needs ``nibabel``: ``pip install 'zssr[volume]'``).
        ConfigError, ShapeError: ``axes`` that do not fit the file.
    """
    source = as_path(path)  # str, os.PathLike or bytes (os.fsdecode)
    if source is None:
        raise ImageReadError(f"path must be a file path (str, bytes or os.PathLike), got {type(path).__name__}")
    with open_regular(source, what="volume") as handle:  # a pipe or a device is refused before any read
        head = handle.read(352)
    try:
        if head[:4] in TIFF_SIGNATURES:
            with decoder_complaints_held_back():
                volume = _read_tiff(source)
        elif _is_nifti(head) or volume_suffix(source) == ".nii.gz":
            volume = _read_nifti(source)
        else:
            raise ImageReadError("not a TIFF or NIfTI file")
    except ImageReadError as exc:
        raise ImageReadError(f"cannot read volume {source}: {exc}") from exc
    except DECODE_ERRORS as exc:
        raise ImageReadError(f"cannot read volume {source}: {one_line(exc)}") from exc
    except MemoryError as exc:
        raise ImageReadError(f"cannot read volume {source}: too large to decode in memory") from exc
    if axes is not None:
        letters = check_axes(axes, volume.shape)
        renamed = {old: new for old, new in zip(volume.axes, letters)}
        volume = replace(volume, axes=letters,
                         spacing={renamed[k]: v for k, v in volume.spacing.items() if k in renamed})
    return volume


def _read_tiff(source: Path) -> Volume:
    cap_tifffile_codecs()  # compressed strips inflate to their declared size at most (issue #30)
    with tifffile.TiffFile(source) as tif:
        series = tif.series[0]
        axes = series.axes
        page = tif.pages.first
        spacing: dict[str, float] = {}
        unit: str | None = None
        metadata: dict[str, Any] = {}
        fmt: VolumeFormat = "tiff"
        if tif.is_ome and tif.ome_metadata:
            fmt = "ome"
            pixels = _ome_pixels(tif.ome_metadata)
            for letter in SPATIAL:
                size = pixels.get(f"PhysicalSize{letter}")
                if size is not None and float(size) > 0:
                    spacing[letter] = float(size)
                    unit = str(pixels.get(f"PhysicalSize{letter}Unit", unit or "µm"))
            channels = pixels.get("Channel")
            channels = channels if isinstance(channels, list) else [channels] if isinstance(channels, dict) else []
            names = [c.get("Name") for c in channels if isinstance(c, dict)]
            if names and all(isinstance(n, str) for n in names):
                metadata["channel_names"] = names
            if pixels.get("TimeIncrement") is not None:
                metadata["TimeIncrement"] = float(pixels["TimeIncrement"])
        else:
            if tif.is_imagej:
                fmt = "imagej"
                ij = dict(tif.imagej_metadata or {})
                metadata = {k: ij[k] for k in _IMAGEJ_KEPT if k in ij}
                if "spacing" in ij and float(ij["spacing"]) > 0:
                    spacing["Z"] = float(ij["spacing"])
                unit = str(ij["unit"]) if "unit" in ij else None
            for letter, tag in (("X", "XResolution"), ("Y", "YResolution")):
                value = page.tags.get(tag)
                if value is not None:
                    num, den = value.value if isinstance(value.value, tuple) else (value.value, 1)
                    if num and den and not (fmt == "tiff" and num == den == 1):
                        spacing[letter] = float(den) / float(num)
        data: np.ndarray
        try:
            data = tifffile.memmap(source, series=0, mode="r")
        except ValueError:  # compressed or scattered pages: decoded whole
            data = series.asarray()
    if "Z" not in axes:
        for unnamed in "QI":
            if unnamed in axes:
                axes = axes.replace(unnamed, "Z")
                break
    return Volume(data, axes, spacing, unit, fmt, metadata, source)


def _ome_pixels(xml: str) -> dict[str, Any]:
    """The ``Pixels`` element of the first OME image as a dict (tifffile's xml2dict)."""
    tree = tifffile.xml2dict(xml)
    image = tree.get("OME", {}).get("Image", {})
    if isinstance(image, list):
        image = image[0]
    pixels = image.get("Pixels", {}) if isinstance(image, dict) else {}
    return pixels if isinstance(pixels, dict) else {}


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError as exc:
        raise ImageReadError("NIfTI volumes need nibabel: pip install 'zssr[volume]'") from exc
    return nibabel


def _read_nifti(source: Path) -> Volume:
    nib = _nibabel()
    image = nib.load(str(source))
    proxy = image.dataobj
    slope, inter = float(getattr(proxy, "slope", 1.0)), float(getattr(proxy, "inter", 0.0))
    if slope == 1.0 and inter == 0.0:
        data = np.asanyarray(proxy)  # a memmap for an uncompressed .nii
    else:
        data = np.asarray(image.get_fdata(dtype=np.float32))
    if data.ndim not in (3, 4):
        raise ImageReadError(f"expected a 3-D or 4-D NIfTI volume, got {data.ndim} dimensions {data.shape}")
    zooms = [float(z) for z in image.header.get_zooms()[:3]]
    thick = max(i for i in range(3) if zooms[i] == max(zooms))
    letters = iter("YX")
    axes = "".join("Z" if i == thick else next(letters) for i in range(3)) + ("T" if data.ndim == 4 else "")
    spacing = {axes[i]: zooms[i] for i in range(3) if zooms[i] > 0}
    units = image.header.get_xyzt_units()[0]
    metadata = {"header": image.header.copy(), "affine": np.array(image.affine, dtype=np.float64),
                "disk_dtype": np.dtype(image.get_data_dtype()), "sform_code": int(image.header["sform_code"]),
                "qform_code": int(image.header["qform_code"])}
    unit = {"mm": "mm", "micron": "µm", "meter": "m"}.get(str(units)) if units else None
    return Volume(data, axes, spacing, unit, "nifti", metadata, source)


def write_volume(path: str | Path, volume: Volume) -> Path:
    """Write ``volume`` atomically as the kind of file it came from (``format``), in its dtype and axes.

    The suffix must fit the format: ``.tif``/``.tiff`` for TIFF, ``.nii``/``.nii.gz`` for
    NIfTI (an ``array`` volume is written as an OME-TIFF or a NIfTI by its suffix).
    Pages are written from ``data`` one at a time, so a memory-mapped result stays on disk.

    Raises:
        ImageWriteError: a suffix that does not fit, or the write failed.
    """
    target = Path(path)
    suffix = volume_suffix(target)
    fmt = volume.format
    if fmt == "array":
        fmt = "nifti" if suffix in NIFTI_SUFFIXES else "ome"
    wanted = NIFTI_SUFFIXES if fmt == "nifti" else TIFF_SUFFIXES
    if suffix not in wanted:
        kind = "a NIfTI volume" if fmt == "nifti" else "a TIFF stack"
        raise ImageWriteError(f"output {target} must end in {' or '.join(wanted)} for {kind}, "
                              f"got {suffix or target.suffix or 'no suffix'!r}")
    if fmt == "nifti":
        _write_nifti(target, volume)
    else:
        atomic_write(target, lambda handle: _encode_tiff(handle, volume, fmt), what="volume")
    return target


def _encode_tiff(handle: BinaryIO, volume: Volume, fmt: str) -> None:
    data, axes = volume.data, volume.axes
    resolution = None
    if "X" in volume.spacing and "Y" in volume.spacing:
        resolution = (1.0 / volume.spacing["X"], 1.0 / volume.spacing["Y"])
    if fmt == "imagej":
        metadata: dict[str, Any] = dict(volume.metadata)
        metadata["axes"] = axes
        if "Z" in volume.spacing:
            metadata["spacing"] = volume.spacing["Z"]
        if volume.unit is not None:
            metadata["unit"] = volume.unit
        tifffile.imwrite(handle, data, imagej=True, resolution=resolution, metadata=metadata)
    elif fmt == "ome":
        ome: dict[str, Any] = {"axes": axes}
        for letter, size in volume.spacing.items():
            ome[f"PhysicalSize{letter}"] = size
            if volume.unit is not None:
                ome[f"PhysicalSize{letter}Unit"] = volume.unit
        if "channel_names" in volume.metadata and "C" in axes:
            ome["Channel"] = {"Name": list(volume.metadata["channel_names"])}
        if "TimeIncrement" in volume.metadata:
            ome["TimeIncrement"] = volume.metadata["TimeIncrement"]
        tifffile.imwrite(handle, data, ome=True, photometric="minisblack", metadata=ome)
    else:
        tifffile.imwrite(handle, data, photometric="minisblack", resolution=resolution, metadata={"axes": axes})


def _write_nifti(target: Path, volume: Volume) -> None:
    nib = _nibabel()
    meta = volume.metadata
    header = meta["header"].copy() if "header" in meta else None
    affine = np.asarray(meta.get("affine", np.diag([*(volume.spacing.get(a, 1.0) for a in volume.axes[:3]), 1.0])))
    image = nib.Nifti1Image(volume.data, affine, header=header)
    image.set_data_dtype(meta.get("disk_dtype", volume.data.dtype))
    image.header.set_zooms(tuple(volume.spacing.get(a, z) for a, z in zip(volume.axes, image.header.get_zooms())))
    image.set_sform(affine, code=int(meta.get("sform_code", 1)) or 1)
    image.set_qform(affine, code=int(meta.get("qform_code", 1)) or 1)
    compressed = volume_suffix(target) == ".nii.gz"

    def encode(handle: BinaryIO) -> None:
        if compressed:
            import gzip

            with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=6, mtime=0) as zipped:
                image.to_stream(zipped)
        else:
            image.to_stream(handle)

    atomic_write(target, encode, what="volume")

