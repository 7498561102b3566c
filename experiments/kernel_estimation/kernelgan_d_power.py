"""Can KernelGAN's discriminator tell blur widths apart? D trained against a *fixed* G.

KernelGAN's estimates barely depend on the true kernel (``results/kernelgan_ab.md``). This
separates the two halves of the GAN: G is frozen at an isotropic Gaussian of σ' px (the
×2 kernel it would have learnt), and only D trains, with the authors' D, crops, noise,
optimiser and learning rate (no decay), for ``--iterations`` steps on one photo blurred
×2 by an isotropic σ (``kernelgan_ab.py``'s inputs, ``kernel_checks.blurred_lr``). The mean D loss over the last 200
steps says how well D separates the photo's patches from G's output (0.5: not at all;
lower: better). A critic that can guide G would separate a σ' far from the right one
(√3/2 · σ) much better than the right one, so its loss would peak near √3/2 · σ.

``--no-bn`` drops D's batch norms (diagnostic).

Usage (from the repository root; about a minute per photo and σ on 2 CPU cores):
    PYTHONPATH=src python experiments/kernel_estimation/kernelgan_d_power.py [--photo astronaut] [--iterations 1000] [--no-bn]
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))  # machine, kernel_checks

from kernel_checks import blurred_lr  # noqa: E402
from machine import result_header, write_result  # noqa: E402

from zssr.kernel_estimation import CROP, KernelGANConfig  # noqa: E402
from zssr.kernel_estimation.kernelgan import D_CROP, KERNEL_SIZE, build_networks, training_data  # noqa: E402
from zssr.kernels import gaussian_kernel  # noqa: E402

RECIPE = KernelGANConfig()  # the authors' learning rate, betas and noise levels

TRUE_SIGMAS = (0.6, 2.2)
G_SIGMAS = (0.3, 0.6, 0.9, 1.2, 1.5, 1.9, 2.4)


def _d_loss(job: tuple[str, float, float, int, bool]) -> tuple[float, float, float]:
    """Mean D loss over the last 200 of ``iterations`` steps against G fixed at σ'."""
    name, sigma, g_sigma, iterations, no_bn = job
    torch.set_num_threads(1)
    # The data side of KernelGAN's training loop: [-1, 1] working image and the authors' crops (seed 0).
    work, g_corners, d_corners = training_data(blurred_lr(name, sigma), iterations, 0, torch.device("cpu"))
    c = int(work.shape[1])
    kernel = gaussian_kernel(KERNEL_SIZE, g_sigma, g_sigma).float()[None, None]
    _, d = build_networks(c, 0)
    if no_bn:
        d.net = torch.nn.Sequential(*[torch.nn.Identity() if isinstance(m, torch.nn.BatchNorm2d) else m for m in d.net])
    opt = torch.optim.Adam(d.parameters(), lr=RECIPE.learning_rate, betas=RECIPE.betas)
    noise = torch.Generator().manual_seed(0)
    losses = []
    for it in range(iterations):
        (gt, gl), (dt, dl) = g_corners[it], d_corners[it]
        with torch.no_grad():
            fake = F.conv2d(work[0, :, gt : gt + CROP, gl : gl + CROP].unsqueeze(1), kernel, stride=2).transpose(0, 1)
            fake = fake + RECIPE.noise_fake * torch.randn(fake.shape, generator=noise)
            real = work[:, :, dt : dt + D_CROP, dl : dl + D_CROP]
            real = real + RECIPE.noise_real * torch.randn(real.shape, generator=noise)
        opt.zero_grad()
        loss = 0.5 * ((1.0 - d(real)).mean() + d(fake).mean())
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return sigma, g_sigma, float(np.mean(losses[-200:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", default="astronaut")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--no-bn", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    jobs = [(args.photo, s, g, args.iterations, args.no_bn) for s in TRUE_SIGMAS for g in G_SIGMAS]
    with ProcessPoolExecutor(args.jobs) as pool:
        loss = {(s, g): v for s, g, v in pool.map(_d_loss, jobs)}
    d_kind = "without batch norm" if args.no_bn else "the authors' D"
    lines = result_header(f"KernelGAN's D against a fixed G: does its loss single out the right blur? ({args.photo})")
    lines += [
        f"D: {d_kind}, {args.iterations} steps at lr {RECIPE.learning_rate:g}; cells: mean D loss over the last 200 steps "
        "(0.5 = cannot tell; lower = separates). A useful critic peaks near σ' = √3/2·σ.", "",
        "| true σ (√3/2·σ) | " + " | ".join(f"G σ' = {g}" for g in G_SIGMAS) + " |", "|---|" + "---|" * len(G_SIGMAS),
    ]
    for s in TRUE_SIGMAS:
        lines.append(f"| {s} ({math.sqrt(3) / 2 * s:.2f}) | " + " | ".join(f"{loss[(s, g)]:.3f}" for g in G_SIGMAS) + " |")
    out = Path(args.out) if args.out else HERE / "results" / f"kernelgan_d_power{'_nobn' if args.no_bn else ''}.md"
    write_result(out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
