"""Numeric downscaling kernels: validate, load/save, align, apply, generate.

ZSSR makes each LR son by blurring the HR father with a downscaling kernel and
subsampling (paper §3, §4.2). With no kernel it uses MATLAB bicubic
(``zssr.resize.imresize``); with a numeric kernel (given, or estimated by
KernelGAN) it takes the path of this module, a port of the authors'
``numeric_kernel`` / ``kernel_shift`` (notes §6).

Convention:
    A kernel is a 2-D ``float64`` CPU tensor ``kh×kw`` that sums to 1, indexed
    ``(row, column)``. ``factor`` is always the SR factor ``sf ≥ 1`` (a number or
    a ``(vertical, horizontal)`` pair): ``factor=2`` halves each side. This is
    the reciprocal of ``imresize``'s ``scale``. Kernels are stored *unaligned*
    (centre of mass at the kernel centre, as files and generators give them) and
    aligned once with :func:`align_kernel` before :func:`downscale`, as the
    authors do at load time.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io
import scipy.ndimage
import scipy.signal
import torch
import torch.nn.functional as F

from .errors import ImageWriteError, KernelError, ScaleError, ShapeError
from .resize import output_size

__all__ = [
    "KernelRecipe",
    "align_kernel",
    "bicubic_kernel",
    "center_of_mass",
    "compose",
    "compose_x4",
    "downscale",
    "gaussian_kernel",
    "kernel_picture",
    "load_kernel",
    "random_gaussian_kernel",
    "save_kernel",
    "validate_kernel",
]

KernelRecipe = Literal["zssr", "div2krk"]

_KERNEL_SUFFIXES = (".mat", ".npy", ".txt", ".csv")
_RECIPES = ("zssr", "div2krk")

# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _as_array(kernel: object, name: str) -> np.ndarray:
    """Any numpy/torch/nested-sequence kernel as a float64 numpy array (a copy)."""
    if torch.is_tensor(kernel):
        if kernel.is_complex():
            raise KernelError(f"{name} must be real, got a complex tensor of dtype {kernel.dtype}")
        return kernel.detach().to("cpu", torch.float64).numpy().copy()
    try:
        arr = np.asarray(kernel)
    except (TypeError, ValueError) as exc:
        raise KernelError(f"{name} must be a 2-D array of numbers, got {type(kernel).__name__} ({exc})") from exc
    if arr.dtype.kind not in "biuf":
        raise KernelError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr.astype(np.float64, copy=True)


def _check_array(arr: np.ndarray, name: str) -> np.ndarray:
    """Validate a float64 array as a kernel and normalise it to sum 1."""
    if arr.ndim != 2:
        raise KernelError(f"{name} must be 2-D (kh×kw), got shape {arr.shape}")
    if arr.size == 0:
        raise KernelError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise KernelError(f"{name} must be finite, got {bad} NaN/inf tap(s) in a {arr.shape} kernel")
    total = float(arr.sum())
    if not total > 0:
        raise KernelError(f"{name} must sum to > 0 (it is normalised to sum 1), got sum {total:.6g}")
    return arr / total


def validate_kernel(kernel: torch.Tensor | np.ndarray, *, name: str = "kernel") -> torch.Tensor:
    """Check a kernel and return it as float64, normalised to sum 1.

    A downscaling kernel must preserve mean brightness, so it is rescaled to sum 1
    (the authors' charlie kernel sums to 0.9999, notes §10). Negative taps are
    allowed (charlie has some); only the sum must be positive.

    Args:
        kernel: numpy array, torch tensor (detached; any device) or nested sequence.
        name: what to call it in error messages (e.g. the file it came from).

    Returns:
        A new ``kh×kw`` float64 CPU tensor summing to 1.

    Raises:
        KernelError: not 2-D, empty, non-finite, or sum ≤ 0.

    Shape:
        ``kh×kw`` → ``kh×kw``.
    """
    return torch.from_numpy(_check_array(_as_array(kernel, name), name))


def _factor_pair(factor: float | Sequence[float], name: str = "factor", *, minimum: float = 1.0) -> tuple[float, float]:
    """A factor as a ``(vertical, horizontal)`` pair of finite floats ≥ ``minimum``."""
    if isinstance(factor, bool):
        raise ScaleError(f"{name} must be a number or a (vertical, horizontal) pair, got {factor!r}")
    if isinstance(factor, (int, float, np.integer, np.floating)):
        pair = (float(factor), float(factor))
    else:
        try:
            items = tuple(factor)  # type: ignore[arg-type]
            pair = (float(items[0]), float(items[1])) if len(items) == 2 else ()
        except (TypeError, ValueError):
            pair = ()
        if len(pair) != 2:
            raise ScaleError(f"{name} must be a number or a (vertical, horizontal) pair, got {factor!r}")
    for v in pair:
        if not math.isfinite(v) or v < minimum:
            raise ScaleError(f"{name} must be finite and ≥ {minimum:g} (an SR factor; 2 halves each side), got {factor!r}")
    return pair


def _integer_pair(factor: float | Sequence[float], name: str) -> tuple[int, int]:
    pair = _factor_pair(factor, name)
    if any(v != round(v) for v in pair):
        raise ScaleError(f"{name} must be a positive integer (or a pair of them) here, got {factor!r}")
    return int(pair[0]), int(pair[1])


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def _read_mat(path: Path) -> np.ndarray:
    try:
        contents = scipy.io.loadmat(str(path))
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5) files
        raise KernelError(f"kernel file {path} is a MATLAB v7.3 file; save it with -v7 or as .npy ({exc})") from exc
    except Exception as exc:  # scipy raises MatReadError, ValueError, IndexError… on foreign files
        raise KernelError(f"kernel file {path} could not be read as .mat: {exc!r}") from exc
    variables = {k: v for k, v in contents.items() if not k.startswith("__")}
    # The authors' files hold the variable `Kernel` (renamed from `ker` in Oct 2018, notes §6).
    if "Kernel" in variables:
        return np.asarray(variables["Kernel"])
    # MATLAB has no 1-D arrays (loadmat gives vectors and scalars as 1×n / 1×1), so
    # when several 2-D arrays are present, a single true matrix among them wins.
    numeric = [
        k for k, v in variables.items()
        if isinstance(v, np.ndarray) and v.ndim == 2 and v.size > 0 and v.dtype.kind in "biuf"
    ]
    matrices = [k for k in numeric if min(variables[k].shape) > 1]
    for candidates in (numeric, matrices):
        if len(candidates) == 1:
            return np.asarray(variables[candidates[0]])
    listing = ", ".join(f"{k} {getattr(v, 'shape', type(v).__name__)}" for k, v in variables.items()) or "none"
    raise KernelError(
        f"kernel file {path} must hold a variable 'Kernel' or exactly one 2-D numeric array; "
        f"its variables are: {listing}"
    )


def load_kernel(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read a kernel from ``.mat`` (variable ``Kernel``), ``.npy``, ``.txt`` or ``.csv``.

    ``.mat`` follows the authors' convention (``<stem>_<i>.mat`` with ``Kernel``,
    notes §6); a file without ``Kernel`` but with a single 2-D numeric array
    (e.g. the old ``ker`` name) is accepted too. Text files are read with
    ``numpy.loadtxt``, comma- or whitespace-separated.

    Returns:
        The validated kernel, float64, normalised to sum 1 (not yet aligned).

    Raises:
        KernelError: missing/unreadable file, unknown suffix, or an invalid kernel.

    Shape:
        → ``kh×kw``.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _KERNEL_SUFFIXES:
        raise KernelError(f"kernel file {p} must end in one of {', '.join(_KERNEL_SUFFIXES)}, got {suffix or 'no suffix'!r}")
    if not p.is_file():
        raise KernelError(f"kernel file {p} does not exist or is not a file")
    try:
        if suffix == ".mat":
            arr = _read_mat(p)
        elif suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            text = p.read_text()
            arr = np.loadtxt(text.splitlines(), delimiter="," if "," in text else None, ndmin=2)
    except KernelError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise KernelError(f"kernel file {p} could not be read: {exc}") from exc
    return validate_kernel(np.asarray(arr), name=f"kernel file {p}")


def _atomic_write(path: Path, write: Callable[[object], object]) -> None:
    """Write through a temp file in the same folder, then ``os.replace`` it in.

    Readers never see a half-written kernel, and an interrupted run leaves the old
    file intact.
    """
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_kernel(kernel: torch.Tensor | np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write a kernel as ``.mat`` (variable ``Kernel``), ``.npy``, ``.txt``, ``.csv`` or ``.png``.

    ``.mat`` is what the authors' ``run_ZSSR.py`` reads (notes §6); text is written
    with 17 significant digits so that it loads back bit-exact; ``.png`` is a
    picture (:func:`kernel_picture`), not loadable. The write is atomic.

    Raises:
        KernelError: an invalid kernel.
        ImageWriteError: an unsupported suffix or a failed write.

    Shape:
        ``kh×kw``.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _KERNEL_SUFFIXES + (".png",):
        raise ImageWriteError(f"kernel output {p} must end in .mat, .npy, .txt, .csv or .png, got {suffix or 'no suffix'!r}")
    k = validate_kernel(kernel).numpy()
    if suffix == ".png":
        kernel_picture(k, p)
        return

    def write(fh: object) -> None:
        if suffix == ".mat":
            scipy.io.savemat(fh, {"Kernel": k})
        elif suffix == ".npy":
            np.save(fh, k, allow_pickle=False)
        else:
            np.savetxt(fh, k, fmt="%.17g", delimiter="," if suffix == ".csv" else " ")
    try:
        _atomic_write(p, write)
    except OSError as exc:
        raise ImageWriteError(f"kernel output {p} could not be written: {exc}") from exc


def kernel_picture(kernel: torch.Tensor | np.ndarray, path: str | os.PathLike[str], *, title: str | None = None) -> None:
    """Save a PNG picture of a kernel with a colour bar (for reports and the CLI).

    Uses ``matplotlib.figure.Figure`` with the Agg canvas directly, so it touches
    no pyplot global state and works headless. The write is atomic.

    Raises:
        KernelError: an invalid kernel.
        ImageWriteError: a failed write.

    Shape:
        ``kh×kw``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = validate_kernel(kernel).numpy()
    p = Path(path)
    fig = Figure(figsize=(4.0, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(k, cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax)
    cy, cx = center_of_mass(k)
    ax.set_title(title if title is not None else f"{k.shape[0]}×{k.shape[1]}, centre of mass ({cy:.2f}, {cx:.2f})", fontsize=9)
    try:
        _atomic_write(p, lambda fh: fig.savefig(fh, format="png"))
    except OSError as exc:
        raise ImageWriteError(f"kernel picture {p} could not be written: {exc}") from exc


# ---------------------------------------------------------------------------
# alignment
# ---------------------------------------------------------------------------


def center_of_mass(kernel: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """The kernel's centre of mass ``(row, column)``, 0-based (as ``scipy.ndimage``).

    Raises:
        KernelError: an invalid kernel.

    Shape:
        ``kh×kw`` → 2 floats.
    """
    k = _check_array(_as_array(kernel, "kernel"), "kernel")
    rows = np.arange(k.shape[0], dtype=np.float64)
    cols = np.arange(k.shape[1], dtype=np.float64)
    return float(k.sum(axis=1) @ rows), float(k.sum(axis=0) @ cols)


def _aligned_target(shape: tuple[int, int], factor: tuple[float, float]) -> np.ndarray:
    return np.array([n // 2 + (f - 1.0) / 2.0 for n, f in zip(shape, factor)])


def align_kernel(kernel: torch.Tensor | np.ndarray, factor: float | Sequence[float]) -> torch.Tensor:
    """Shift a kernel so that :func:`downscale` samples the centre of each HR block.

    Why (port of the authors' ``kernel_shift``, notes §6): :func:`downscale`
    correlates with the kernel anchored at index ``⌊k/2⌋`` and keeps pixels
    ``0, sf, 2sf, …``; LR pixel ``j`` must however see HR block
    ``[sf·j, sf·j+sf−1]`` centred, as MATLAB ``imresize`` does. So the centre of
    mass is moved (per axis, 0-based) to ``⌊k/2⌋ + (sf − 1)/2``. This also fixes
    the kernel's ambiguous translation (an estimated kernel can be off-centre).

    The authors wrote ``⌊k/2⌋ + 0.5·(sf − k mod 2)``, which is right for odd
    sizes only; under Python 3's true division (``k/2`` not floored) it put every
    LR pixel ¼ LR pixel off, the artefacts of ZSSR issues #8/#20/#21 and PR #17.
    The rule used here matches ``imresize`` to > 78 dB for odd *and* even sizes.

    Steps (as the authors): zero-pad by ``⌈max|shift|⌉ + 1`` on all sides so the
    shifted mass stays inside, then a sub-pixel cubic-spline shift
    (``scipy.ndimage.shift``, order 3, mode ``'constant'``). Unlike the authors we
    renormalise to sum 1 afterwards: the spline shift changes the sum by ~1e-4
    for a half-pixel shift, and a kernel that does not sum to 1 would make sons
    darker or brighter than their fathers. Integer shifts are exact.

    Args:
        kernel: unaligned kernel (numpy or torch).
        factor: SR factor ``sf ≥ 1`` or ``(sf_y, sf_x)``.

    Returns:
        float64 tensor, larger than the input by ``2·(⌈max|shift|⌉ + 1)`` per axis.

    Raises:
        KernelError: an invalid kernel.
        ScaleError: a factor that is not finite and ≥ 1.

    Shape:
        ``kh×kw`` → ``(kh+2p)×(kw+2p)``.
    """
    sf = _factor_pair(factor)
    k = _check_array(_as_array(kernel, "kernel"), "kernel")
    current = np.array(center_of_mass(k))
    shift = _aligned_target(k.shape, sf) - current
    # The target moves with the padding (⌊(k+2p)/2⌋ = ⌊k/2⌋ + p), so the shift is
    # computed on the original size and applied after padding.
    pad = int(math.ceil(float(np.max(np.abs(shift))))) + 1
    padded = np.pad(k, pad, mode="constant")
    moved = scipy.ndimage.shift(padded, shift, order=3, mode="constant")
    return torch.from_numpy(_check_array(moved, "aligned kernel"))


# ---------------------------------------------------------------------------
# applying a kernel
# ---------------------------------------------------------------------------


def _symmetric_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices ``-before … n+after-1`` mirrored into ``[0, n)`` half-sample symmetrically.

    Period ``2n`` with the edge pixel repeated (scipy ``'reflect'``, MATLAB
    ``'symmetric'``); index arithmetic handles pads larger than the image, which
    ``F.pad(mode='reflect')`` (whole-sample, edge not repeated) does not.
    """
    idx = torch.arange(-before, n + after, device=device)
    idx = torch.remainder(idx, 2 * n)
    return torch.where(idx >= n, 2 * n - 1 - idx, idx)


def _sample_positions(n_in: int, factor: float, n_out: int) -> np.ndarray:
    # Authors' numeric_kernel: round(linspace(0, n − 1/s, n_out)) with s = 1/sf.
    # For n divisible by an integer sf this is 0, sf, 2sf, …; otherwise the grid
    # is stretched so its last sample is n − sf (a quirk kept for fidelity).
    pos = np.round(np.linspace(0.0, n_in - factor, n_out)).astype(np.int64)
    return np.clip(pos, 0, n_in - 1)


def _uniform_step(pos: np.ndarray) -> int | None:
    """The step if ``pos`` is ``0, s, 2s, …`` (so a strided conv can be used)."""
    if pos[0] != 0:
        return None
    if len(pos) == 1:
        return 1
    step = int(pos[1] - pos[0])
    if step >= 1 and np.array_equal(pos, np.arange(len(pos)) * step):
        return step
    return None


def downscale(
    image: torch.Tensor,
    kernel: torch.Tensor | np.ndarray,
    factor: float | Sequence[float],
    *,
    size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Blur with a numeric kernel and subsample: the authors' ``numeric_kernel`` (notes §6).

    Each channel is correlated with the 2-D kernel (anchored at ``⌊k/2⌋`` like
    ``scipy.ndimage.correlate``) with half-sample-symmetric boundaries, then rows
    ``round(linspace(0, H − sf_y, out_H))`` and likewise columns are kept. The
    kernel must already be aligned for ``factor`` (:func:`align_kernel`); this is
    not checked, because callers align once at load time, as the authors do, and
    this runs for every LR son.

    Args:
        image: float tensor ``N×C×H×W`` (float32/float64, any device).
        kernel: aligned 2-D kernel; cast to the image's dtype and device. Not
            renormalised; a torch kernel keeps its autograd graph.
        factor: SR factor ``sf ≥ 1`` or ``(sf_y, sf_x)``; non-integer allowed.
        size: output ``(H, W)``; default ``ceil(H/sf_y), ceil(W/sf_x)`` (as ``imresize``).

    Returns:
        The downscaled tensor, same dtype and device. Differentiable in ``image``
        (and in ``kernel`` when it is a tensor requiring grad).

    Raises:
        ShapeError: an image that is not a non-empty floating ``N×C×H×W`` tensor,
            or a kernel that is not a non-empty 2-D array.
        ScaleError: a factor that is not finite and ≥ 1, or a bad ``size``.

    Shape:
        ``N×C×H×W`` → ``N×C×out_H×out_W``.
    """
    if not torch.is_tensor(image) or not image.is_floating_point():
        got = f"a tensor of dtype {image.dtype}" if torch.is_tensor(image) else type(image).__name__
        raise ShapeError(f"image must be a floating-point torch tensor N×C×H×W, got {got}")
    if image.dim() != 4 or min(image.shape) == 0:
        raise ShapeError(f"image must have shape N×C×H×W with every dim ≥ 1, got {tuple(image.shape)}")
    sf = _factor_pair(factor)
    n, c, h, w = (int(v) for v in image.shape)
    _, out = output_size((h, w), (1.0 / sf[0], 1.0 / sf[1]), size)
    if torch.is_tensor(kernel):
        k = kernel.to(dtype=image.dtype, device=image.device)
    else:
        k = torch.as_tensor(np.asarray(kernel, dtype=np.float64), dtype=image.dtype, device=image.device)
    if k.dim() != 2 or k.numel() == 0:
        raise ShapeError(f"kernel must be a non-empty 2-D array kh×kw, got shape {tuple(k.shape)}")
    kh, kw = int(k.shape[0]), int(k.shape[1])

    # STEP 1 - symmetric padding so that output pixel i sees input i-⌊k/2⌋ … i+k-1-⌊k/2⌋.
    rows = _symmetric_index(h, kh // 2, kh - 1 - kh // 2, image.device)
    cols = _symmetric_index(w, kw // 2, kw - 1 - kw // 2, image.device)
    padded = image.index_select(2, rows).index_select(3, cols)

    # STEP 2 - depthwise correlation (conv2d is a correlation), only where it is sampled.
    pos_r = _sample_positions(h, sf[0], out[0])
    pos_c = _sample_positions(w, sf[1], out[1])
    step_r, step_c = _uniform_step(pos_r), _uniform_step(pos_c)
    weight = k.expand(c, 1, kh, kw)
    if step_r is not None and step_c is not None:
        # Regular grid (integer sf dividing the size): a strided conv computes only the kept pixels.
        padded = padded[:, :, : (out[0] - 1) * step_r + kh, : (out[1] - 1) * step_c + kw]
        return F.conv2d(padded, weight, stride=(step_r, step_c), groups=c)
    blurred = F.conv2d(padded, weight, groups=c)

    # STEP 3 - subsample at the authors' (possibly irregular) positions.
    blurred = blurred.index_select(2, torch.as_tensor(pos_r, device=image.device))
    return blurred.index_select(3, torch.as_tensor(pos_c, device=image.device))


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    # Keys (1981) cubic with a = -0.5: MATLAB's 'bicubic'.
    a = np.abs(x)
    return np.where(
        a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1.0, np.where(a < 2, -0.5 * a**3 + 2.5 * a**2 - 4.0 * a + 2.0, 0.0)
    )


def _bicubic_1d(f: int) -> np.ndarray:
    # imresize by 1/f maps 0-based LR pixel j to HR coordinate f·j + (f−1)/2 and
    # weighs HR pixel p by cubic((p − u)/f)/f for |p − u| < 2f (antialiasing
    # stretches the 4-wide cubic by f, notes §7). The offsets p − u are
    # half-integers for even f and integers for odd f, the same for every j.
    n = 4 * f if f % 2 == 0 else 4 * f - 1
    offsets = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    taps = _keys_cubic(offsets / f) / f
    return taps / taps.sum()


def bicubic_kernel(factor: int | Sequence[int], *, size: int | Sequence[int] | None = None) -> torch.Tensor:
    """MATLAB's antialiased bicubic downscaling as an explicit 2-D kernel.

    The outer product of the 1-D taps ``imresize(·, 1/f)`` applies to every
    output pixel (Keys a = −0.5, stretched by ``f``, normalised). It is returned
    *unaligned* (centre of mass at the kernel centre), so that
    ``downscale(x, align_kernel(bicubic_kernel(f), f), f)`` reproduces
    ``imresize(x, 1/f)`` (notes §6: the reference for the alignment rule).
    Sizes: ``4f`` taps for even ``f`` (8 at ×2, 16 at ×4), ``4f − 1`` for odd
    ``f`` (11 at ×3). Only integer factors have one kernel for all pixels.

    Args:
        factor: integer SR factor ``f ≥ 1`` or ``(f_y, f_x)``.
        size: pad with zeros to this size (int or ``(kh, kw)``), equally on both
            sides; an odd extra row/column goes to the bottom/right. Padding to
            odd size exercises the odd-size alignment path.

    Returns:
        float64 tensor summing to 1.

    Raises:
        ScaleError: a factor that is not a positive integer.
        KernelError: a ``size`` smaller than the taps.

    Shape:
        → ``kh×kw``.
    """
    fy, fx = _integer_pair(factor, "factor")
    k = np.outer(_bicubic_1d(fy), _bicubic_1d(fx))
    if size is not None:
        target = _size_pair(size, "size")
        extra = [t - n for t, n in zip(target, k.shape)]
        if min(extra) < 0:
            raise KernelError(f"size must be at least the bicubic support {k.shape} at factor {factor!r}, got {size!r}")
        k = np.pad(k, [(e // 2, e - e // 2) for e in extra])
    return torch.from_numpy(k / k.sum())


def _size_pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        pair = (int(size), int(size))
    else:
        try:
            items = tuple(size)  # type: ignore[arg-type]
        except TypeError:
            items = ()
        if len(items) != 2 or any(isinstance(v, bool) or int(v) != v for v in items):
            raise KernelError(f"{name} must be a positive integer or a (kh, kw) pair, got {size!r}")
        pair = (int(items[0]), int(items[1]))
    if min(pair) < 1:
        raise KernelError(f"{name} must be ≥ 1, got {size!r}")
    return pair


def gaussian_kernel(
    size: int | Sequence[int], sigma_y: float, sigma_x: float, theta: float = 0.0
) -> torch.Tensor:
    """An anisotropic Gaussian kernel, centred on the grid, normalised to sum 1.

    Covariance ``R·diag(σ_x², σ_y²)·Rᵀ`` (paper §4.2's random-kernel family): at
    ``theta = 0`` ``sigma_y`` spreads along rows (vertically) and ``sigma_x``
    along columns; ``theta`` (radians) turns the ``sigma_x`` axis counter-clockwise
    as the kernel is displayed (row 0 at the top). ``theta`` and ``theta + π``
    give the same kernel.

    Args:
        size: side (int) or ``(kh, kw)``; the centre is ``((kh−1)/2, (kw−1)/2)``.
        sigma_y, sigma_x: standard deviations in pixels, finite and > 0.
        theta: rotation in radians.

    Raises:
        KernelError: a bad size, sigma or theta.

    Shape:
        → ``kh×kw`` float64.
    """
    kh, kw = _size_pair(size, "size")
    for name, v in (("sigma_y", sigma_y), ("sigma_x", sigma_x)):
        if not (math.isfinite(float(v)) and float(v) > 0):
            raise KernelError(f"{name} must be finite and > 0, got {v!r}")
    if not math.isfinite(float(theta)):
        raise KernelError(f"theta must be finite (radians), got {theta!r}")
    y = np.arange(kh, dtype=np.float64)[:, None] - (kh - 1) / 2.0
    x = np.arange(kw, dtype=np.float64)[None, :] - (kw - 1) / 2.0
    c, s = math.cos(theta), math.sin(theta)
    along = x * c - y * s  # coordinate along the sigma_x axis, direction (cos θ, −sin θ) in (x, y-down)
    across = x * s + y * c
    k = np.exp(-0.5 * ((along / float(sigma_x)) ** 2 + (across / float(sigma_y)) ** 2))
    return torch.from_numpy(k / k.sum())


def _as_generator(generator: torch.Generator | int) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise KernelError(f"generator must be a torch.Generator or an int seed, got {type(generator).__name__}")


def random_gaussian_kernel(
    factor: float,
    *,
    generator: torch.Generator | int,
    recipe: KernelRecipe = "zssr",
    size: int | None = None,
) -> torch.Tensor:
    """A random anisotropic Gaussian downscaling kernel, drawn by a named recipe.

    Recipes (λ are covariance eigenvalues, i.e. variances in pixels²):

    * ``'zssr'`` (paper §4.2, Table 2's BSD100 random-kernel set): "random angle θ
      and random lengths λ1, λ2 in each axis", bounds depending on the SR factor
      ``s``. The formula itself was lost from the paper text we hold, so the
      numbers are our choice: θ ~ U[0, π), λ1, λ2 ~ U[0.35, s²] (σ from 0.59 px
      to ``s`` px, "reasonably sized"), side ``2·⌈3s⌉ + 1`` (13 at ×2, the size
      of the authors' and KernelGAN's kernels). Any ``s ≥ 1``.
    * ``'div2krk'`` (KernelGAN's DIV2KRK generator, anchors §2, public defaults):
      λ1, λ2 ~ U[0.175·2, 2.5·2] = U[0.35, 5], θ ~ U(−π, π), per-tap
      multiplicative noise ``1 + U(−0.4, 0.4)``, normalised, 11×11. ×4 kernels
      are the analytic composition of a ×2 kernel (:func:`compose_x4`, 31×31),
      as in DIV2KRK. Only ``s`` = 2 or 4.

    The Gaussian's mean sits at the grid centre (the unaligned form; align with
    :func:`align_kernel`, which places the centre of mass whatever the noise did).

    Args:
        factor: SR factor ``s``.
        generator: a ``torch.Generator`` (advanced) or an int seed.
        recipe: ``'zssr'`` or ``'div2krk'``.
        size: side of the sampled Gaussian (for ``'div2krk'`` ×4: of the ×2 kernel).

    Raises:
        ScaleError: a factor the recipe does not support.
        KernelError: an unknown recipe, a bad size or generator.

    Shape:
        → ``k×k`` float64.
    """
    if recipe not in _RECIPES:
        raise KernelError(f"recipe must be one of {_RECIPES}, got {recipe!r}")
    sy, s = _factor_pair(factor)
    if sy != s:
        raise ScaleError(f"factor must be one number for random kernels, got {factor!r}")
    gen = _as_generator(generator)
    if recipe == "div2krk":
        if s not in (2.0, 4.0):
            raise ScaleError(f"factor must be 2 or 4 for the 'div2krk' recipe (DIV2KRK has ×2 and ×4), got {factor!r}")
        side = 11 if size is None else _size_pair(size, "size")[0]
        lo, hi = 0.175 * 2.0, 2.5 * 2.0
        u = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
        lam1, lam2 = lo + u[0] * (hi - lo), lo + u[1] * (hi - lo)
        theta = -math.pi + u[2] * 2.0 * math.pi
        noise = 1.0 + (torch.rand(side, side, generator=gen, dtype=torch.float64) * 0.8 - 0.4)
        k2 = validate_kernel(gaussian_kernel(side, math.sqrt(lam2), math.sqrt(lam1), theta) * noise)
        return compose_x4(k2) if s == 4.0 else k2
    side = 2 * math.ceil(3.0 * s) + 1 if size is None else _size_pair(size, "size")[0]
    lo, hi = 0.35, max(0.35, s * s)
    u = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
    lam1, lam2 = lo + u[0] * (hi - lo), lo + u[1] * (hi - lo)
    theta = u[2] * math.pi
    return gaussian_kernel(side, math.sqrt(lam2), math.sqrt(lam1), theta)


def compose(
    kernel_a: torch.Tensor | np.ndarray,
    kernel_b: torch.Tensor | np.ndarray,
    factor_a: int | Sequence[int],
    *,
    size: int | Sequence[int] | None = None,
) -> torch.Tensor:
    """One kernel for two successive downscales: by ``factor_a`` with ``a``, then with ``b``.

    Correlating with ``a`` and keeping every ``f_a``-th pixel, then correlating with
    ``b``, equals correlating once with ``a ∗ dilate(b, f_a)`` (full convolution;
    ``b`` with ``f_a − 1`` zeros between taps) and keeping every ``f_a·f_b``-th
    pixel. For odd sizes the ``⌊k/2⌋`` anchors add up exactly, and centres of mass
    add as ``com(a) + f_a·com(b)``, so composing aligned kernels gives a kernel
    aligned for ``f_a·f_b``, and composing centred ones a centred one.

    Args:
        kernel_a: the first kernel.
        kernel_b: the second kernel.
        factor_a: the integer factor of the first downscale (or a pair).
        size: centre-crop the full support ``k_a + f_a·(k_b − 1)`` to this size
            (same parity; KernelGAN crops 37→25 for 13×13 ×2 kernels). Default:
            the full support, which loses nothing.

    Returns:
        float64 tensor normalised to sum 1.

    Raises:
        KernelError: invalid kernels or a bad ``size``.
        ScaleError: a non-integer ``factor_a``.

    Shape:
        ``ha×wa``, ``hb×wb`` → ``(ha+f(hb−1))×(wa+f(wb−1))`` or ``size``.
    """
    a = _check_array(_as_array(kernel_a, "kernel_a"), "kernel_a")
    b = _check_array(_as_array(kernel_b, "kernel_b"), "kernel_b")
    fy, fx = _integer_pair(factor_a, "factor_a")
    dilated = np.zeros((fy * (b.shape[0] - 1) + 1, fx * (b.shape[1] - 1) + 1))
    dilated[::fy, ::fx] = b
    full = scipy.signal.convolve2d(a, dilated, mode="full")
    if size is not None:
        target = _size_pair(size, "size")
        extra = [n - t for n, t in zip(full.shape, target)]
        if min(extra) < 0 or any(e % 2 for e in extra):
            raise KernelError(
                f"size must be at most the full support {full.shape} with the same parity, got {size!r}"
            )
        full = full[extra[0] // 2 : extra[0] // 2 + target[0], extra[1] // 2 : extra[1] // 2 + target[1]]
    return torch.from_numpy(_check_array(full, "composed kernel"))


def compose_x4(kernel_x2: torch.Tensor | np.ndarray, *, size: int | Sequence[int] | None = None) -> torch.Tensor:
    """KernelGAN's analytic ×4 kernel: two ×2 downscales with the same kernel.

    ``k4 = k2 ∗ dilate(k2, 2)`` (anchors §1: KernelGAN only learns ×2; DIV2KRK's
    ×4 kernels are built this way, 11×11 → 31×31). Default: full support
    ``3k − 2``; pass ``size=2k−1`` for KernelGAN's crop (37 → 25 at k = 13).

    Shape:
        ``k×k`` → ``(3k−2)×(3k−2)`` or ``size``.
    """
    return compose(kernel_x2, kernel_x2, 2, size=size)
