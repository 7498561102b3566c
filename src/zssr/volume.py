"""ZSSR on stacks and volumes: one net per stack, in-plane or through-plane (issue #29).

Why: the slices of a stack share almost everything, so one net trained on fathers drawn
from all of them (:class:`~zssr.examples.FatherSource` ``group``) serves every slice
at the cost of one training, not one per slice. And a volume's slices are sharp in-plane
but far apart: its in-plane slices are the training data for the blurry through-plane
direction (the idea of SMORE), which ZSSR's anisotropic path (``-s 1x4``) already learns.

* **In-plane** (``axis=None``): fathers are the ``Y×X`` planes of every slice, channel and
  time point; the net enlarges each plane by ``(sy, sx)``.
* **Through-plane** (``axis="z"``): fathers are the in-plane slices, sons are them blurred
  along one in-plane axis by the slice profile (a Gaussian whose FWHM is the slice
  thickness, by default the slice spacing) and subsampled by ``r``; the net enlarges
  the ``Z×X`` and the ``Z×Y`` planes by ``(r, 1)`` (back-projection with the same
  profile) and the two results are averaged. Without a factor, ``r`` is the ratio of
  the through-plane voxel size to the finer in-plane one.

Convention:
    Intensities of any dtype and range, signed included, are mapped linearly from the
    volume's own ``[min, max]`` to the net's ``[0, 1]`` and back (:class:`IntensityMap`);
    integer outputs are rounded and stay within that range. Both modes make one direct
    scale step (a preset's gradual pattern applies to 2-D images). Planes are read, enlarged
    and written one at a time from a memory-mapped file; a result above
    :data:`IN_MEMORY_BYTES` lives in an unlinked temporary file.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ._validate import as_path, is_number, real_float, scale_value
from .bands import super_resolve_bounded
from .config import Config, resolve_config
from .degradation import plan_sons, read_degradation
from .errors import ConfigError, ScaleError, ShapeError
from .examples import input_sources
from .io.volume import AXIS_LETTERS, SPATIAL, Volume, check_axes, enlarged, read_volume
from .kernels import align_kernel, gaussian_kernel
from .limits import MIN_INPUT_SIDE, check_plan, check_scale_fits, plan_run
from .network import ZSSRNet
from .pipeline import ProgressFactory, TqdmProgress, check_steps, parse_scale, resolve_device
from .resize import output_size
from .training import TrainingHistory, make_optimizer, train_scale_step

__all__ = [
    "FATHER_PIXELS", "IN_MEMORY_BYTES", "Axis", "IntensityMap", "VolumeRun", "intensity_map", "slice_profile",
    "through_plane_factor", "upscale_volume",
]

Axis = Literal["z", "y", "x"]
#: Fathers are drawn from at most this many pixels of planes (evenly spaced slices beyond it).
FATHER_PIXELS = 2**25
#: A result (or the through-plane accumulator) larger than this lives in a temporary file.
IN_MEMORY_BYTES = 2**30
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
PlaneProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class IntensityMap:
    """The linear map between a volume's samples and the net's ``[0, 1]``.

    Why: MRI is often signed ``int16`` or float in arbitrary units, microscopy 12 bits in
    a 16-bit container; mapping the dtype's full range would squeeze the data into a sliver
    of ``[0, 1]``, and clipping floats to ``[0, 1]`` would destroy them. The volume's own
    range uses the whole of the net's.
    """

    low: float
    high: float
    dtype: np.dtype

    def to_unit(self, samples: np.ndarray) -> np.ndarray:
        """Samples → float32 in ``[0, 1]`` (all 0 for a constant volume)."""
        span = self.high - self.low
        out = np.asarray(samples, dtype=np.float64) - self.low
        return (out / span if span > 0 else out * 0.0).astype(np.float32)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """``[0, 1]`` → samples in ``dtype``: integers rounded, everything within ``[low, high]``."""
        values = np.clip(np.asarray(unit, dtype=np.float64), 0.0, 1.0) * (self.high - self.low) + self.low
        if np.issubdtype(self.dtype, np.integer):
            values = np.clip(np.rint(values), self.low, self.high)
        return values.astype(self.dtype)


def intensity_map(data: np.ndarray) -> IntensityMap:
    """The range of ``data``, read a slab at a time (a memory-mapped volume is never loaded whole).

    Raises:
        ShapeError: an empty array, NaN or infinite values, or a dtype that is not integer or float.
    """
    dtype = np.dtype(data.dtype)
    if dtype == np.bool_ or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise ShapeError(f"volume samples must be integers or floats, got dtype {dtype}")
    if data.size == 0:
        raise ShapeError(f"volume is empty: shape {data.shape} has no voxels")
    low, high = math.inf, -math.inf
    for slab in _slabs(data):
        if dtype.kind == "f" and not np.isfinite(slab).all():
            raise ShapeError("volume contains NaN or infinite values")
        low, high = min(low, float(slab.min())), max(high, float(slab.max()))
    return IntensityMap(low, high, dtype)


def _slabs(data: np.ndarray, budget: int = 2**24) -> Iterator[np.ndarray]:
    """``data`` in pieces along its first axis of about ``budget`` values each."""
    if data.ndim == 0:
        yield np.asarray(data)
        return
    per = max(1, budget // max(1, data.size // max(1, data.shape[0])))
    for start in range(0, data.shape[0], per):
        yield np.asarray(data[start : start + per])


def slice_profile(factor: float, fwhm: float | None = None) -> torch.Tensor:
    """The slice profile along rows as an unaligned ``K×1`` kernel: a Gaussian of FWHM ``fwhm`` HR pixels.

    Why: a slice of thickness ``t`` integrates the object over ``t`` along z; a Gaussian
    of FWHM ``t`` is the usual model of an MRI slice profile (and close to a microscope's
    axial PSF). The default FWHM is the factor: slices as thick as they are apart.

    Shape:
        → ``K×1`` float64, ``K`` odd, covering ±3σ.
    """
    width = float(factor if fwhm is None else fwhm)
    if not (math.isfinite(width) and width > 0):
        raise ConfigError(f"slice_thickness must give a finite FWHM > 0 output pixels, got {width!r}")
    sigma = width / _FWHM_PER_SIGMA
    side = 2 * max(1, math.ceil(3.0 * sigma)) + 1
    return gaussian_kernel((side, 1), sigma, 1.0)


def through_plane_factor(spacing: Mapping[str, float], axis: str, *, source: str = "the volume",
                         name: str = "scale") -> float:
    """The factor that makes voxels isotropic: the ``axis`` voxel size over the finer in-plane one.

    Raises:
        ScaleError: the voxel sizes needed are not stated, or the factor would not enlarge.
    """
    others = [a for a in SPATIAL if a != axis]
    missing = [a for a in (axis, *others) if a not in spacing]
    if missing:
        raise ScaleError(f"{name} is needed for axis {axis.lower()!r}: {source} states no voxel size for "
                         f"{', '.join(missing)}, so the factor cannot be read from them; give {name}")
    factor = float(spacing[axis]) / min(float(spacing[a]) for a in others)
    if not factor > 1.0 + 1e-6:
        raise ScaleError(f"{name} from the voxel sizes ({axis} {spacing[axis]:g} over in-plane "
                         f"{min(float(spacing[a]) for a in others):g}) is {factor:.3g}: nothing to enlarge along "
                         f"{axis.lower()}; give {name} to enlarge anyway")
    return round(factor, 6)


@dataclass(frozen=True)
class VolumeRun:
    """What a volume run did: the result, the training, the factors and the time."""

    volume: Volume
    history: TrainingHistory
    factors: Mapping[str, float]
    planes: int
    seconds: float
    device: str


def upscale_volume(
    volume: Volume | np.ndarray | str | Path,
    scale: float | str | Sequence[Any] | None = None,
    *,
    axes: str | None = None,
    axis: str | None = None,
    spacing: Mapping[str, float] | None = None,
    slice_thickness: float | None = None,
    preset: str | Config = "ideal",
    seed: int | None = 0,
    device: str | torch.device = "auto",
    progress: bool | Callable[..., Any] = False,
    step_progress: ProgressFactory | None = None,
    **overrides: Any,
) -> VolumeRun:
    """Super-resolve a stack or volume with one ZSSR net: in-plane, or through-plane along ``axis``.

    Args:
        volume: a :class:`~zssr.io.volume.Volume`, a path (TIFF, NIfTI), or an array with ``axes``.
        scale: in-plane target (``2``, ``"2x3"``, ``(2, 3)``), or, with ``axis``, one number;
            None with ``axis`` reads it from the voxel sizes (:func:`through_plane_factor`).
        axes: the letters of an array's axes (``"ZYX"``, ``"ZYXC"``, ``"TZYX"``…, tifffile/napari),
            required for arrays so that ``Z×Y×X`` is never read as ``Y×X×C``; for a file, they
            replace the file's own.
        axis: ``"z"`` (or ``"y"``, ``"x"``): enlarge along that axis only, through-plane.
        spacing: voxel sizes by letter (``{"Z": 4.0, "Y": 1.0, "X": 1.0}``), replacing the source's.
        slice_thickness: the slice profile's FWHM in the units of ``spacing`` (default: the
            ``axis`` voxel size; without voxel sizes, as thick as the slices are apart).
        preset: a :data:`zssr.config.PRESETS` name or a :class:`~zssr.config.Config`.
        seed: seeds the net, the fathers and the noise (as :func:`zssr.upscale`).
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        overrides: any :class:`~zssr.config.Config` field, e.g. ``max_iterations=500``.
        progress: True for tqdm bars (training, then planes), or a callable
            ``progress(done, total)`` over planes.
        step_progress: the training's progress factory (as :func:`zssr.upscale_tensor` takes it;
            called once, as step 0 of 1), in place of the tqdm bar; its callback, or ``progress``,
            may raise to stop the run (the napari widget's Cancel).

    Returns:
        A :class:`VolumeRun` whose ``volume`` has the input's dtype, axes and format, each
        enlarged axis's voxel size divided by its factor.

    Raises:
        ConfigError: a bad ``axes``, ``axis``, preset or override; ShapeError: an array whose
        axes do not fit or a plane under ``MIN_INPUT_SIDE``; ScaleError: a bad ``scale``, or
        none with ``axis`` and no voxel sizes; ImageReadError: an unreadable file.
    """
    config = resolve_config(preset, **overrides)
    if config.nets > 1:  # one net serves every slice here; silently training one would ignore the request
        raise ConfigError(f"nets applies to 2-D images (zssr.upscale); a stack or volume is enlarged by one net, "
                          f"got nets={config.nets}")
    dev = resolve_device(device)
    vol = _as_volume(volume, axes)
    if spacing is not None:
        vol = Volume(vol.data, vol.axes, _spacing(spacing), vol.unit, vol.format, vol.metadata, vol.path)
    if slice_thickness is not None:
        scale_value(slice_thickness, "slice_thickness")
    letter = _axis_letter(axis, vol.axes)
    source = str(vol.path) if vol.path is not None else "the array"
    if letter is None:
        if scale is None:
            raise ScaleError("scale is required for in-plane SR (only axis='z' reads it from the voxel sizes)")
        steps = parse_scale(scale)
        if len(steps) != 1:
            raise ScaleError(f"scale of a volume is one target (one direct step), got {len(steps)} steps from {scale!r}")
        sf = steps[0]
        factors = {"Y": sf[0], "X": sf[1]}
    else:
        if scale is None:
            r = through_plane_factor(vol.spacing, letter, source=source)
        else:
            steps = parse_scale(scale)
            if len(steps) != 1 or steps[0][0] != steps[0][1]:
                raise ScaleError(f"scale with axis={axis!r} is one factor along {letter.lower()}, got {scale!r}")
            r = steps[0][0]
        sf = check_steps([(r, 1.0)])[0]
        factors = {letter: r}
    check_scale_fits([sf], config=config, device=dev)
    order = _canonical_order(vol.axes, letter)
    view = np.transpose(vol.data, order)
    # Fathers are the last two axes' planes: Y×X in-plane; through-plane (lead…, A, P, Q), the P×Q planes.
    plane = (int(view.shape[-2]), int(view.shape[-1]))
    if min(plane) < MIN_INPUT_SIDE:
        raise ShapeError(f"volume planes must be at least {MIN_INPUT_SIDE}×{MIN_INPUT_SIDE} pixels, got "
                         f"{plane[0]}×{plane[1]} (axes {vol.axes}, shape {vol.shape})")
    kernel = None
    if letter is not None:
        fwhm = None
        if slice_thickness is not None:
            if letter not in vol.spacing:
                raise ConfigError("slice_thickness is in the units of the voxel sizes, but the volume states none "
                                  f"for {letter}")
            fwhm = float(slice_thickness) / (vol.spacing[letter] / sf[0])
        kernel = align_kernel(slice_profile(sf[0], fwhm), sf).to(dev, torch.float32)
    intensity = intensity_map(vol.data)
    check_plan(plan_run(plane, 1, [sf], config=config, device=dev,
                        kernel_side=None if kernel is None else max(kernel.shape)))
    start = time.perf_counter()
    net, history, config = _train(view, intensity, sf, kernel=kernel, config=config, seed=seed, device=dev,
                                  progress=progress, step_progress=step_progress)
    planes_progress = _plane_progress(progress)
    if letter is None:
        out, planes = _apply_in_plane(net, vol, order, view, intensity, sf, config, kernel, planes_progress)
    else:
        out, planes = _apply_through_plane(net, vol, order, view, intensity, sf[0], config, kernel, planes_progress)
    result = enlarged(vol, out, factors)
    return VolumeRun(result, history, factors, planes, time.perf_counter() - start, str(dev))


def _spacing(spacing: object) -> dict[str, float]:
    """Voxel sizes by axis letter, each a finite number > 0 (a ConfigError naming ``spacing`` otherwise)."""
    if not isinstance(spacing, Mapping):
        raise ConfigError(f"spacing must be a mapping of axis letters to voxel sizes, e.g. {{'Z': 4.0}}, got {spacing!r}")
    sizes: dict[str, float] = {}
    for key, value in spacing.items():
        if not isinstance(key, str) or len(key) != 1 or key.upper() not in AXIS_LETTERS:
            raise ConfigError(f"spacing keys must be axis letters such as 'Z', 'Y', 'X', got {key!r}")
        if not is_number(value) or not 0 < real_float(value, f"spacing[{key!r}]", ConfigError) < math.inf:
            raise ConfigError(f"spacing[{key!r}] must be a finite voxel size > 0, got {value!r}")
        sizes[key.upper()] = float(value)
    return sizes


def _as_volume(volume: Volume | np.ndarray | str | Path, axes: str | None) -> Volume:
    if isinstance(volume, Volume):
        return volume if axes is None else Volume(volume.data, check_axes(axes, volume.shape), {}, volume.unit,
                                                  volume.format, volume.metadata, volume.path)
    path = as_path(volume)  # str, os.PathLike, bytes: a file, never array data
    if path is not None:
        return read_volume(path, axes=axes)
    if torch.is_tensor(volume):  # detached: the result is a new array, no gradient flows back
        volume = volume.detach().cpu()
        if volume.is_floating_point() and volume.dtype not in (torch.float16, torch.float32, torch.float64):
            volume = volume.float()
    if axes is None:
        raise ConfigError("axes is required for an array volume (e.g. axes='ZYX'): a Z×Y×X array and a Y×X×C "
                          "picture have the same rank")
    try:
        data = np.asarray(volume)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"volume must be a path or an array, got {type(volume).__name__} ({exc})") from exc
    return Volume(data, check_axes(axes, data.shape))


def _axis_letter(axis: str | None, axes: str) -> str | None:
    if axis is None:
        return None
    letter = axis.strip().upper() if isinstance(axis, str) else ""
    if letter not in SPATIAL:
        raise ConfigError(f"axis must be 'z', 'y' or 'x' (the axis to enlarge through-plane), got {axis!r}")
    missing = [a for a in SPATIAL if a not in axes]
    if missing:
        raise ConfigError(f"axis={axis!r} needs a volume with Z, Y and X axes, got axes {axes!r}")
    return letter


def _canonical_order(axes: str, letter: str | None) -> list[int]:
    """The transpose to ``(lead…, Y, X)`` in-plane, or ``(lead…, A, P, Q)`` with ``A`` the enlarged axis."""
    tail = ["Y", "X"] if letter is None else [letter] + [a for a in axes if a in SPATIAL and a != letter]
    lead = [i for i, a in enumerate(axes) if a not in tail]
    return lead + [axes.index(a) for a in tail]


def _train(view: np.ndarray, intensity: IntensityMap, sf: tuple[float, float], *, kernel: torch.Tensor | None,
           config: Config, seed: int | None, device: torch.device,
           progress: bool | Callable[..., Any],
           step_progress: ProgressFactory | None = None) -> tuple[ZSSRNet, TrainingHistory, Config]:
    """One net trained on fathers drawn from the ``Y×X`` planes of ``view`` (``lead…×Y×X``), and its config.

    With ``degradation="auto"`` the config is the plan read from the planes, so that inference uses
    the ensemble and back-projection :func:`zssr.pipeline.upscale_tensor` would use.
    """
    seed = 0 if seed is None else seed
    lead = view.shape[:-2]
    indices = list(np.ndindex(*lead)) if lead else [()]
    h, w = int(view.shape[-2]), int(view.shape[-1])
    keep = max(1, min(len(indices), FATHER_PIXELS // (h * w)))
    chosen = [indices[round(k * (len(indices) - 1) / max(keep - 1, 1))] for k in range(keep)] if keep > 1 else [
        indices[len(indices) // 2]]
    planes = [intensity.to_unit(view[idx]) for idx in dict.fromkeys(chosen)]
    varied = [p for p in planes if float(p.max()) > float(p.min())] or planes
    tensors = [torch.from_numpy(np.ascontiguousarray(p))[None, None].to(device) for p in varied]
    # The reconstruction test (which drives the learning-rate policy) runs on the plane with the most detail.
    test = tensors[int(np.argmax([float(p.std()) for p in varied]))]
    if config.degradation == "auto":
        config = plan_sons(config, read_degradation(test[0].detach().cpu().permute(1, 2, 0).numpy()),
                           kernel_given=kernel is not None)
    rng = np.random.default_rng(seed)
    init_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    net = ZSSRNet(1, config.width, config.depth, init_variance=config.init_variance, residual=config.learn_residual,
                  generator=init_gen, precision=config.precision).to(device)
    optimizer = make_optimizer(net, config, device)
    sources = input_sources(tensors, config.father_scale, group=0)
    if step_progress is not None:
        callback: Any = step_progress(0, 1, sf, config.max_iterations)
    else:
        callback = TqdmProgress(0, 1, sf, config.max_iterations) if progress is True else None
    deadline = None if config.time_budget is None else time.perf_counter() + config.time_budget
    try:
        history = train_scale_step(net, optimizer, test, sources, sf, config=config, kernel=kernel, rng=rng,
                                   generator=noise_gen, progress=callback, deadline=deadline)
    finally:
        close = getattr(callback, "close", None)
        if close is not None:
            close()
    net.eval()
    return net, history, config


def _plane_progress(progress: bool | Callable[..., Any]) -> PlaneProgress | None:
    if callable(progress) and not isinstance(progress, bool):
        return progress
    if progress is not True:
        return None
    from tqdm.auto import tqdm

    bar: list[Any] = []

    def report(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, desc="planes", unit="plane", dynamic_ncols=True, leave=False))
        bar[0].n = done
        bar[0].refresh()
        if done >= total:
            bar[0].close()

    return report


def _allocate(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """A zeroed array, in an unlinked temporary file when above :data:`IN_MEMORY_BYTES`."""
    nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    if nbytes <= IN_MEMORY_BYTES:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(tempfile.TemporaryFile(prefix="zssr-volume-"), dtype=dtype, mode="w+", shape=shape)


def _enlarge(net: ZSSRNet, plane: np.ndarray, sf: tuple[float, float], config: Config,
             kernel: torch.Tensor | None) -> np.ndarray:
    """One unit-range plane through the ensemble and back-projection (:func:`~zssr.bands.super_resolve_bounded`)."""
    device = next(net.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(plane))[None, None].to(device)
    with torch.no_grad():
        y = super_resolve_bounded(net, x, sf, ensemble=config.output_flip,
                                  back_projection_iters=config.back_projection_for(1)[0], kernel=kernel,
                                  output_pixels=config.inference_pixels)
    return y[0, 0].float().cpu().numpy()


def _apply_in_plane(net: ZSSRNet, vol: Volume, order: list[int], view: np.ndarray, intensity: IntensityMap,
                    sf: tuple[float, float], config: Config, kernel: torch.Tensor | None,
                    progress: PlaneProgress | None) -> tuple[np.ndarray, int]:
    h, w = int(view.shape[-2]), int(view.shape[-1])
    oh, ow = output_size((h, w), sf)[1]
    shape = list(vol.shape)
    shape[vol.axes.index("Y")], shape[vol.axes.index("X")] = oh, ow
    out = _allocate(tuple(shape), vol.data.dtype)
    out_view = np.transpose(out, order)
    indices = list(np.ndindex(*view.shape[:-2])) if view.ndim > 2 else [()]
    for done, idx in enumerate(indices):
        out_view[idx] = intensity.from_unit(_enlarge(net, intensity.to_unit(view[idx]), sf, config, kernel))
        if progress is not None:
            progress(done + 1, len(indices))
    return out, len(indices)


def _apply_through_plane(net: ZSSRNet, vol: Volume, order: list[int], view: np.ndarray, intensity: IntensityMap,
                         factor: float, config: Config, kernel: torch.Tensor | None,
                         progress: PlaneProgress | None) -> tuple[np.ndarray, int]:
    """The net on every ``A×Q`` and ``A×P`` plane of ``view`` (``lead…×A×P×Q``), the two results averaged."""
    a, p, q = (int(n) for n in view.shape[-3:])
    sf = (factor, 1.0)
    oa = output_size((a, q), sf)[1][0]
    letter = vol.axes[order[-3]]
    shape = list(vol.shape)
    shape[vol.axes.index(letter)] = oa
    out = _allocate(tuple(shape), vol.data.dtype)
    out_view = np.transpose(out, order)
    leads = list(np.ndindex(*view.shape[:-3])) if view.ndim > 3 else [()]
    total, done = len(leads) * (p + q), 0
    for lead in leads:
        volume, target = view[lead], out_view[lead]
        first = _allocate((oa, p, q), np.float32)  # the A×Q planes' result, until the A×P planes are done
        for j in range(p):
            first[:, j, :] = _enlarge(net, intensity.to_unit(volume[:, j, :]), sf, config, kernel)
            done += 1
            if progress is not None:
                progress(done, total)
        for k in range(q):
            second = _enlarge(net, intensity.to_unit(volume[:, :, k]), sf, config, kernel)
            target[:, :, k] = intensity.from_unit(0.5 * (first[:, :, k] + second))
            done += 1
            if progress is not None:
                progress(done, total)
    return out, total
