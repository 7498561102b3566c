"""What the fuzz tests (``tests/test_fuzz_*.py``) share: the harness, the checks every run must pass, strategies.

The harness runs ``zssr`` in-process through :func:`zssr.cli.main` (as ``tests/test_cli.py`` does)
with stdout/stderr captured and a hard time limit (``SIGALRM``), so a hang fails the example
instead of the suite. The checks are the README's promises for *any* input:

* the exit status is 0 (success) or 2 (bad input), 130 only where a test injects Ctrl-C;
* a failure prints exactly one line, ``zssr: error: …``, on stderr; no traceback anywhere;
* inputs are never changed; nothing half-written is left behind (no ``.tmp``/hidden files;
  every new file decodes completely); and a failure writes nothing at all (every path and
  input is checked before the first write).

Strategies draw images (format × mode × size × depth), kernel files (valid, invalid, garbage
bytes), scale/seed/device texts, ``--set`` overrides and byte mutations of valid files. What a
budget-bounded example may draw is bounded (scales ≤ :data:`MAX_FUZZ_SCALE`, tiny images,
≤ 3 iterations) so each runs in well under a second; the seven causes of issue #16 (huge
scales and kernels, out-of-range seeds, ``cuda:N``, Ctrl-C during temp creation, bench options)
also have their own regression tests at the bottom of ``test_fuzz_cli.py`` / ``test_fuzz_api.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import shlex
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import tifffile
from hypothesis import Phase
from hypothesis import strategies as st
from PIL import Image

import zssr.cli as cli
from zssr.batch import MANIFEST_NAME
from zssr.io import IMAGE_SUFFIXES, read_image
from zssr.kernels import load_kernel

#: Wall-clock limit of one in-process run (the Hypothesis deadline is the tighter, per-profile bound).
HARD_TIMEOUT_S = 60.0
#: The largest factor a budget-bounded example draws: a valid -s 64 is a legitimate (long) run, not a bug.
MAX_FUZZ_SCALE = 4.0
#: Options every budget-bounded ``zssr upscale`` example gets (overridable by what the example draws).
BUDGET = ("--quiet",)

#: Phases for the known-cause tests: a known failure needs no shrinking (minutes of work for nothing).
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)



# ----------------------------------------------------------------------------- running the command


class HardTimeout(BaseException):
    """Raised by the ``SIGALRM`` handler; a ``BaseException`` so no ``except Exception`` swallows it."""


@contextlib.contextmanager
def hard_timeout(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` of wall time (main thread, POSIX)."""

    def expire(signum: int, frame: object) -> None:
        raise HardTimeout(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Run:
    """One in-process ``zssr`` run: its arguments, exit status, captured streams and duration."""

    argv: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float

    def describe(self) -> str:
        """The command and what it printed, for assertion messages."""
        return f"zssr {shlex.join(self.argv)} -> {self.code} in {self.seconds:.2f} s\nstdout: {self.out!r}\nstderr: {self.err!r}"


def run_cli(argv: Sequence[str | Path], *, timeout: float = HARD_TIMEOUT_S) -> Run:
    """Run ``zssr argv`` in-process; anything escaping ``main`` (a traceback) or a hang fails the example."""
    args = tuple(str(a) for a in argv)
    out, err = io.StringIO(), io.StringIO()
    # Log records reach a user's terminal too (Python prints WARNING and above when no logging is
    # configured; pytest's own handler would hide them): they go to the captured stderr here.
    printed = logging.StreamHandler(err)
    printed.setLevel(logging.WARNING)
    root = logging.getLogger()
    start = time.perf_counter()
    try:
        root.addHandler(printed)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), hard_timeout(timeout):
            code = cli.main(list(args))
    except HardTimeout:
        raise AssertionError(f"zssr {shlex.join(args)} still running after {timeout:g} s (a hang)") from None
    except BaseException as exc:  # what main lets escape is a traceback for the user
        raise AssertionError(
            f"zssr {shlex.join(args)} raised {type(exc).__name__}: {exc} (a traceback, not an exit status)\n"
            f"stderr: {err.getvalue()!r}"
        ) from exc
    finally:
        root.removeHandler(printed)
    return Run(args, code, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def check_outcome(run: Run, *, codes: Sequence[int] = (0, 2)) -> None:
    """Exit status in ``codes``; a failure ends in exactly one ``zssr: error:`` line; no traceback; success warns only."""
    assert run.code in codes, f"exit status {run.code} not in {tuple(codes)}\n{run.describe()}"
    assert "Traceback" not in run.err and "Traceback" not in run.out, run.describe()
    lines = [line for line in run.err.splitlines() if line.strip()]
    if run.code == 0:
        assert all(line.startswith("zssr: warning: ") for line in lines), run.describe()
    elif run.code == 130:
        # A folder run first says where it stopped and how to resume (docs/BATCH.md).
        assert lines[-1:] == ["zssr: interrupted"], run.describe()
        assert all(line.startswith("zssr: batch stopped: ") for line in lines[:-1]), run.describe()
    else:
        # A folder run reports each failed image on its own ``zssr: failed:`` line and goes on
        # (docs/BATCH.md); the run itself then ends in exactly one ``zssr: error:`` line.
        per_image = [line for line in lines[:-1] if line.startswith("zssr: failed: ")]
        assert len(lines) == 1 + len(per_image), f"a failure must end in exactly one line on stderr\n{run.describe()}"
        assert lines[-1].startswith("zssr: error: "), run.describe()


# ----------------------------------------------------------------------------- the file system


def snapshot(root: Path) -> dict[Path, str]:
    """Every file under ``root`` → a digest of its bytes."""
    return {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def check_complete(path: Path) -> None:
    """A file written by ``zssr`` must be complete: it decodes by its kind."""
    name = path.name
    assert not name.endswith(".tmp") and not name.startswith("."), f"temporary file left behind: {path}"
    assert path.stat().st_size > 0, f"empty file left behind: {path}"
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        read_image(path)
    elif suffix in (".mat", ".npy"):
        load_kernel(path)
    elif suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))
    else:
        path.read_text(encoding="utf-8")


