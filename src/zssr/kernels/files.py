"""Kernel files: the authors' ``.mat`` (variable ``Kernel``), ``.npy``, text, and pictures."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import scipy.io
import scipy.ndimage
import scipy.signal
import torch

from zssr._atomic import atomic_write, one_line
from zssr.errors import ImageWriteError, KernelError
from zssr.kernels.apply import center_of_mass
from zssr.kernels.validate import MAX_SIDE, validate_kernel

__all__ = ["KERNEL_SUFFIXES", "kernel_picture", "load_kernel", "save_kernel"]

KERNEL_SUFFIXES = (".mat", ".npy", ".txt", ".csv")


#: Reads a .mat file in a child process and sends its variables back as an .npz (numbers only).
_MAT_READER = """
import io, sys
import numpy as np, scipy.io
try:
    contents = scipy.io.loadmat(sys.argv[1])
except NotImplementedError as exc:
    sys.stderr.write("v7.3: " + " ".join(str(exc).split()))
    sys.exit(3)
except Exception as exc:
    sys.stderr.write(" ".join(repr(exc).split()))
    sys.exit(4)
arrays = {}
for name, value in contents.items():
    if name.startswith("__"):
        continue
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        arrays["v_" + name] = value
    else:
        arrays["o_" + name] = np.array(str(getattr(value, "shape", type(value).__name__)))
buffer = io.BytesIO()
np.savez(buffer, **arrays)
sys.stdout.buffer.write(buffer.getvalue())
"""


def _loadmat_isolated(path: Path) -> dict[str, Any]:
    """``scipy.io.loadmat`` in a child process, whose crash is an error rather than ours.

    On some damaged files scipy's reader crashes the whole process (a segmentation fault
    found by the fuzzer, benchmarks/results/fuzz_long.md), which no ``except`` can catch.
    Numeric arrays come back as themselves, anything else as its shape.
    """
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _MAT_READER, str(path)], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired as exc:
        raise KernelError(f"kernel file {path} could not be read as .mat: the reader took over 2 minutes") from exc
    if done.returncode == 3:
        raise KernelError(f"kernel file {path} is a MATLAB v7.3 file; save it with -v7 or as .npy "
                          f"({done.stderr.decode(errors='replace').removeprefix('v7.3: ')})")
    if done.returncode != 0:
        why = one_line(done.stderr.decode(errors="replace")) if done.returncode > 0 else (
            f"the reader crashed (signal {-done.returncode}): the file is damaged")
        raise KernelError(f"kernel file {path} could not be read as .mat: {why or 'unknown error'}")
    with np.load(io.BytesIO(done.stdout), allow_pickle=False) as archive:
        return {name[2:]: archive[name] if name.startswith("v_") else _Other(str(archive[name]))
                for name in archive.files}


class _Other:
    """A .mat variable that is not a numeric array (a cell, a struct, text): only its shape is kept."""

    def __init__(self, shape: str) -> None:
        self.shape = shape


def _read_mat(path: Path) -> np.ndarray:
    contents = _loadmat_isolated(path)
    variables = {k: v for k, v in contents.items() if not k.startswith("__")}
    # The authors' files hold the variable `Kernel` (renamed from `ker` in Oct 2018, docs/authors_code.md §6).
    if "Kernel" in variables:
        if isinstance(variables["Kernel"], _Other):
            raise KernelError(f"kernel file {path}: its variable 'Kernel' is not a numeric array "
                              f"(shape {variables['Kernel'].shape})")
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


_NPY_MAGIC = b"\x93NUMPY"


def _read_npy(path: Path) -> np.ndarray:
    """A numeric ``.npy`` array; a file that is not one says so (not numpy's advice about pickles)."""
    with path.open("rb") as handle:
        head = handle.read(len(_NPY_MAGIC))
    if head != _NPY_MAGIC:
        raise KernelError(f"kernel file {path} is not a .npy file (it does not start with the NumPy header)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise KernelError(
                f"kernel file {path} holds Python objects, not numbers (object arrays are never loaded: "
                "they could run code); save a numeric 2-D array with numpy.save"
            ) from exc
        raise KernelError(f"kernel file {path} could not be read as .npy (damaged or unsupported): {one_line(exc)}") from exc
    except (MemoryError, OSError):
        raise
    except Exception as exc:  # a corrupt header: SyntaxError, tokenize.TokenError, EOFError, …
        raise KernelError(
            f"kernel file {path} could not be read as .npy (damaged): {one_line(exc) or type(exc).__name__}"
        ) from exc


def load_kernel(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read a kernel from ``.mat`` (variable ``Kernel``), ``.npy``, ``.txt`` or ``.csv``.

    ``.mat`` follows the authors' convention (``<stem>_<i>.mat`` with ``Kernel``,
    docs/authors_code.md §6); a file without ``Kernel`` but with a single 2-D numeric array
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
    if suffix not in KERNEL_SUFFIXES:
        raise KernelError(f"kernel file {p} must end in one of {', '.join(KERNEL_SUFFIXES)}, got {suffix or 'no suffix'!r}")
    if not p.is_file():
        if p.exists():
            raise KernelError(f"kernel file {p} is not a regular file")
        from zssr.io import missing_reason

        raise KernelError(f"kernel file {p} {missing_reason(p)}")
    try:
        if suffix == ".mat":
            arr = _read_mat(p)
        elif suffix == ".npy":
            arr = _read_npy(p)
        else:
            text = p.read_text()
            arr = np.loadtxt(text.splitlines(), delimiter="," if "," in text else None, ndmin=2)
    except KernelError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, MemoryError) as exc:
        raise KernelError(f"kernel file {p} could not be read: {one_line(exc) or type(exc).__name__}") from exc
    arr = np.asarray(arr)
    if arr.ndim == 2 and max(arr.shape) > MAX_SIDE:
        raise KernelError(f"kernel file {p} is {arr.shape[0]}×{arr.shape[1]}; a kernel has at most {MAX_SIDE} taps per "
                          "side (and, to be used, at most 16·⌈factor⌉ + 1 and the input's size: docs/LIMITS.md)")
    return validate_kernel(arr, name=f"kernel file {p}")


def save_kernel(kernel: torch.Tensor | np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write a kernel as ``.mat`` (variable ``Kernel``), ``.npy``, ``.txt``, ``.csv`` or ``.png``.

    ``.mat`` is what the authors' ``run_ZSSR.py`` reads (docs/authors_code.md §6); text is written
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
    if suffix not in KERNEL_SUFFIXES + (".png",):
        raise ImageWriteError(f"kernel output {p} must end in .mat, .npy, .txt, .csv or .png, got {suffix or 'no suffix'!r}")
    k = validate_kernel(kernel).numpy()
    if suffix == ".png":
        kernel_picture(k, p)
        return

    def write(fh: BinaryIO) -> None:
        if suffix == ".mat":
            scipy.io.savemat(fh, {"Kernel": k})
        elif suffix == ".npy":
            np.save(fh, k, allow_pickle=False)
        else:
            np.savetxt(fh, k, fmt="%.17g", delimiter="," if suffix == ".csv" else " ")

    atomic_write(p, write, what="kernel output")


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
    atomic_write(p, lambda fh: fig.savefig(fh, format="png"), what="kernel picture")
