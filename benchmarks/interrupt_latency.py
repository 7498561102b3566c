"""How long Ctrl-C takes to stop each long phase of a run (SIGINT to KeyboardInterrupt).

Python only acts on a signal between bytecodes, so a single long native call (one
convolution of a big kernel, the net over a whole large image) delays Ctrl-C until it
returns. Each phase runs in a fresh process on the CPU; a timer thread sends SIGINT to
the process ``--delay`` seconds after the phase starts, and the time from the signal to
the ``KeyboardInterrupt`` is recorded ("finished" if the phase ended first).

Usage: python benchmarks/interrupt_latency.py [--threads 2] [--baseline-src /tmp/old16/src]
``--baseline-src`` also runs each phase with the package found there (for example the
commit before the fix: ``git archive c1e5e65 src | tar -x -C /tmp/old16``).
Writes benchmarks/results/interrupt_latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PHASES = {
    "kernels.downscale, 201×201 kernel on 512×512 (×2)": "downscale",
    "back-projection, 10 iterations, 65×65 kernel, 2048×2048 output (×4)": "back_projection",
    "inference (8-way ensemble), 256×256 → 1024×1024": "inference",
    "training, 1024×1024 input, error measured every iteration": "training",
    "kernel estimation (edges), 3000×3000": "edges",
    "kernel estimation (KernelGAN), 256×256": "kernelgan",
}


def _phase(name: str):  # noqa: ANN202 - returns a zero-argument callable
    import numpy as np
    import torch

    g = torch.Generator().manual_seed(0)
    if name == "downscale":
        from zssr.kernels import downscale

        x, k = torch.rand(1, 3, 512, 512, generator=g), torch.rand(201, 201, generator=g)
        return lambda: downscale(x, k, 2)
    if name == "back_projection":
        from zssr.ensemble import back_project
        from zssr.kernels import align_kernel, gaussian_kernel

        lr, sr = torch.rand(1, 3, 512, 512, generator=g), torch.rand(1, 3, 2048, 2048, generator=g)
        k = align_kernel(gaussian_kernel(65, 6.0, 4.0), 4).float()
        return lambda: back_project(sr, lr, (4.0, 4.0), iterations=10, kernel=k)
    if name == "inference":
        from zssr.ensemble import super_resolve
        from zssr.network import ZSSRNet

        net, x = ZSSRNet(3, generator=g), torch.rand(1, 3, 256, 256, generator=g)
        return lambda: super_resolve(net, x, (4.0, 4.0), back_projection_iters=2)
    if name == "training":
        from zssr.config import resolve_config
        from zssr.examples import FatherSource
        from zssr.network import ZSSRNet
        from zssr.training import make_optimizer, train_scale_step

        config = resolve_config("ideal", test_every=1, max_iterations=50)
        net, x = ZSSRNet(3, generator=g), torch.rand(1, 3, 1024, 1024, generator=g)
        return lambda: train_scale_step(
            net, make_optimizer(net, config), x, [FatherSource(x, 1.0)], (2.0, 2.0), config=config, kernel=None,
            rng=np.random.default_rng(0), generator=torch.Generator().manual_seed(1),
        )
    if name == "edges":
        from zssr.kernel_estimation import estimate_kernel_edges

        x = torch.rand(1, 3, 3000, 3000, generator=g)
        return lambda: estimate_kernel_edges(x, 2.0)
    if name == "kernelgan":
        from zssr.kernel_estimation import estimate_kernel

        x = torch.rand(1, 3, 256, 256, generator=g)
        return lambda: estimate_kernel(x, 2.0, iterations=3000, device="cpu")
    raise ValueError(name)


def run_one(name: str, delay: float, threads: int) -> dict:
    """Start the phase, send SIGINT after ``delay`` s, time the interrupt (in a fresh process)."""
    import torch

    torch.set_num_threads(threads)
    work = _phase(name)
    sent: list[float] = []

    def interrupt() -> None:
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay, interrupt)
    start = time.perf_counter()
    timer.start()
    try:
        work()
        finished = time.perf_counter() - start
        timer.cancel()
        try:
            time.sleep(delay + 1.0)  # a signal already sent is taken here, not counted
        except KeyboardInterrupt:
            pass
        return {"phase": name, "finished": finished}
    except KeyboardInterrupt:
        return {"phase": name, "latency": time.perf_counter() - sent[0]}


def main() -> None:
    """Run every phase in its own process (and with the baseline package) and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--baseline-src", metavar="DIR", help="also run the package in DIR (PYTHONPATH)")
    parser.add_argument("--one", metavar="PHASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.delay, args.threads)))
        return

    from machine import result_header, write_result

    def measure(phase: str, src: str | None) -> dict:
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([src, str(Path(__file__).parent)])
        out = subprocess.run(
            [sys.executable, __file__, "--threads", str(args.threads), "--delay", str(args.delay), "--one", phase],
            check=True, capture_output=True, text=True, env=env, timeout=3600,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(src or "this tree", row, file=sys.stderr)
        return row

    def cell(row: dict) -> str:
        return f"{row['latency']:.2f}" if "latency" in row else f"finished first ({row['finished']:.1f} s)"

    lines = result_header("Ctrl-C latency of each long phase")
    lines += [
        f"CPU, {args.threads} torch threads; SIGINT {args.delay:g} s after the phase starts; seconds from the signal "
        "to the KeyboardInterrupt.",
        "",
        "| phase | this tree (s) |" + (" baseline (s) |" if args.baseline_src else ""),
        "|---|---|" + ("---|" if args.baseline_src else ""),
    ]
    for label, phase in PHASES.items():
        row = measure(phase, None)
        extra = f" {cell(measure(phase, args.baseline_src))} |" if args.baseline_src else ""
        lines.append(f"| {label} | {cell(row)} |{extra}")
    if args.baseline_src:
        lines += ["", f"Baseline: the package in `{args.baseline_src}`."]
    write_result(Path(__file__).with_name("results") / "interrupt_latency.md", lines)


if __name__ == "__main__":
    main()