def check_files(
    root: Path, before: dict[Path, str], *, protected: Sequence[Path], failed: bool, may_write_on_failure: bool = False,
) -> None:
    """Inputs unchanged; every new or changed file complete; a failure writes nothing."""
    after = snapshot(root)
    for path in protected:
        if path in before:
            assert after.get(path) == before[path], f"input {path} was changed or removed"
    changed = sorted(p for p in after if before.get(p) != after[p])
    for path in changed:
        check_complete(path)
    if failed and not may_write_on_failure:
        # A folder run's manifest records the failures it reports (docs/BATCH.md): complete, and expected.
        written = [p for p in changed if p.name != MANIFEST_NAME]
        assert not written, f"a failed run wrote {[str(p.relative_to(root)) for p in written]}"


# ----------------------------------------------------------------------------- images


#: Pillow modes each format can hold (what a user may hand us), by format.
MODES = {
    "PNG": ("L", "LA", "RGB", "RGBA", "P", "1", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "BMP": ("L", "RGB", "P", "1"),
    "TIFF": ("L", "RGB", "RGBA", "CMYK", "I;16", "F", "1", "RGB;16", "pages"),
    "WEBP": ("RGB", "RGBA"),
}
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


@dataclass(frozen=True)
class ImageSpec:
    """An image file to fuzz with: format, Pillow mode, size and the seed of its pixels."""

    fmt: str
    mode: str
    height: int
    width: int
    seed: int
    out_of_range: bool = False  # float TIFFs only: values beyond [0, 1] (must be refused)

    @property
    def suffix(self) -> str:
        """The usual file suffix of the format."""
        return SUFFIX[self.fmt]

    def pixels(self) -> np.ndarray:
        """Smooth-ish random content in [0, 1], ``H×W×bands`` (gradients plus noise: edges for the estimators)."""
        rng = np.random.default_rng(self.seed)
        bands = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 3, "1": 1, "I;16": 1, "CMYK": 3, "F": 1,
                 "RGB;16": 3, "pages": 3}[self.mode]
        y, x = np.mgrid[0 : self.height, 0 : self.width] / max(self.height, self.width, 1)
        base = 0.5 + 0.4 * np.sin(2 * np.pi * (rng.uniform(0.5, 2) * y + rng.uniform(0.5, 2) * x))
        planes = [np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1) for _ in range(bands)]
        return np.stack(planes, axis=-1)

    def encode(self) -> bytes:
        """The file's bytes."""
        p = self.pixels()
        u8 = np.round(p * 255).astype(np.uint8)
        if self.mode in ("RGB;16", "pages"):  # 16-bit RGB (Pillow cannot write it) and a two-page TIFF
            buffer = io.BytesIO()
            with tifffile.TiffWriter(buffer) as tif:
                tif.write(np.round(p * 65535).astype(np.uint16) if self.mode == "RGB;16" else u8, photometric="rgb")
                if self.mode == "pages":
                    tif.write(u8[::-1], photometric="rgb")
            return buffer.getvalue()
        if self.mode == "I;16":
            image = Image.fromarray(np.round(p[..., 0] * 65535).astype(np.uint16))
        elif self.mode == "F":
            image = Image.fromarray(p[..., 0].astype(np.float32) * (3.0 if self.out_of_range else 1.0))
        elif self.mode == "1":
            image = Image.fromarray(p[..., 0] > 0.5)
        elif self.mode in ("L", "LA", "RGB", "RGBA"):
            image = Image.fromarray(u8[..., 0] if self.mode == "L" else u8)
        else:  # P and CMYK: converted from RGB, as a user's editor would
            image = Image.fromarray(u8)
            image = image.convert(self.mode)
        buffer = io.BytesIO()
        image.save(buffer, format=self.fmt, **({"quality": 90} if self.fmt == "JPEG" else {}))
        return buffer.getvalue()

    def write(self, folder: Path, stem: str = "in") -> Path:
        """Write the image as ``folder/stem<suffix>`` and return the path."""
        path = folder / f"{stem}{self.suffix}"
        path.write_bytes(self.encode())
        return path


