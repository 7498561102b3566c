"""``zssr bench``: the command-line layer of :mod:`zssr.bench` (its options and handler).

:mod:`zssr.cli` registers the subcommand from these two hooks only when :mod:`zssr.bench`
imports, so the harness stays optional.
"""

from __future__ import annotations

import argparse
import math

from .._atomic import say
from ..bench import DEGRADATIONS, KERNEL_RECIPES, LR_SOURCES, METHODS, run_benchmark
from ..bench.runner import RayOptions
from ..errors import ConfigError
from ..limits import usable_cpus
from .options import seed_argument

__all__ = ["add_bench_arguments", "run_bench"]


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zssr bench`` options (the CLI registers the subcommand and calls :func:`run_bench`)."""
    parser.add_argument("--dataset", action="append", metavar="NAME_OR_FOLDER", required=True,
                        help="Set5, Set14, DIV2KRK_dev (under --data-root) or a folder of HR images; repeatable")
    parser.add_argument("--scale", action="append", type=float, metavar="S",
                        help="SR factor, e.g. 2, 3, 4 or 1.5; repeatable (default 2)")
    parser.add_argument("--degradation", action="append", choices=DEGRADATIONS,
                        help="bicubic (Table 1), gaussian-kernel (Table 2), degraded (Table 3), given (a data set's "
                             "own LR files and true kernels: DIV2KRK_dev), or one Table 3 kind on every image: "
                             "gaussian-noise, speckle-noise, jpeg-file (the LR kept as a .jpg), jpeg-png; given+KIND: one of "
                             "those on a data set's own LR files (blur and noise/JPEG together); repeatable (default "
                             "bicubic)")
    parser.add_argument("--method", action="append", metavar="NAME[:key=value,...]",
                        help=f"one of {', '.join(METHODS)} with options, e.g. zssr:preset=fast,max_iterations=300; "
                             "repeatable (default: bicubic and zssr)")
    parser.add_argument("--out", default="zssr-bench", metavar="DIR",
                        help="output folder: inputs cache, per-image results, results.csv/json, table.md, figures "
                             "(default zssr-bench); rerunning resumes")
    parser.add_argument("--lr-source", choices=LR_SOURCES, default="auto",
                        help="bicubic LR: auto (SelfExSR files for Set5/Set14 at ×2/3/4, the paper's inputs), "
                             "selfexsr, or imresize (MATLAB imresize of the 8-bit HR)")
    parser.add_argument("--kernel-recipe", choices=KERNEL_RECIPES, default=None,
                        help="random kernels for gaussian-kernel (default div2krk at ×2/×4, zssr otherwise)")
    parser.add_argument("--data-seed", type=seed_argument, default=0, metavar="K",
                        help="seed of the random kernels/degradations, an integer in [0, 2**63) (default 0)")
    parser.add_argument("--jpeg-quality", type=int, default=45, metavar="Q",
                        help="IJG quality 1-100 of the JPEG kinds (degraded, jpeg-file, jpeg-png, given+jpeg-…); another than the "
                             "paper's 45 is a column of its own (default 45)")
    parser.add_argument("--seeds", type=int, default=1, metavar="K",
                        help="run seeds 0..K-1 per image; the table shows mean and spread (default 1)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images of each data set")
    parser.add_argument("--images", default=None, metavar="A,B", help="only these images (comma-separated names)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="images in parallel processes (default 1)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help="folder holding Set5/ and Set14/ (default $ZSSR_DATA or ../shared/data)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no table on stdout")
    parser.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                        help="run each image as a Ray task on the cluster at ADDRESS (default auto; HOST:PORT, "
                        "ray://HOST:PORT, or 'local'); --out must be on a filesystem every node sees. "
                        'Needs pip install "zssr[ray]" (see docs/BATCH.md)')
    parser.add_argument("--ray-cpus", type=float, default=1.0, metavar="N", help="CPUs per Ray task (default 1)")
    parser.add_argument("--ray-gpus", type=float, metavar="N",
                        help="GPUs per Ray task (default 1 with --device cuda, else 0)")


def run_bench(args: argparse.Namespace) -> int:
    """``zssr bench``: run :func:`run_benchmark` from parsed arguments; print the table unless ``--quiet``.

    ``ZSSRError`` and ``OSError`` propagate to the CLI, which prints them as one line (exit 2).
    """
    images = [n.strip() for n in args.images.split(",") if n.strip()] if args.images else None
    ray, device = None, args.device
    if args.ray is not None:
        if args.jobs != 1:
            raise ConfigError("--ray runs one task per image across the cluster; size tasks with --ray-cpus and "
                              "--ray-gpus instead of --jobs")
        gpus = args.ray_gpus if args.ray_gpus is not None else (1.0 if str(args.device).startswith("cuda") else 0.0)
        if not (0 < args.ray_cpus < math.inf and 0 <= gpus < math.inf):  # (nan fails both)
            raise ConfigError(f"--ray-cpus must be a finite number > 0 and --ray-gpus one >= 0, got {args.ray_cpus:g} "
                              f"and {gpus:g}")
        from ..batch.ray_backend import check_reachable, import_ray

        import_ray()
        ray = RayOptions(str(args.ray).strip() or "auto", args.ray_cpus, gpus)
        check_reachable(ray.address)
        if device == "auto":  # a task without a GPU reservation must not take one
            device = "cuda" if gpus > 0 else "cpu"
    elif args.ray_gpus is not None:
        raise ConfigError("--ray-gpus applies to --ray runs only")
    jobs, cap = args.jobs, usable_cpus()
    if jobs > cap:  # clamped as zssr upscale --jobs is: more workers than CPUs only queue
        say(f"zssr: warning: --jobs {jobs} is more than the {cap} CPU{'s' if cap > 1 else ''} this process may use; "
            f"running at most {cap} worker{'s' if cap > 1 else ''}")
        jobs = cap
    result = run_benchmark(
        args.dataset,
        out=args.out,
        scales=args.scale or [2.0],
        degradations=args.degradation or ["bicubic"],
        methods=args.method or ["bicubic", "zssr"],
        lr_source=args.lr_source,
        kernel_recipe=args.kernel_recipe,
        data_seed=args.data_seed,
        jpeg_quality=args.jpeg_quality,
        seeds=args.seeds,
        limit=args.limit,
        images=images,
        jobs=jobs,
        device=device,
        data_root=args.data_root,
        progress=not args.quiet,
        ray=ray,
    )
    if not args.quiet:
        print(result.table.read_text(encoding="utf-8"), end="")
        print(f"\n{result.ran} run, {result.resumed} reused; results in {result.out}")
    return 0
