"""The options of a many-image run (``--jobs``, ``--devices``, ``--threads``, ``--ray``, ``--overwrite``).

They only choose where :func:`zssr.batch.run_batch` runs the images; the per-image work is
the command's own. Everything is checked before the first image starts (devices exist,
Ray is installed) so that a bad option is one line and exit 2, not a batch of failures.
"""

from __future__ import annotations

import argparse
import math

from .._atomic import say
from ..batch import BatchReport, Execution
from ..errors import ConfigError
from ..limits import check_threads, usable_cpus
from ..pipeline import resolve_device
from .options import EXIT_USAGE

__all__ = ["add_batch_options", "batch_exit_status", "execution_from_args"]

#: Failed images named in the final error line; the manifest lists them all.
SHOWN_FAILURES = 10


def add_batch_options(p: argparse.ArgumentParser) -> None:
    """Add the options choosing where the images of a run go (see docs/BATCH.md)."""
    g = p.add_argument_group("many images (see docs/BATCH.md)")
    g.add_argument("--jobs", type=int, metavar="N",
                   help="images at once, each in its own worker process on --device (default 1: this process; "
                   "at most the CPUs this process may use, more is clamped with a warning)")
    g.add_argument("--devices", metavar="D1,D2,...",
                   help="one worker process per device, e.g. cuda:0,cuda:1 (or cpu,cpu); replaces --device and --jobs")
    g.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads per image, at most the CPUs this process may use (default: all cores "
                   "for one job, shared out between workers; a Ray task uses its --ray-cpus). Outputs are byte-identical across --jobs, "
                   "--devices and --ray for the same --threads")
    g.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                   help="run each image as a Ray task: on the cluster at ADDRESS (default auto: the one "
                   "'ray start' runs here; HOST:PORT or ray://HOST:PORT), or 'local' for a cluster of this "
                   'machine for the run only. Needs pip install "zssr[ray]"')
    g.add_argument("--ray-cpus", type=float, default=1.0, metavar="N", help="CPUs per Ray task (default 1)")
    g.add_argument("--ray-gpus", type=float, metavar="N",
                   help="GPUs per Ray task (default 1 with --device cuda, else 0; fractions share a GPU); "
                   "with --device auto, tasks run on the GPU Ray gives them, or on the CPU when N is 0")
    g.add_argument("--overwrite", action="store_true",
                   help="redo every image; by default an --out-dir run skips images its manifest "
                   "(zssr-manifest.json) records as done with the same input and settings")


def execution_from_args(args: argparse.Namespace) -> Execution:
    """The :class:`~zssr.batch.Execution` the options ask for, every device and Ray checked now.

    Raises:
        ConfigError: conflicting or out-of-range options.
        ZSSRError: an unavailable device, or ``--ray`` without Ray installed or with no
            cluster answering at its address (see :func:`zssr.batch.ray_backend.check_reachable`).
    """
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be an integer >= 1, got {args.jobs}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be an integer >= 1, got {args.threads}")
    if args.ray is None:  # a Ray task runs on a node whose CPUs are not this machine's
        check_threads(args.threads, "--threads")
    if args.ray is not None:
        if (args.jobs or 1) > 1 or args.devices is not None:
            raise ConfigError("--ray runs one task per image across the cluster; size tasks with --ray-cpus and "
                              "--ray-gpus instead of --jobs or --devices")
        if not 0 < args.ray_cpus < math.inf:
            raise ConfigError(f"--ray-cpus must be a finite number > 0, got {args.ray_cpus:g}")
        gpus = args.ray_gpus
        if gpus is None:
            gpus = 1.0 if str(args.device).startswith("cuda") else 0.0
        if not 0 <= gpus < math.inf:
            raise ConfigError(f"--ray-gpus must be a finite number >= 0, got {gpus:g}")
        from ..batch.ray_backend import check_reachable, import_ray

        import_ray()
        address = str(args.ray).strip() or "auto"
        check_reachable(address)  # seconds, not Ray's minutes of retries, before any image starts
        # A task without a GPU reservation must not take one: --device auto means the CPU there.
        device = ("cuda" if gpus > 0 else "cpu") if args.device == "auto" else args.device
        return Execution("ray", (device,), args.threads, ray_address=address, ray_cpus=args.ray_cpus, ray_gpus=gpus)
    if args.ray_gpus is not None:
        raise ConfigError("--ray-gpus applies to --ray runs only")
    if args.devices is not None:
        names = [d.strip() for d in str(args.devices).split(",") if d.strip()]
        if not names:
            raise ConfigError(f"--devices must list devices, e.g. cuda:0,cuda:1, got {args.devices!r}")
        if args.jobs is not None and args.jobs != len(names):
            raise ConfigError(f"--jobs {args.jobs} disagrees with the {len(names)} devices of --devices; give one")
        devices = tuple(str(resolve_device(name)) for name in names)
        return Execution("processes", devices, args.threads)
    device = str(resolve_device(args.device))
    jobs, cap = args.jobs or 1, usable_cpus()
    if jobs > cap:
        # Outputs do not depend on the worker count (given --threads), so too many is clamped, not refused.
        say(f"zssr: warning: --jobs {jobs} is more than the {cap} CPU{'s' if cap > 1 else ''} this process may "
            f"use; running at most {cap} worker{'s' if cap > 1 else ''}")
        jobs = cap
    if jobs > 1:
        return Execution("processes", (device,) * jobs, args.threads)
    return Execution("serial", (device,), args.threads)


def batch_exit_status(report: BatchReport) -> int:
    """0 when every image is done; else one ``zssr: error:`` line naming the failed ones, and exit 2."""
    if not report.failed:
        return 0
    names = [str(item.source) for item in report.failed]
    shown = ", ".join(names[:SHOWN_FAILURES]) + (f" and {len(names) - SHOWN_FAILURES} more" if len(names) > SHOWN_FAILURES else "")
    where = f"; all are listed in {report.manifest}" if report.manifest is not None else ""
    say(f"zssr: error: {len(names)} of {report.total} images failed: {shown} (the others are done; "
        f"run the same command again to retry only these{where})")
    return EXIT_USAGE