@st.composite
def image_specs(
    draw: Any, *, min_side: int = 1, max_side: int = 24, formats: Sequence[str] = tuple(MODES), valid: bool = False,
) -> ImageSpec:
    """An image file of any format and mode; sides mostly at least 8 (ZSSR's minimum), sometimes below.

    ``valid``: only images every command accepts (no float TIFF with values outside [0, 1]).
    """
    fmt = draw(st.sampled_from(sorted(formats)))
    mode = draw(st.sampled_from(MODES[fmt]))
    side = st.integers(max(min_side, 8), max(max_side, 8)) if min_side <= 8 else st.integers(min_side, max_side)
    tiny = st.integers(min_side, max(min_side, 7))
    height = draw(st.one_of(side, side, side, tiny))
    width = draw(st.one_of(side, side, side, tiny))
    out_of_range = mode == "F" and not valid and draw(st.booleans())
    return ImageSpec(fmt, mode, height, width, draw(st.integers(0, 2**16)), out_of_range)


# ----------------------------------------------------------------------------- kernels


@dataclass(frozen=True)
class KernelFile:
    """A kernel file to fuzz with: its suffix and bytes, and whether a valid kernel is in it."""

    suffix: str
    data: bytes
    valid: bool

    def write(self, folder: Path, stem: str = "kernel") -> Path:
        """Write the file as ``folder/stem<suffix>`` and return the path."""
        path = folder / f"{stem}{self.suffix}"
        path.write_bytes(self.data)
        return path


def encode_kernel(array: np.ndarray, suffix: str) -> bytes:
    """``array`` in a kernel file format (.mat with ``Kernel``, .npy, comma .csv, space .txt)."""
    buffer = io.BytesIO()
    if suffix == ".npy":
        np.save(buffer, array, allow_pickle=False)
    elif suffix == ".mat":
        scipy.io.savemat(buffer, {"Kernel": array})
    else:
        text = io.StringIO()
        table = np.atleast_2d(array) if array.ndim < 2 else array.reshape(array.shape[0], -1 if array.size else 0)
        np.savetxt(text, table, delimiter="," if suffix == ".csv" else " ")
        buffer.write(text.getvalue().encode())
    return buffer.getvalue()


def valid_kernel_arrays(max_side: int = 9) -> st.SearchStrategy[np.ndarray]:
    """Valid kernels: ``h×w`` positive taps, sides 1…max_side."""
    side = st.integers(1, max_side)
    return st.builds(lambda h, w, seed: np.random.default_rng(seed).uniform(0.0, 1.0, (h, w)) + 1e-3,
                     side, side, st.integers(0, 2**16))


