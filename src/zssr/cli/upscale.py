"""``zssr upscale``: ZSSR on image files, each trained on itself, optionally with a given or estimated kernel."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from .._atomic import check_name_fits, say
from ..batch import BatchItem, Execution, run_batch, workers_started
from ..config import (
    ENGINES,
    MAX_NETS,
    MAX_STEPS,
    MAX_TIME_BUDGET,
    PRECISIONS,
    PRESET_DOCS,
    PRESETS,
    Config,
    resolve_config,
)
from ..cost import DeviceSpeed, estimate_run, measure_speed
from ..errors import ConfigError, ScaleError
from ..kernels import align_kernel
from ..limits import (
    available_memory,
    check_kernel_size,
    check_plan,
    check_scale_fits,
    describe_plan,
    max_kernel_side,
    plan_run,
)
from ..pipeline import MIN_INPUT_SIDE, parse_scale, plan_steps, resolve_device
from ..task import ESTIMATORS, UpscaleTask, kernel_estimator, read_kernel
from .batch_options import add_batch_options, batch_exit_status, execution_from_args
from .inputs import check_not_inputs, check_readable, clear_stale_temps, no_empty_folders_left, plan_jobs
from .options import UsageError, add_outputs, add_run_options, parse_override
from .upscale_volume import add_volume_options, is_volume_run, run_volumes


def add_parser(sub: Any) -> None:
    """Register ``zssr upscale`` and its options on the subcommand parsers ``sub``."""
    presets = "\n".join(f"  {name:8s} {PRESET_DOCS.get(name, '')}" for name in PRESETS)
    p = sub.add_parser(
        "upscale",
        help="super-resolve images with ZSSR (trained on each image alone)",
        description="Super-resolve each image with ZSSR: a small CNN is trained on the image itself\n"
        "(paper §3) and then applied to it, with self-ensemble and back-projection.",
        epilog=f"presets:\n{presets}\n\nexamples:\n"
        "  zssr upscale photo.png -s 2 -o photo_x2.png\n"
        "  zssr upscale in/ -s 4 --preset gradual --out-dir out/\n"
        "  zssr upscale photo.png -s 2 --kernel auto -o photo_x2.png --save-curves\n"
        "  zssr upscale photo.png -s 2 -o x2.png --set max_iterations=500 --set crop_size=96\n"
        "  zssr upscale stack.tif -s 2 -o stack_x2.tif          (one net for every slice)\n"
        "  zssr upscale t1.nii.gz --axis z -o t1_iso.nii.gz     (through-plane, factor from the voxel sizes)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders of images")
    p.add_argument(
        "-s", "--scale", metavar="S",
        help="target factor (2; the preset's gradual pattern applies), vertical x horizontal (1.5x2), "
        "or explicit steps each relative to the input (1.5,2); required except with --axis",
    )
    add_outputs(p)
    p.add_argument("--preset", choices=sorted(PRESETS), help="configuration preset (default: ideal, or kernel with --kernel)")
    p.add_argument(
        "--kernel", metavar="FILE|auto",
        help="downscaling kernel of the input (.mat/.npy/.txt/.csv), or 'auto' to estimate it (see --estimator; "
        "saved as <out>_kernel.mat/.png)",
    )
    p.add_argument("--estimator", choices=ESTIMATORS,
                   help="for --kernel auto: 'edges' (default; the blur across the strongest edges, instant, 57%% of "
                   "Table 2's gap) or 'kernelgan' (KernelGAN, about a minute on 2 cores, 45%%)")
    p.add_argument("--kernel-iterations", type=int, metavar="N",
                   help="for --estimator kernelgan: training iterations (authors: 3000)")
    p.add_argument("--kernel-restarts", type=int, metavar="N",
                   help="for --estimator kernelgan: seeds to retry after a degenerate estimate (default 2)")
    p.add_argument("--width-correction", action="store_true",
                   help="for --estimator kernelgan: widen the kernel by 2/sqrt(3) (closer to the true blur, "
                   "but ZSSR usually does worse with it; see zssr.kernel_estimation)")
    p.add_argument("--noise-std", type=float, metavar="F", help="std of the noise added to the LR sons (the real preset reads it from the input; "
                   "giving it turns that off; the authors' fixed value was 0.0125)")
    p.add_argument("--no-back-projection", action="store_true", help="skip back-projection (for noisy inputs)")
    p.add_argument("--gradual", type=int, metavar="N", help="reach a single target in N equal steps")
    p.add_argument("--max-iterations", type=int, metavar="N", help="training iterations per step at most")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="cap the training time (all steps together): it stops at the first reconstruction test "
                   "past the budget, as the learning-rate policy would; trades quality for time on big photos "
                   "(the output then depends on the machine's speed)")
    p.add_argument("--nets", type=int, metavar="N",
                   help=f"train N independently seeded nets (whole runs, 1 to {MAX_NETS}) and average their outputs: "
                   "N× the time, and the memory of one run plus one output; it averages out how a net trained on "
                   "one image varies with its seed (default 1, the authors')")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="the net's arithmetic: auto (default) is bfloat16 on CPUs with AMX or AVX-512-BF16, ~3x "
                   "faster with no loss of mean PSNR, and float32 elsewhere; float32 is the authors' (docs/SPEED.md)")
    p.add_argument("--engine", choices=ENGINES,
                   help="how training steps run: auto (default) is graph on CUDA (examples made on the GPU, the "
                   "step a CUDA graph) and eager on CPUs (the authors' way); device: on the GPU, not captured")
    add_run_options(p, seed_help="seed of weights, crops and noise (default 0)")
    add_batch_options(p)
    add_volume_options(p)
    p.add_argument("--save-curves", action="store_true", help="also write <out>_curves.png (loss, error, learning rate)")
    p.add_argument(
        "--set", action="append", metavar="FIELD=VALUE",
        help="override any Config field, e.g. crop_size=96, allow_rotation=false, back_projection_iters=6,8, "
        "gradual_pattern=0.5x0.5,1x1 (repeatable; applied last)",
    )
    p.set_defaults(handler=_cmd_upscale)


def _upscale_config(args: argparse.Namespace, *, with_kernel: bool | None = None) -> Config:
    """The preset with the dedicated flags applied, then every ``--set`` (which win).

    Without ``--preset`` a kernel selects ``kernel``, no kernel ``ideal``; ``with_kernel``
    overrides the guess (an estimate rejected as unreliable runs without one).
    """
    has_kernel = args.kernel is not None if with_kernel is None else with_kernel
    preset = args.preset or ("kernel" if has_kernel else "ideal")
    overrides: dict[str, Any] = {}
    if args.noise_std is not None:
        overrides["noise_std"] = args.noise_std
    if args.no_back_projection:
        overrides["back_projection_iters"] = (0,)
    if args.gradual is not None:
        if not 1 <= args.gradual <= MAX_STEPS:
            raise ConfigError(f"--gradual must be an integer from 1 to {MAX_STEPS} (each step trains the net), "
                              f"got {args.gradual}")
        overrides["gradual_pattern"] = tuple((k / args.gradual, k / args.gradual) for k in range(1, args.gradual + 1))
    if args.max_iterations is not None:
        overrides["max_iterations"] = args.max_iterations
    if args.nets is not None:
        if not 1 <= args.nets <= MAX_NETS:
            raise ConfigError(f"--nets must be an integer from 1 to {MAX_NETS} (each trains the whole method again: "
                              f"N× the time), got {args.nets}")
        overrides["nets"] = args.nets
    if args.precision is not None:
        overrides["precision"] = args.precision
    if args.engine is not None:
        overrides["training_engine"] = args.engine
    if args.time_budget is not None:
        if not (math.isfinite(args.time_budget) and 0 < args.time_budget <= MAX_TIME_BUDGET):
            raise ConfigError(f"--time-budget must be a number of seconds in (0, {MAX_TIME_BUDGET:,.0f}], "
                              f"got {args.time_budget:g}")
        overrides["time_budget"] = args.time_budget
    for item in args.set or ():
        name, value = parse_override(item)
        overrides[name] = value
    return resolve_config(preset, **overrides)


def _check_estimator_options(args: argparse.Namespace) -> None:
    """Refuse the estimator's options without ``--kernel auto``: they would be ignored, silently."""
    if args.kernel is not None and args.kernel.strip().lower() == "auto":
        return
    given = [flag for flag, value in (("--estimator", args.estimator), ("--kernel-iterations", args.kernel_iterations),
                                      ("--kernel-restarts", args.kernel_restarts),
                                      ("--width-correction", args.width_correction or None)) if value is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigError(f"{', '.join(given)} {verb} to --kernel auto only (the kernel is estimated only then); "
                          f"add --kernel auto, or drop {'it' if len(given) == 1 else 'them'}")


def _cmd_upscale(args: argparse.Namespace) -> int:
    # STEP 1 - everything that can be wrong is checked before the first (long) training:
    # options, device, scale (against this machine's memory), kernel, paths, every input, every plan.
    config = _upscale_config(args)
    _check_estimator_options(args)
    if is_volume_run(args):  # stacks and volumes (issue #29): one net per stack, the same kind of file out
        return run_volumes(args, config)
    if args.scale is None:
        raise UsageError("the following arguments are required: -s/--scale (see 'zssr upscale --help')")
    steps = parse_scale(args.scale)
    if len(steps) == 1:
        steps = plan_steps(steps[0], config)
    elif args.gradual is not None:
        raise ConfigError(f"--gradual splits a single target scale; -s {args.scale!r} already lists the steps")
    execution = execution_from_args(args)
    jobs = plan_jobs(args.inputs, args.output, args.out_dir)
    # Memory is planned on this machine (a Ray node's is unknown here), shared by the workers
    # that run on the same device at once: those that start, never more than the images.
    device = execution.devices[0]
    local = execution.backend != "ray"
    started = execution.devices[: workers_started(execution, len(jobs))]
    available = available_memory(device) / started.count(device) if local else None
    if local:
        check_scale_fits(steps, config=config, device=device, available=available)
    auto_kernel = args.kernel is not None and args.kernel.strip().lower() == "auto"
    given_kernel = None
    estimate_kernel = None
    if auto_kernel:
        if steps[-1][0] != steps[-1][1]:
            raise ScaleError(f"--kernel auto needs the same factor on both axes, got final step {steps[-1]}")
        estimate_kernel = kernel_estimator(
            args.estimator or "edges", iterations=args.kernel_iterations, restarts=args.kernel_restarts,
            width_correction=args.width_correction,
            flags=("--kernel-iterations", "--kernel-restarts", "--width-correction"),
        )
    elif args.kernel is not None:
        given_kernel = read_kernel(args.kernel)
        check_kernel_size(tuple(given_kernel.shape), steps[-1], name=f"--kernel {args.kernel}")
    fixed_kernels: list[torch.Tensor | None] = [None] * len(steps)
    if given_kernel is not None:
        fixed_kernels[-1] = align_kernel(given_kernel, steps[-1])
    sources = [source for source, _ in jobs]
    task = UpscaleTask(
        steps=tuple(steps), config=config, kernels=tuple(fixed_kernels), seed=args.seed, estimate=estimate_kernel,
        fallback_config=_upscale_config(args, with_kernel=False) if auto_kernel else None,
        save_curves=args.save_curves, protect=tuple(s.resolve() for s in sources),
    )
    items = [BatchItem(source, target, task.extras(target)) for source, target in jobs]
    check_not_inputs([t for _, t in jobs] + [p for item in items for p in item.extras], sources)
    min_side, why = MIN_INPUT_SIDE, ""
    if auto_kernel:
        from ..kernel_estimation import MIN_SIZE as kernel_min_side

        min_side, why = max(MIN_INPUT_SIDE, kernel_min_side), " for --kernel auto"

    speeds: list[DeviceSpeed] = []

    def precheck(item: BatchItem) -> None:
        # Names the output folder takes, readable, large enough, a kernel that fits it, a memory plan
        # that fits this machine.
        for path in item.paths:
            check_name_fits(path)
        (h, w, c), = check_readable([item.source], min_side=min_side, why=why)
        if given_kernel is not None:
            check_kernel_size(tuple(given_kernel.shape), steps[-1], (h, w), name=f"--kernel {args.kernel} on {item.source}")
        side = max(given_kernel.shape) if given_kernel is not None else (max_kernel_side(steps[-1][0]) if auto_kernel else None)
        plan = plan_run((h, w), c, steps, config=config, device=device if local else "cpu", kernel_side=side)
        if local:
            check_plan(plan, source=str(item.source), available=available)
        if not args.quiet:
            line = describe_plan(plan)
            if local:  # the time it will take, from a step measured here (once per run)
                if not speeds:
                    speeds.append(_measure(config, c, device, execution, len(items)))
                line += f"; {estimate_run(plan, config, speeds[0]).describe(speeds[0])}"
            say(f"zssr: {item.source}: {line}")

    # STEP 2 - the images, one by one or in parallel (zssr.batch): (estimate the kernel,) train,
    # super-resolve, write. A folder run keeps a manifest there, skips what is done, and goes on
    # past an image that fails (checked here first: unreadable, too small, too large).
    clear_stale_temps(t for _, t in jobs)
    with no_empty_folders_left(t for _, t in jobs):
        report = run_batch(
            items, task, settings=task.settings(), folder=None if args.out_dir is None else Path(args.out_dir),
            execution=execution, overwrite=args.overwrite, progress=not args.quiet, precheck=precheck,
        )
    return batch_exit_status(report)


def _measure(config: Config, channels: int, device: str, execution: Execution, images: int) -> DeviceSpeed:
    """The net's speed here, at the thread count each image will get (workers split the cores)."""
    threads = execution.threads
    if threads is None and execution.backend == "processes":
        threads = max(1, torch.get_num_threads() // workers_started(execution, images))
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return measure_speed(config, channels, resolve_device(device))
    finally:
        torch.set_num_threads(previous)
