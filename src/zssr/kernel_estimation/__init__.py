"""Blind kernel estimation: the downscaling kernel of an LR image, from that image alone.

Two estimators, one result type (:class:`KernelEstimate`) and one kernel convention
(correlation kernels, unaligned: pass them through ``zssr.kernels.align_kernel`` before use):

- :func:`estimate_kernel_edges` (:mod:`.edges`): the blur across the image's strongest
  edges; deterministic, under a second. The default of ``zssr upscale --kernel auto``
  (Table 2: 57% of the bicubic-kernel → true-kernel gap).
- :func:`estimate_kernel` (:mod:`.kernelgan`): KernelGAN, an image-specific GAN whose
  linear generator is the kernel; about a minute per image on a CPU, recipe in
  :class:`KernelGANConfig` (Table 2: 45%).

:func:`kernel_harm` (:mod:`.harm`) is the do-no-harm check of ``--kernel auto``: whether an
output made with an estimate shows that the estimate was too wide.

The shared pieces (input checks, luma, kernel reshaping for other factors) are public here
so that experimental estimators (``experiments/kernel_estimation``) build on the same ones.
"""

from __future__ import annotations

from ._common import (
    CROP,
    DEGENERATE_SPREAD,
    MARGIN,
    MIN_SIZE,
    SPREAD_RADIUS,
    WIDTH_CORRECTION,
    KernelEstimate,
    check_factor,
    check_image,
    kernel_for_factor,
    luma,
    rescale_kernel,
    spread_mass,
    trim_zero_border,
)
from ._progress import TqdmKernelProgress
from .edges import edge_blur, edge_sharpness, estimate_kernel_edges, kernel_from_covariance
from .harm import (
    OVERAMPLIFIED_GAIN,
    OVERSHARP_SIGMA,
    OutputReading,
    high_frequency_gain,
    kernel_harm,
    oversharpened,
    read_output,
)
from .kernelgan import LOSS_NAMES, RESTARTS, KernelGANConfig, KernelGANProgress, estimate_kernel

__all__ = [
    "CROP",
    "DEGENERATE_SPREAD",
    "LOSS_NAMES",
    "MARGIN",
    "MIN_SIZE",
    "OVERAMPLIFIED_GAIN",
    "OVERSHARP_SIGMA",
    "RESTARTS",
    "SPREAD_RADIUS",
    "WIDTH_CORRECTION",
    "KernelEstimate",
    "KernelGANConfig",
    "KernelGANProgress",
    "OutputReading",
    "TqdmKernelProgress",
    "check_factor",
    "check_image",
    "edge_blur",
    "edge_sharpness",
    "estimate_kernel",
    "estimate_kernel_edges",
    "high_frequency_gain",
    "kernel_for_factor",
    "kernel_from_covariance",
    "kernel_harm",
    "luma",
    "oversharpened",
    "read_output",
    "rescale_kernel",
    "spread_mass",
    "trim_zero_border",
]