def kernel_arrays(max_side: int = 9) -> st.SearchStrategy[np.ndarray]:
    """Kernels as arrays: valid ones (positive sum) and every malformed kind (NaN, inf, sum ≤ 0, 1-D, 3-D, empty)."""
    valid = valid_kernel_arrays(max_side)
    special = st.sampled_from([
        np.zeros((3, 3)), -np.ones((3, 3)), np.full((3, 3), np.nan), np.array([[1.0, np.inf], [1.0, 1.0]]),
        np.ones(5), np.ones((2, 2, 2)), np.zeros((0, 3)), np.zeros((0, 0)), np.array([[1.0, -1.0]]),
        np.array([[1e308, 1e308]]), np.array([[5e-324]]), np.ones((1, 1)),
    ])
    return st.one_of(valid, valid, special)


def valid_kernel_files(max_side: int = 9) -> st.SearchStrategy[KernelFile]:
    """A valid kernel (positive taps) in any kernel file format."""
    return st.builds(lambda a, suffix: KernelFile(suffix, encode_kernel(a, suffix), True), valid_kernel_arrays(max_side),
                     st.sampled_from([".mat", ".npy", ".txt", ".csv"]))


@st.composite
def kernel_files(draw: Any, *, max_side: int = 9) -> KernelFile:
    """A kernel file: a drawn array in a kernel format, or garbage (random bytes, text, a pickle, an image)."""
    suffix = draw(st.sampled_from([".mat", ".npy", ".txt", ".csv"]))
    kind = draw(st.sampled_from(["array", "array", "array", "bytes", "text", "empty", "pickle", "image", "mat-no-kernel"]))
    if kind == "array":
        array = draw(kernel_arrays(max_side))
        valid = array.ndim == 2 and array.size > 0 and bool(np.isfinite(array).all()) and array.sum() > 0 \
            and np.isfinite(array.sum())
        return KernelFile(suffix, encode_kernel(array, suffix), valid)
    if kind == "bytes":
        return KernelFile(suffix, draw(st.binary(min_size=1, max_size=256)), False)
    if kind == "text":
        return KernelFile(suffix, draw(st.text(max_size=64)).encode("utf-8", "surrogatepass"), False)
    if kind == "empty":
        return KernelFile(suffix, b"", False)
    if kind == "pickle":
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return KernelFile(suffix, buffer.getvalue(), False)
    if kind == "image":
        return KernelFile(suffix, ImageSpec("PNG", "L", 5, 5, 0).encode(), False)
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"a": np.ones((3, 3)), "b": np.ones((2, 2))})
    return KernelFile(".mat", buffer.getvalue(), False)


# ----------------------------------------------------------------------------- command-line texts


def _format_number(value: float, style: str) -> str:
    return {"g": f"{value:g}", "repr": repr(value), "fixed": f"{value:.3f}", "int": str(int(value)),
            "spaced": f" {value:g} ", "exp": f"{value:e}"}[style]


def _number_text(low: float, high: float) -> st.SearchStrategy[str]:
    styles = st.sampled_from(["g", "repr", "fixed", "int", "spaced", "exp"])
    return st.builds(_format_number, st.floats(low, high, allow_nan=False), styles)


#: Texts that are never a scale (or factor) by any rule: what users mistype.
BAD_SCALE_TEXTS = [
    "0", "-2", "-0", "nan", "NaN", "inf", "-inf", "", " ", "abc", "2x", "x2", "1x2x3", "0.5", "1e-300", "0x2",
    "2,,3", ",", "2;3", "0.999", "2 x 2", "--", "2e", "½", "True", "None", "[2]", "(2, 2)", "1e400", "-1e400",
]


def good_factor_texts(*, low: float = 1.0, high: float = MAX_FUZZ_SCALE) -> st.SearchStrategy[str]:
    """One valid factor in [low, high], in any spelling."""
    return _number_text(low, high)


def good_scale_texts(*, low: float = 1.0, high: float = MAX_FUZZ_SCALE) -> st.SearchStrategy[str]:
    """Valid ``-s`` values: a factor, a ``VxH`` pair or a list of increasing steps, in [low, high]."""
    factor = _number_text(low, high)
    pair = st.builds(lambda a, b, sep: f"{a}{sep}{b}", factor, factor, st.sampled_from(["x", "X", " x "]))
    steps = st.builds(lambda a, b: ",".join(sorted((a, b), key=float)), _number_text(low, high).map(str.strip),
                      _number_text(low, high).map(str.strip))
    return st.one_of(factor, factor, pair, steps).filter(affordable_scale)


