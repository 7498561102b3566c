"""What every ``zssr`` subcommand shares: the one-line error parser, exit statuses, common options and ``--set``.

Errors of any kind become one ``zssr: error: …`` line and an exit status here, so that each
subcommand only raises the typed errors of :mod:`zssr.errors`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn

import torch

from .._atomic import one_line, say
from .._validate import scale_pair, seed_value
from ..config import field_value
from ..errors import ConfigError, ScaleError, ZSSRError
from ..pipeline import TqdmProgress

#: Exit status for bad input (argparse's own convention) and for Ctrl-C (128 + SIGINT).
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEVICE_HELP = "auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps"


class UsageError(Exception):
    """An argparse error, re-raised so that ``main`` prints it as one line like every other error."""


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (``zssr: error: …``), not usage + message."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of exiting, so every usage error becomes one line and exit code 2."""
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------- errors and exit statuses


def exit_status(command: Callable[[], int]) -> int:
    """Run ``command`` and turn its outcome into the exit status, every error printed as one line.

    Bad input of any kind (``UsageError``, ``ZSSRError``, ``OSError``) exits with
    :data:`EXIT_USAGE`, Ctrl-C with :data:`EXIT_INTERRUPTED`, with no traceback.
    """
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning  # restored on exit by catch_warnings
            return int(command() or 0)
    except SystemExit as exc:  # --help, --version, or a handler that exits
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        say(f"zssr: error: {exc.code}")
        return 1
    except (UsageError, ZSSRError, OSError) as exc:
        say(f"zssr: error: {exc}")
        return EXIT_USAGE
    except torch.cuda.OutOfMemoryError as exc:
        say(f"zssr: error: out of GPU memory ({one_line(exc).split('.')[0]}); try --device cpu")
        return 1
    except KeyboardInterrupt:
        print("\nzssr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None,
) -> None:
    """Warnings as one line too (not the file/line/source block Python prints by default)."""
    say(f"zssr: warning: {message}")


# ----------------------------------------------------------------------------- common options


def add_outputs(p: argparse.ArgumentParser) -> None:
    """Add ``-o/--output`` and ``--out-dir``, exactly one required."""
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("-o", "--output", metavar="OUT", type=partial(output_file, hint="; for a folder use --out-dir"),
                       help="output file (one input only); its suffix picks the format")
    group.add_argument("--out-dir", metavar="DIR", help="output folder (created if needed); input file names are kept")


def output_file(text: str, hint: str = "") -> str:
    """An ``-o`` file name; one ending in a path separator (``out.png/``) names a folder and is refused.

    Why: ``Path("out.png/")`` drops the slash, so the run wrote the file ``out.png`` where the
    user had asked for a folder (argparse turns the error into ``argument -o/--output: …``).
    """
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    if text.endswith(seps) or os.path.basename(text) in (".", ".."):
        raise argparse.ArgumentTypeError(f"{text!r} names a folder, not a file (it ends in a path separator, '.' or "
                                         f"'..'){hint}")
    return text


def add_run_options(p: argparse.ArgumentParser, *, seed_help: str = "seed (default 0)") -> None:
    """``--seed``, ``--device`` and ``-q``: shared by every command that trains something."""
    p.add_argument("--seed", type=seed_argument, default=0, metavar="N", help=seed_help)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def seed_argument(text: str) -> int:
    """``--seed``: an integer in ``[0, 2**63)`` (argparse turns the error into ``argument --seed: …``)."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {text!r}") from None
    try:
        return seed_value(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("seed ")) from None


def progress_factory(quiet: bool) -> Callable[..., Any] | None:
    """A tqdm progress factory for the pipeline on stderr, or ``None`` when ``--quiet``."""
    return None if quiet else partial(TqdmProgress, file=sys.stderr, leave=False)


def parse_factor_pair(text: str, name: str) -> tuple[float, float]:
    """``"0.5"`` or ``"0.5x0.25"`` (vertical x horizontal) as two finite positive floats."""
    fields = str(text).strip().lower().split("x")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2:
        raise ScaleError(f"{name} must be a number or VERTICALxHORIZONTAL (e.g. 0.5 or 0.5x0.25), got {text!r}")
    return scale_pair(values, name)


def parse_size(text: str) -> tuple[int, int]:
    """``HEIGHTxWIDTH`` as two positive integers (the ``--size`` option)."""
    fields = str(text).strip().lower().split("x")
    try:
        values = [int(f) for f in fields]
    except ValueError:
        values = []
    if len(values) != 2 or min(values) < 1:
        raise ScaleError(f"--size must be HEIGHTxWIDTH in pixels, both >= 1 (e.g. 256x320), got {text!r}")
    return values[0], values[1]


# ----------------------------------------------------------------------------- --set FIELD=VALUE


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``FIELD=VALUE`` into a :class:`~zssr.config.Config` field name and a typed value.

    The value is read by the field's declared type, so every field can be set
    from the command line: ``int``, ``float``, ``bool`` (true/false, yes/no, on/off,
    1/0), ``str`` and tuples, written comma-separated with ``x`` inside pairs
    (``back_projection_iters=6,8``, ``adam_betas=0.9,0.99``,
    ``gradual_pattern=0.5x0.5,1x1``) or as a Python literal (``((0.5, 0.5), (1, 1))``).

    Raises:
        ConfigError: no ``=``, an unknown field, or a value of the wrong type.
    """
    name, sep, raw = str(text).partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(f"--set expects FIELD=VALUE (e.g. max_iterations=500), got {text!r}")
    try:
        return name, field_value(name, raw)
    except ConfigError as exc:
        raise ConfigError(f"--set {text!r}: {exc}") from None
