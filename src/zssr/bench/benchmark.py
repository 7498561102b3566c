"""``run_benchmark``: check everything, prepare the inputs, run every task, write the tables and figures."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .._atomic import check_writable, remove_stale_temps, write_json, write_text
from .._modcrop import check_sr_scale
from .._validate import seed_value
from ..errors import ConfigError, ScaleError
from ..pipeline import resolve_device
from .datasets import (
    DEGRADATIONS,
    BenchInput,
    Condition,
    Degradation,
    KernelRecipeName,
    LRSource,
    check_jpeg_quality,
    is_given,
    prepare_inputs,
    resolve_dataset,
)
from .degradations import GAUSSIAN_NOISE_SIGMA, JPEG_QUALITY, SPECKLE_VARIANCE
from .methods import METHODS, NEEDS_TRUE_KERNEL, OPTION_CHECKS, Method, MethodSpec, parse_method
from .report import SummaryRow, summarize, table_markdown, write_csv, write_figure
from .runner import RayOptions, Record, Task, condition_of, run_tasks

__all__ = ["BenchResult", "run_benchmark"]


@dataclass(frozen=True)
class BenchResult:
    """What :func:`run_benchmark` did: every record, the summary and the files written."""

    records: tuple[Record, ...]
    summary: tuple[SummaryRow, ...]
    out: Path
    table: Path
    csv: Path
    json: Path
    figures: tuple[Path, ...]
    ran: int
    resumed: int


def _check_count(value: int | None, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def run_benchmark(
    datasets: Sequence[str | Path],
    *,
    out: str | Path,
    scales: Sequence[float] = (2.0,),
    degradations: Sequence[Degradation] = ("bicubic",),
    methods: Sequence[str | MethodSpec] = ("bicubic", "zssr"),
    lr_source: LRSource = "auto",
    kernel_recipe: KernelRecipeName | None = None,
    data_seed: int = 0,
    jpeg_quality: int = JPEG_QUALITY,
    seeds: int = 1,
    limit: int | None = None,
    images: Sequence[str] | None = None,
    jobs: int = 1,
    device: str = "auto",
    data_root: str | Path | None = None,
    registry: Mapping[str, Method] | None = None,
    progress: bool = False,
    ray: RayOptions | None = None,
) -> BenchResult:
    """Run every method on every image of every (data set, scale, degradation); write the tables.

    Args:
        datasets: ``Set5``, ``Set14`` (under ``data_root``) or folders of HR images.
        out: output folder (inputs cache, per-image results, tables, figures).
        scales: SR factors; integer or a ratio such as 1.5.
        degradations: ``bicubic`` (Table 1), ``gaussian-kernel`` (Table 2), ``degraded`` (Table 3),
            ``given`` (a data set's own LR files and true kernels, DIV2KRK), or one Table 3 kind
            on every image: ``gaussian-noise``, ``speckle-noise``, ``jpeg-file``, ``jpeg-png``; ``given+KIND``
            puts one of those on a data set's own LR files (blur and noise or JPEG together).
        methods: ``NAME[:key=value,...]`` specs, names from ``registry``.
        lr_source: for bicubic/degraded LR: ``auto`` (SelfExSR files where available),
            ``selfexsr`` or ``imresize``.
        kernel_recipe: ``zssr`` or ``div2krk`` (default: div2krk at ×2/×4, else zssr).
        data_seed: seeds the random kernels and degradations (per image, with its name), in ``[0, 2**63)``.
        jpeg_quality: the IJG quality (1–100) of the JPEG kinds (``degraded``, ``jpeg-file``,
            ``jpeg-png``); the paper's 45 by default, another is a column (and input cache) of its own.
        seeds: run seeds ``0 … seeds−1`` of each method; the table reports their mean and spread.
        limit: the first ``limit`` images of each data set.
        images: only these image names.
        jobs: parallel worker processes (spawned; each gets ``cpu_count // jobs`` torch threads).
        device: for the methods (``auto``, ``cpu``, ``cuda``, ``mps``).
        data_root: the folder holding ``Set5/`` and ``Set14/`` (default ``$ZSSR_DATA`` or ``../shared/data``).
        registry: name → method; default :data:`METHODS`.
        progress: a tqdm bar over images on stderr.
        ray: run each cell as a Ray task on a cluster instead (``jobs`` is then ignored);
            ``out`` must be on a filesystem every node sees.

    Returns:
        A :class:`BenchResult`. Finished results found under ``out/runs`` are reused, not rerun.

    Raises:
        ConfigError: bad options (a built-in method's options included, checked before anything is
            written), unknown methods, images or degradations, seeds outside ``[0, 2**63)``.
        ScaleError: a bad scale.
        ImageReadError: a data set that cannot be found.
    """
    if isinstance(datasets, (str, Path)) or not datasets:
        raise ConfigError(f"datasets must be a non-empty list of names or folders, got {datasets!r}")
    scale_list = [check_sr_scale(s) for s in scales]
    if not scale_list:
        raise ScaleError("scales must name at least one scale")
    degradation_list = list(dict.fromkeys(degradations))
    for d in degradation_list:
        if d not in DEGRADATIONS:
            raise ConfigError(f"degradation must be one of {DEGRADATIONS}, got {d!r}")
    if not degradation_list:
        raise ConfigError("degradations must name at least one degradation")
    table = dict(METHODS if registry is None else registry)
    specs = [parse_method(m) for m in methods]
    if not specs:
        raise ConfigError("methods must name at least one method")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"methods must not repeat, got {labels}")
    for spec in specs:
        if spec.name not in table:
            raise ConfigError(f"method {spec.name!r} is not registered; known: {sorted(table)}")
        if spec.name in NEEDS_TRUE_KERNEL and any(d != "gaussian-kernel" and not is_given(d) for d in degradation_list):
            raise ConfigError(
                f"method {spec.name!r} needs the true kernel: use it with degradation 'gaussian-kernel', 'given' or "
                "'given+KIND' only"
            )
        check = OPTION_CHECKS.get(spec.name)
        if check is not None and table[spec.name] is METHODS.get(spec.name):
            try:  # a typo in an option must not cost an input cache first
                check(dict(spec.options))
            except ConfigError as exc:
                raise ConfigError(f"method {spec.label!r}: {exc}") from None
    _check_count(seeds, "seeds")
    _check_count(jobs, "jobs")
    _check_count(limit, "limit", allow_none=True)
    seed_value(data_seed, "data_seed")
    check_jpeg_quality(jpeg_quality)
    seed_value(seeds - 1, "seeds - 1 (the last run seed)")
    if ray is None:
        resolve_device(device)  # fail now, not in a worker (a Ray task resolves it on its node)

    out_dir = Path(out).resolve() if ray is not None else Path(out)  # Ray workers run in other folders
    check_writable(out_dir, what="--out folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for folder, _, _ in os.walk(out_dir):  # temps a killed earlier run left (inputs cache, runs, tables)
        remove_stale_temps(folder)
    sources = [resolve_dataset(d, data_root) for d in datasets]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"datasets must have distinct names, got {names}")

    # STEP 1 - inputs, per column (data set × scale × degradation).
    conditions: list[Condition] = []
    inputs: dict[str, list[BenchInput]] = {}
    for source in sources:
        for s in scale_list:
            for d in degradation_list:
                condition, items = prepare_inputs(
                    source, scale=s, degradation=d, cache_root=out_dir / "inputs", lr_source=lr_source,
                    kernel_recipe=kernel_recipe, data_seed=data_seed, images=images, limit=limit,
                    jpeg_quality=jpeg_quality,
                )
                conditions.append(condition)
                inputs[condition.key] = items

    # STEP 2 - one task per (column, method, image, seed); finished ones are loaded.
    tasks = [
        Task(c, spec, table[spec.name], item, seed, device, out_dir)
        for c in conditions for spec in specs for item in inputs[c.key] for seed in range(seeds)
    ]
    records = run_tasks(tasks, jobs, progress, ray)

    # STEP 3 - summary, tables, figures.
    summary = summarize(records, conditions, specs)
    csv_path, json_path, table_path = out_dir / "results.csv", out_dir / "results.json", out_dir / "table.md"
    write_csv(csv_path, records)
    settings = {
        "datasets": names, "scales": scale_list, "degradations": degradation_list, "methods": labels,
        "lr_source": lr_source, "kernel_recipe": kernel_recipe, "data_seed": data_seed, "seeds": seeds,
        "limit": limit, "images": list(images) if images else None, "device": device,
        "degraded": {
            "gaussian_sigma": GAUSSIAN_NOISE_SIGMA, "speckle_variance": SPECKLE_VARIANCE, "jpeg_quality": jpeg_quality,
        },
    }
    write_json(json_path, {
        "settings": settings, "records": [asdict(r) for r in records], "summary": [asdict(r) for r in summary],
    })
    write_text(table_path, table_markdown(summary, conditions, specs))
    figures = []
    for source in sources:
        mine = [c for c in conditions if c.dataset == source.name]
        for c in mine:
            suffix = "" if len(mine) == 1 else f"_x{c.scale:g}_{c.degradation}"
            path = out_dir / f"figure_{source.name}{suffix}.png"
            cond_records = [r for r in records if condition_of(r) == c]
            if cond_records:
                write_figure(path, c, inputs[c.key], specs, cond_records, out_dir)
                figures.append(path)
    resumed = sum(r.resumed for r in records)
    return BenchResult(
        records=tuple(records), summary=tuple(summary), out=out_dir, table=table_path, csv=csv_path,
        json=json_path, figures=tuple(figures), ran=len(records) - resumed, resumed=resumed,
    )
