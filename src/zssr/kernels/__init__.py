"""Numeric downscaling kernels: validate, load/save, align, apply, generate.

ZSSR makes each LR son by blurring the HR father with a downscaling kernel and
subsampling (paper §3, §4.2). With no kernel it uses MATLAB bicubic
(``zssr.resize.imresize``); with a numeric kernel (given, or estimated by
KernelGAN) it takes the path of this module, a port of the authors'
``numeric_kernel`` / ``kernel_shift`` (docs/authors_code.md §6).

Convention:
    A kernel is a 2-D ``float64`` CPU tensor ``kh×kw`` that sums to 1, indexed
    ``(row, column)``. ``factor`` is always the SR factor ``sf ≥ 1`` (a number or
    a ``(vertical, horizontal)`` pair): ``factor=2`` halves each side. This is
    the reciprocal of ``imresize``'s ``scale``. Kernels are stored *unaligned*
    (centre of mass at the kernel centre, as files and generators give them) and
    aligned once with :func:`align_kernel` before :func:`downscale`, as the
    authors do at load time.
"""


from __future__ import annotations

from zssr.kernels.apply import align_kernel, center_of_mass, downscale
from zssr.kernels.files import kernel_picture, load_kernel, save_kernel
from zssr.kernels.make import (
    MAX_KERNEL_SIDE,
    KernelRecipe,
    bicubic_kernel,
    compose,
    compose_x4,
    gaussian_kernel,
    random_gaussian_kernel,
)
from zssr.kernels.validate import validate_kernel

__all__ = [
    "MAX_KERNEL_SIDE",
    "KernelRecipe",
    "align_kernel",
    "bicubic_kernel",
    "center_of_mass",
    "compose",
    "compose_x4",
    "downscale",
    "gaussian_kernel",
    "kernel_picture",
    "load_kernel",
    "random_gaussian_kernel",
    "save_kernel",
    "validate_kernel",
]
