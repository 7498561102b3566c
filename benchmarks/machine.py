"""Shared by the benchmark scripts: the machine a result ran on, and result files in and out."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
import platform
import shlex
import sys

from zssr.bench.runner import machine


def machine_info() -> dict[str, str]:
    """CPU model, core count, torch build and GPU (if any) of this machine (what every bench record holds too)."""
    info = machine()
    info.update(python=platform.python_version(), platform=platform.platform())
    return info


def command_line() -> str:
    """The exact command that produced a result."""
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])


def result_header(title: str) -> list[str]:
    """The first lines of every results file: title, exact command, machine."""
    return [
        f"# {title}",
        "",
        f"Command: `{command_line()}`",
        "",
        "Machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()),
        "",
    ]


def write_result(path: Path, lines: list[str]) -> None:
    """Write a results file and echo it."""
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    print(text, end="")


def read_results_csv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """A ``zssr bench`` ``results.csv`` keyed by (method label, image)."""
    with path.open(newline="", encoding="utf-8") as f:
        return {(r["method"], r["image"]): r for r in csv.DictReader(f)}


def read_method_records(run: Path, condition: str, method: str) -> dict[str, tuple[float, str]]:
    """image → (PSNR, ``G`` or ``C`` for the device) of one method's seed-0 JSON records in a ``zssr bench`` run.

    ``method`` is the label (``zssr:preset=ideal``) or its folder name (``zssr@preset=ideal``);
    a run without that method gives an empty dict. Reads the per-image records, so it also
    works for runs whose ``results.csv`` was not brought back.
    """
    out = {}
    for path in sorted((run / "runs" / condition / method.replace(":", "@")).glob("*_seed0.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["image"]] = (float(data["psnr"]), "G" if data["device"].startswith("cuda") else "C")
    return out