def scale_texts(*, low: float = 1.0, high: float = MAX_FUZZ_SCALE) -> st.SearchStrategy[str]:
    """Values for ``-s``: factors and pairs and step lists in [low, high], and garbage of every kind."""
    factor = _number_text(low, high)
    pair = st.builds(lambda a, b, sep: f"{a}{sep}{b}", factor, factor, st.sampled_from(["x", "X", " x "]))
    steps = st.builds(lambda a, b: ",".join(sorted((a, b), key=float)), _number_text(low, high).map(str.strip),
                      _number_text(low, high).map(str.strip))
    garbage = st.one_of(st.sampled_from(BAD_SCALE_TEXTS), st.text(max_size=8))
    return st.one_of(factor, factor, pair, steps, garbage).filter(affordable_scale)


def _scale_numbers(text: str) -> list[float]:
    """Every number a scale text could be read as (best effort, for the budget filter)."""
    numbers = []
    for part in str(text).replace("X", "x").replace(",", "x").split("x"):
        try:
            numbers.append(float(part))
        except ValueError:
            pass
    return numbers


def affordable_scale(text: str, high: float = MAX_FUZZ_SCALE) -> bool:
    """False for valid-looking factors above ``high`` (costly runs, or cause 1): drawn by their own test."""
    return all(not (math.isfinite(v) and v > high) for v in _scale_numbers(text))


def good_seed_texts() -> st.SearchStrategy[str]:
    """Valid ``--seed`` values: integers in [0, 2**63)."""
    return st.one_of(st.integers(0, 9), st.integers(0, 2**63 - 1)).map(str)


def seed_texts() -> st.SearchStrategy[str]:
    """Values for ``--seed``: integers in [0, 2**63), and non-integers and integers outside it (refused up front)."""
    good = st.integers(0, 2**63 - 1).map(str)
    bad = st.sampled_from(["x", "1.5", "", "0x10", "1e3", "nan", " ", "٣"])
    out_of_range = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)).map(str)  # cause 2
    return st.one_of(good, good, bad, out_of_range)


def device_texts() -> st.SearchStrategy[str]:
    """Values for ``--device``, ``cuda:N`` (cause 3) included: without a GPU every CUDA device is refused up front."""
    named = st.sampled_from(["cpu", "auto", "cuda", "mps", "CPU", "gpu", "", "cpu:0", "meta", "xla", "vulkan", "cuda ",
                             "cuda:0", "cuda:9", "cuda:-1", "cuda:x"])
    return st.one_of(named, named, st.text(max_size=8))


# ----------------------------------------------------------------------------- --set FIELD=VALUE


#: Config fields whose value sets the run's cost, with the bounded values a budget example may draw.
COSTLY_FIELDS: dict[str, st.SearchStrategy[str]] = {
    # small, or far too large (refused up front: a network over 2**26 weights)
    "width": st.one_of(st.integers(-2, 16), st.sampled_from([10**5, 10**8, 2**40])).map(str),
    "depth": st.one_of(st.integers(-1, 5), st.sampled_from([10**4, 10**6])).map(str),
    "crop_size": st.integers(-1, 40).map(str),
    "max_iterations": st.integers(-1, 3).map(str),
    "min_iterations": st.integers(-1, 3).map(str),
    "back_projection_iters": st.lists(st.integers(-1, 3), min_size=0, max_size=3).map(lambda v: ",".join(map(str, v))),
    "gradual_pattern": st.lists(
        st.tuples(st.sampled_from([0, 0.5, 1, 1.5, -1]), st.sampled_from([0, 0.5, 1])), min_size=0, max_size=3,
    ).map(lambda v: ",".join(f"{a}x{b}" for a, b in v)),
}


def _float_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.floats(-2, 2).map(repr),
        st.sampled_from(["1e300", "-1e300", "1e-300", "0", "nan", "inf", "x", "", "1,2"]),
    )


def _unit(low: float, high: float) -> st.SearchStrategy[str]:
    return st.floats(low, high).map(lambda v: f"{v:.6g}")


_BOOL = st.sampled_from(["true", "false", "yes", "no", "on", "off", "1", "0", "True"])

