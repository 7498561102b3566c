"""Benchmark harness: the paper's Tables 1–3 on Set5/Set14 or any folder of HR images.

Paper §4: Table 1 scores 'ideal' LR images (MATLAB bicubic ``imresize``), Table 2
LR images made with a random anisotropic Gaussian kernel per image (§4.2 A),
Table 3 LR images each hit by one random degradation: Gaussian noise, speckle
noise or JPEG (§4.2 B). Tables 2 and 3 used BSD100, which we do not ship: pass
its HR folder as a data set.

Layout of ``out`` (every file is written atomically, so an interrupted run resumes):

* ``inputs/<dataset>_x<s>_<degradation>-<variant>_seed<k>/``: the generated inputs,
  8-bit PNGs reused on the next run: ``<name>_hr.png`` (modcropped HR),
  ``<name>_lr.png``, ``<name>_kernel.mat``/``.png`` (true kernel, Table 2) and
  ``<name>.json`` (what was done; written last, so its presence means "complete").
  ``variant`` is the LR source (``selfexsr`` / ``imresize``) or the kernel recipe.
* ``runs/<same key>/<method>/<name>_seed<r>.{png,json}``: one result per
  (data set, degradation, method, image, seed); a finished one is skipped on rerun.
* ``results.csv``, ``results.json`` (records and summary), ``table.md`` (laid out
  like the paper's tables, with the paper's numbers and our difference where
  known), ``figure_<dataset>.png`` (crops: HR | each method).

Scores follow the paper's protocol (``zssr.metrics.evaluate``): the SR output is
first rounded to 8 bits (as when saved to PNG), then Y of MATLAB ``rgb2ycbcr`` is
compared with ``scale`` pixels shaved.

Methods are looked up by name in a registry (:data:`METHODS` by default). To add
one, write a module-level function ``fn(request: MethodInput) -> MethodOutput``
(or a plain ``H×W×C`` array) and either ``METHODS["mine"] = fn`` or pass
``registry={**METHODS, "mine": fn}`` to :func:`run_benchmark`; then
``--method mine:key=value`` hands it ``request.options == {"key": "value"}``.
With ``jobs > 1`` workers are spawned, so ``fn`` must be importable by name
(a lambda or a function defined inside another cannot be sent to them).

Modules: :mod:`~zssr.bench.methods` (registry and ``NAME:key=value`` specs),
:mod:`~zssr.bench.datasets` and :mod:`~zssr.bench.degradations` (the cached inputs),
:mod:`~zssr.bench.runner` (tasks, process pool, resuming), :mod:`~zssr.bench.report`
(summary, CSV, Markdown, figures) and :mod:`~zssr.bench.benchmark` (:func:`run_benchmark`).
The ``zssr bench`` options live in :mod:`zssr.cli.bench`.
"""

from __future__ import annotations

from .._modcrop import modcrop
from .benchmark import BenchResult, run_benchmark
from .datasets import (
    DEGRADATIONS,
    KERNEL_RECIPES,
    LR_SOURCES,
    BenchInput,
    Condition,
    DatasetSource,
    Degradation,
    KernelRecipeName,
    LRSource,
    prepare_inputs,
    resolve_dataset,
)
from .degradations import (
    DEGRADED_KINDS,
    GAUSSIAN_NOISE_SIGMA,
    JPEG_QUALITY,
    SPECKLE_VARIANCE,
)
from .methods import (
    METHODS,
    Method,
    MethodInput,
    MethodOutput,
    MethodSpec,
    parse_method,
)
from .report import PAPER_NUMBERS, SummaryRow
from .runner import Record

__all__ = [
    "DEGRADATIONS",
    "DEGRADED_KINDS",
    "GAUSSIAN_NOISE_SIGMA",
    "JPEG_QUALITY",
    "KERNEL_RECIPES",
    "LR_SOURCES",
    "METHODS",
    "PAPER_NUMBERS",
    "SPECKLE_VARIANCE",
    "BenchInput",
    "BenchResult",
    "Condition",
    "DatasetSource",
    "Degradation",
    "KernelRecipeName",
    "LRSource",
    "Method",
    "MethodInput",
    "MethodOutput",
    "MethodSpec",
    "Record",
    "SummaryRow",
    "modcrop",
    "parse_method",
    "prepare_inputs",
    "resolve_dataset",
    "run_benchmark",
]
