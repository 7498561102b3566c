"""NCHW against channels-last (NHWC) for the net's convolutions on this CPU: which one trains faster.

Why: ``zssr.network.conv_layout`` trains float32 NCHW on CPUs without AVX-512 and NHWC elsewhere.
On the AVX2 EPYC of the CI machines oneDNN's verbose log showed the NHWC *weight gradient*
(``jit:avx2`` backward_weights) taking about five times a forward convolution; this script measures
it, in one process, legs alternating round by round (A B A B …) so machine drift hits both alike:

* per convolution (1×64×128×128, 64→64, 3×3, the net's hidden layer): forward, input gradient,
  weight gradient, each in NCHW and NHWC;
* the whole training step as ``zssr`` runs it: ``ZSSRNet`` (8×64, float32) forward on a 128×128
  crop, L1 loss, backward, Adam, with :func:`zssr.network.conv_layout` forced to each layout.

Medians over rounds; the ratio is NHWC over NCHW (above 1: NCHW faster).

Usage: OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/conv_layout.py [--rounds 7] [--threads 1]
Writes benchmarks/results/conv_layout.md (``--out`` to change). Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from machine import result_header, write_result

from zssr import network
from zssr.network import ZSSRNet

LAYOUTS = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}


def _seconds(fn: Callable[[], object], repeats: int) -> float:
    """Mean seconds of ``repeats`` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def conv_legs() -> dict[str, Callable[[], object]]:
    """Forward / input gradient / weight gradient of one hidden convolution, per layout."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 64, 128, 128, generator=gen)
    w = torch.randn(64, 64, 3, 3, generator=gen) * 0.05
    g = torch.rand(1, 64, 128, 128, generator=gen)
    legs: dict[str, Callable[[], object]] = {}
    for name, fmt in LAYOUTS.items():
        xs, ws, gs = (t.contiguous(memory_format=fmt) for t in (x, w, g))

        def backward(mask: list[bool], xs: torch.Tensor = xs, ws: torch.Tensor = ws, gs: torch.Tensor = gs) -> object:
            return torch.ops.aten.convolution_backward(gs, xs, ws, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

        legs[f"forward {name}"] = lambda xs=xs, ws=ws: torch.nn.functional.conv2d(xs, ws, None, 1, 1)
        legs[f"input gradient {name}"] = lambda backward=backward: backward([True, False, False])
        legs[f"weight gradient {name}"] = lambda backward=backward: backward([False, True, False])
    return legs


def step_leg(avx512: bool) -> Callable[[], object]:
    """One training step of the 8×64 net with ``conv_layout`` as on a CPU with(out) AVX-512."""
    net = ZSSRNet(3, generator=torch.Generator().manual_seed(0), precision="float32")
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(1)
    x, target = torch.rand(1, 3, 128, 128, generator=gen), torch.rand(1, 3, 128, 128, generator=gen)

    def step() -> float:
        saved = network._avx512
        network._avx512 = lambda: avx512  # type: ignore[assignment]
        try:
            loss = (net(x) - target).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        finally:
            network._avx512 = saved  # type: ignore[assignment]
        return loss.item()

    return step


def main() -> None:
    """Alternate every leg for ``--rounds`` rounds and write the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "conv_layout.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    legs = conv_legs()
    legs["training step NCHW"] = step_leg(avx512=False)
    legs["training step NHWC"] = step_leg(avx512=True)
    repeats = {name: 3 if name.startswith("training") else 10 for name in legs}
    for name, fn in legs.items():  # warm-up: oneDNN builds its kernels on the first calls
        _seconds(fn, 2)
    times: dict[str, list[float]] = {name: [] for name in legs}
    for _ in range(args.rounds):
        for name, fn in legs.items():
            times[name].append(_seconds(fn, repeats[name]))
    median = {name: statistics.median(v) for name, v in times.items()}
    lines = result_header("Convolution layout on this CPU: NCHW against channels-last (NHWC)")
    lines += [
        f"torch CPU capability: {torch.backends.cpu.get_cpu_capability()}; torch threads: {args.threads}; "
        f"{args.rounds} rounds, legs alternating; medians of per-round means (ms). Ratio: NHWC / NCHW.",
        "",
        "| operation | NCHW ms | NHWC ms | NHWC / NCHW |",
        "|---|---:|---:|---:|",
    ]
    for op in ("forward", "input gradient", "weight gradient", "training step"):
        a, b = median[f"{op} NCHW"], median[f"{op} NHWC"]
        lines.append(f"| {op} | {1000 * a:.1f} | {1000 * b:.1f} | {b / a:.2f} |")
    lines += ["", "Per convolution: 1×64×128×128, 64→64, 3×3. Training step: `ZSSRNet` 8×64 float32, 128×128 crop, "
              "L1, backward, Adam; layout as `zssr.network.conv_layout` picks with and without AVX-512.", ""]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