#: Values each Config field accepts (within the budget): what a user who read the docs would type.
GOOD_SET: dict[str, st.SearchStrategy[str]] = {
    "width": st.integers(1, 16).map(str),
    "depth": st.integers(2, 5).map(str),
    "init_variance": _unit(1e-4, 1.0),
    "learn_residual": _BOOL,
    "crop_size": st.integers(8, 40).map(str),
    "noise_std": _unit(0.0, 0.1),
    "augment_as_is_probability": _unit(0.0, 0.5),
    "augment_no_interpolate_probability": _unit(0.0, 0.5),
    "augment_min_scale": _unit(0.1, 1.0),
    "augment_scale_diff_sigma": _unit(0.0, 1.0),
    "augment_shear_sigma": _unit(0.0, 1.0),
    "allow_rotation": _BOOL,
    "legacy_crops": _BOOL,
    "learning_rate": _unit(1e-5, 1e-2),
    "adam_betas": st.builds(lambda a, b: f"{a:.3g},{b:.4g}", st.floats(0, 0.99), st.floats(0, 0.999)),
    "adam_eps": _unit(1e-10, 1e-6),
    "max_iterations": st.integers(1, 3).map(str),
    "min_iterations": st.integers(0, 3).map(str),
    "min_learning_rate": _unit(1e-7, 1e-4),
    "lr_change_ratio": _unit(1.1, 3.0),
    "lr_check_every": st.integers(1, 60).map(str),
    "lr_slope_range": st.integers(3, 300).map(str),
    "test_every": st.integers(1, 50).map(str),
    "legacy_covariance": _BOOL,
    "reinit_each_step": _BOOL,
    "output_flip": _BOOL,
    "back_projection_iters": st.lists(st.integers(0, 3), min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
    "gradual_pattern": st.sampled_from(["1x1", "0.5x0.5,1x1", "0x0.5,0.5x0,1x1", "((0.5, 0.5), (1, 1))"]),
    "name": st.text(max_size=8),
}


def good_set_items() -> st.SearchStrategy[str]:
    """One valid ``--set FIELD=VALUE`` within the budget."""
    return st.one_of(*(st.builds(lambda n, v: f"{n}={v}", st.just(name), value) for name, value in GOOD_SET.items()))


def set_items() -> st.SearchStrategy[str]:
    """One ``--set FIELD=VALUE``: any field (or an unknown one), values of every type, costly fields bounded."""
    import dataclasses
    import typing

    from zssr.config import Config

    hints = typing.get_type_hints(Config)
    strategies = []
    for f in dataclasses.fields(Config):
        if f.name in COSTLY_FIELDS:
            value = COSTLY_FIELDS[f.name]
        elif hints[f.name] is float:
            value = _float_text()
        elif hints[f.name] is bool:
            value = st.sampled_from(["true", "false", "yes", "0", "maybe", ""])
        elif hints[f.name] is int:
            value = st.one_of(st.integers(-3, 300).map(str), st.sampled_from(["x", "1.5", ""]))
        else:
            value = st.one_of(_float_text(), st.text(max_size=8))
        strategies.append(st.builds(lambda n, v: f"{n}={v}", st.just(f.name), value))
    garbage = st.one_of(st.text(max_size=12), st.sampled_from(["=", "nope=1", "width", "=3", "WIDTH=8", "max-iterations=2"]))
    return st.one_of(*strategies, garbage)


# ----------------------------------------------------------------------------- byte mutations


@st.composite
def mutations(draw: Any, base: bytes, *, donors: Sequence[bytes] = ()) -> bytes:
    """``base`` with 1–4 edits: bit flips, byte sets, truncation, insertions, deletions, splices from ``donors``."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "flip", "set", "truncate", "insert", "delete", "splice", "duplicate"]))
        n = len(data)
        at = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "splice" and donors:
            donor = draw(st.sampled_from(list(donors)))
            start = draw(st.integers(0, max(len(donor) - 1, 0)))
            data[at : at + draw(st.integers(0, 64))] = donor[start : start + draw(st.integers(1, 256))]
        elif op == "duplicate" and n:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def fresh_root() -> contextlib.AbstractContextManager[str]:
    """A temporary folder per example (pytest's ``tmp_path`` is per test, not per example)."""
    import tempfile

    return tempfile.TemporaryDirectory(prefix="zssr-fuzz-")
