"""The ``zssr`` command: resize, metrics, kernels, ZSSR upscaling and a demo.

Every subcommand is a thin layer over the library: it parses and checks its
arguments, plans every output path before the first (possibly hour-long) run,
calls the library and writes results atomically through :mod:`zssr.io`.

Conventions of the command line:
    * A bad input of any kind (missing or non-image file, bad scale, kernel,
      preset, ``--set`` value, an output that would overwrite an input, an
      unavailable device) prints one line ``zssr: error: <message>`` on stderr
      and exits with status 2, with no traceback; Ctrl-C exits with 130.
    * Outputs keep the input's bit depth, alpha plane and ICC profile, never
      overwrite an input, and never appear half-written.
    * Scales are ``vertical x horizontal`` (``0.5x0.25``); sizes are ``HxW``.
    * What cannot run on this machine (an output too large for its memory, a
      kernel too large for the factor or the input, a seed outside [0, 2**63), a
      missing device, an unwritable output folder) is refused before the first
      training (docs/LIMITS.md); Ctrl-C is honoured within a second and leaves
      no partial or temporary file.

Layout: one module per subcommand (``upscale``, ``resize``, ``metrics``, ``kernel``,
``demo``, ``serve``, ``bench``), each with ``add_parser(sub)`` and its handler; what they share
lives in :mod:`zssr.cli.options` (parser, errors, common options, ``--set``) and
:mod:`zssr.cli.inputs` (input/output planning).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any

from . import demo, kernel, metrics, resize, serve, upscale
from .options import EXIT_INTERRUPTED, EXIT_USAGE, Parser, exit_status, parse_override

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main", "parse_override"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zssr`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""

    def command() -> int:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.handler(args) or 0)

    return exit_status(command)


def build_parser() -> argparse.ArgumentParser:
    """The full ``zssr`` parser; each subcommand stores its handler in ``args.handler``."""
    parser = Parser(
        prog="zssr",
        description="Zero-Shot Super-Resolution (Shocher, Cohen & Irani, CVPR 2018) with MATLAB-exact resampling.",
        epilog="Run 'zssr COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    upscale.add_parser(sub)
    resize.add_parser(sub)
    metrics.add_parser(sub)
    kernel.add_parser(sub)
    demo.add_parser(sub)
    serve.add_parser(sub)
    _add_bench(sub)
    return parser


def _version() -> str:
    """The package's one version, ``zssr.__version__`` (pyproject.toml reads it from there too)."""
    from .. import __version__

    return __version__


def _add_bench(sub: Any) -> None:
    """Register ``zssr bench`` when the optional :mod:`zssr.bench` imports.

    Its options and handler are the two hooks of :mod:`zssr.cli.bench`
    (``add_bench_arguments``, ``run_bench``); both modules are imported here, at
    parser time, so a missing harness only drops the subcommand.
    """
    try:
        harness = importlib.import_module("zssr.bench")
        hooks = importlib.import_module("zssr.cli.bench")
    except ImportError:
        return
    add = getattr(hooks, "add_bench_arguments", None)
    run = getattr(hooks, "run_bench", None)
    if not (callable(add) and callable(run)):
        return
    summary = (harness.__doc__ or "run the paper-table benchmarks").strip().splitlines()[0]
    p = sub.add_parser("bench", help=summary, description=summary)
    add(p)
    p.set_defaults(handler=run)

