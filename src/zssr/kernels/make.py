"""Making kernels: bicubic, Gaussian, random (the authors' and DIV2KRK's recipes), composed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.io
import scipy.ndimage
import scipy.signal
import torch

from zssr._validate import seed_value
from zssr.errors import KernelError, ScaleError
from zssr.kernels.validate import (
    MAX_FACTOR,
    MAX_SIDE,
    as_array,
    check_array,
    factor_pair,
    integer_pair,
    validate_kernel,
)

__all__ = ["MAX_KERNEL_SIDE", "RECIPES", "KernelRecipe", "bicubic_kernel", "compose", "compose_x4", "gaussian_kernel", "random_gaussian_kernel"]

KernelRecipe = Literal["zssr", "div2krk"]
RECIPES = ("zssr", "div2krk")

#: The widest kernel made here (the public name of :data:`~zssr.kernels.validate.MAX_SIDE`):
#: a wider blur is no downscaling kernel, and 10⁵ taps per side would need 80 GB.
MAX_KERNEL_SIDE = MAX_SIDE


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    # Keys (1981) cubic with a = -0.5: MATLAB's 'bicubic'.
    a = np.abs(x)
    return np.where(
        a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1.0, np.where(a < 2, -0.5 * a**3 + 2.5 * a**2 - 4.0 * a + 2.0, 0.0)
    )


def _bicubic_1d(f: int) -> np.ndarray:
    # imresize by 1/f maps 0-based LR pixel j to HR coordinate f·j + (f−1)/2 and
    # weighs HR pixel p by cubic((p − u)/f)/f for |p − u| < 2f (antialiasing
    # stretches the 4-wide cubic by f, docs/authors_code.md §7). The offsets p − u are
    # half-integers for even f and integers for odd f, the same for every j.
    n = 4 * f if f % 2 == 0 else 4 * f - 1
    offsets = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    taps = _keys_cubic(offsets / f) / f
    return taps / taps.sum()


def bicubic_kernel(factor: int | Sequence[int], *, size: int | Sequence[int] | None = None) -> torch.Tensor:
    """MATLAB's antialiased bicubic downscaling as an explicit 2-D kernel.

    The outer product of the 1-D taps ``imresize(·, 1/f)`` applies to every
    output pixel (Keys a = −0.5, stretched by ``f``, normalised). It is returned
    *unaligned* (centre of mass at the kernel centre), so that
    ``downscale(x, align_kernel(bicubic_kernel(f), f), f)`` reproduces
    ``imresize(x, 1/f)`` (docs/authors_code.md §6: the reference for the alignment rule).
    Sizes: ``4f`` taps for even ``f`` (8 at ×2, 16 at ×4), ``4f − 1`` for odd
    ``f`` (11 at ×3). Only integer factors have one kernel for all pixels.

    Args:
        factor: integer SR factor ``f ≥ 1`` or ``(f_y, f_x)``.
        size: pad with zeros to this size (int or ``(kh, kw)``), equally on both
            sides; an odd extra row/column goes to the bottom/right. Padding to
            odd size exercises the odd-size alignment path.

    Returns:
        float64 tensor summing to 1.

    Raises:
        ScaleError: a factor that is not a positive integer.
        KernelError: a ``size`` smaller than the taps.

    Shape:
        → ``kh×kw``.
    """
    fy, fx = integer_pair(factor, "factor")
    k = np.outer(_bicubic_1d(fy), _bicubic_1d(fx))
    if size is not None:
        target = _size_pair(size, "size")
        extra = [t - n for t, n in zip(target, k.shape)]
        if min(extra) < 0:
            raise KernelError(f"size must be at least the bicubic support {k.shape} at factor {factor!r}, got {size!r}")
        k = np.pad(k, [(e // 2, e - e // 2) for e in extra])
    return torch.from_numpy(k / k.sum())


def _size_pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        pair = (int(size), int(size))
    else:
        try:
            items = tuple(size)  # type: ignore[arg-type]
        except TypeError:
            items = ()
        if len(items) != 2 or any(isinstance(v, bool) or int(v) != v for v in items):
            raise KernelError(f"{name} must be a positive integer or a (kh, kw) pair, got {size!r}")
        pair = (int(items[0]), int(items[1]))
    if min(pair) < 1:
        raise KernelError(f"{name} must be ≥ 1, got {size!r}")
    if max(pair) > MAX_SIDE:
        raise KernelError(f"{name} must be at most {MAX_SIDE} taps per side (the largest usable kernel), got {size!r}")
    return pair


def gaussian_kernel(
    size: int | Sequence[int], sigma_y: float, sigma_x: float, theta: float = 0.0
) -> torch.Tensor:
    """An anisotropic Gaussian kernel, centred on the grid, normalised to sum 1.

    Covariance ``R·diag(σ_x², σ_y²)·Rᵀ`` (paper §4.2's random-kernel family): at
    ``theta = 0`` ``sigma_y`` spreads along rows (vertically) and ``sigma_x``
    along columns; ``theta`` (radians) turns the ``sigma_x`` axis counter-clockwise
    as the kernel is displayed (row 0 at the top). ``theta`` and ``theta + π``
    give the same kernel.

    Args:
        size: side (int) or ``(kh, kw)``; the centre is ``((kh−1)/2, (kw−1)/2)``.
        sigma_y: vertical standard deviation in pixels (at ``theta = 0``), finite and > 0.
        sigma_x: horizontal standard deviation in pixels (at ``theta = 0``), finite and > 0.
        theta: rotation in radians.

    Raises:
        KernelError: a bad size, sigma or theta.

    Shape:
        → ``kh×kw`` float64.
    """
    kh, kw = _size_pair(size, "size")
    for name, v in (("sigma_y", sigma_y), ("sigma_x", sigma_x)):
        if not (math.isfinite(float(v)) and float(v) > 0):
            raise KernelError(f"{name} must be finite and > 0, got {v!r}")
    if not math.isfinite(float(theta)):
        raise KernelError(f"theta must be finite (radians), got {theta!r}")
    y = np.arange(kh, dtype=np.float64)[:, None] - (kh - 1) / 2.0
    x = np.arange(kw, dtype=np.float64)[None, :] - (kw - 1) / 2.0
    c, s = math.cos(theta), math.sin(theta)
    along = x * c - y * s  # coordinate along the sigma_x axis, direction (cos θ, −sin θ) in (x, y-down)
    across = x * s + y * c
    k = np.exp(-0.5 * ((along / float(sigma_x)) ** 2 + (across / float(sigma_y)) ** 2))
    return torch.from_numpy(k / k.sum())


def _as_generator(generator: torch.Generator | int) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(seed_value(generator, "generator"))
    raise KernelError(f"generator must be a torch.Generator or an int seed, got {type(generator).__name__}")


def random_gaussian_kernel(
    factor: float,
    *,
    generator: torch.Generator | int,
    recipe: KernelRecipe = "zssr",
    size: int | None = None,
) -> torch.Tensor:
    """A random anisotropic Gaussian downscaling kernel, drawn by a named recipe.

    Recipes (λ are covariance eigenvalues, i.e. variances in pixels²):

    * ``'zssr'`` (paper §4.2, Table 2's BSD100 random-kernel set): "random angle θ
      and random lengths λ1, λ2 in each axis", bounds depending on the SR factor
      ``s``. The formula itself was lost from the paper text we hold, so the
      numbers are our choice: θ ~ U[0, π), λ1, λ2 ~ U[0.35, s²] (σ from 0.59 px
      to ``s`` px, "reasonably sized"), side ``2·⌈3s⌉ + 1`` (13 at ×2, the size
      of the authors' and KernelGAN's kernels). Any ``s ≥ 1``.
    * ``'div2krk'`` (KernelGAN's DIV2KRK generator, anchors §2, public defaults):
      λ1, λ2 ~ U[0.175·2, 2.5·2] = U[0.35, 5], θ ~ U(−π, π), per-tap
      multiplicative noise ``1 + U(−0.4, 0.4)``, normalised, 11×11. ×4 kernels
      are the analytic composition of a ×2 kernel (:func:`compose_x4`, 31×31),
      as in DIV2KRK. Only ``s`` = 2 or 4.

    The Gaussian's mean sits at the grid centre (the unaligned form; align with
    :func:`align_kernel`, which places the centre of mass whatever the noise did).

    Args:
        factor: SR factor ``s``.
        generator: a ``torch.Generator`` (advanced) or an int seed.
        recipe: ``'zssr'`` or ``'div2krk'``.
        size: side of the sampled Gaussian (for ``'div2krk'`` ×4: of the ×2 kernel).

    Raises:
        ScaleError: a factor the recipe does not support.
        KernelError: an unknown recipe, a bad size or generator.

    Shape:
        → ``k×k`` float64.
    """
    if recipe not in RECIPES:
        raise KernelError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    sy, s = factor_pair(factor)
    if sy != s:
        raise ScaleError(f"factor must be one number for random kernels, got {factor!r}")
    gen = _as_generator(generator)
    if recipe == "div2krk":
        if s not in (2.0, 4.0):
            raise ScaleError(f"factor must be 2 or 4 for the 'div2krk' recipe (DIV2KRK has ×2 and ×4), got {factor!r}")
        side = 11 if size is None else _size_pair(size, "size")[0]
        lo, hi = 0.175 * 2.0, 2.5 * 2.0
        u = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
        lam1, lam2 = lo + u[0] * (hi - lo), lo + u[1] * (hi - lo)
        theta = -math.pi + u[2] * 2.0 * math.pi
        noise = 1.0 + (torch.rand(side, side, generator=gen, dtype=torch.float64) * 0.8 - 0.4)
        k2 = validate_kernel(gaussian_kernel(side, math.sqrt(lam2), math.sqrt(lam1), theta) * noise)
        return compose_x4(k2) if s == 4.0 else k2
    if s > MAX_FACTOR:
        raise ScaleError(f"factor must be at most {MAX_FACTOR:g} for random kernels (their side is 2·⌈3·factor⌉ + 1), "
                         f"got {factor!r}")
    side = 2 * math.ceil(3.0 * s) + 1 if size is None else _size_pair(size, "size")[0]
    lo, hi = 0.35, max(0.35, s * s)
    u = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
    lam1, lam2 = lo + u[0] * (hi - lo), lo + u[1] * (hi - lo)
    theta = u[2] * math.pi
    return gaussian_kernel(side, math.sqrt(lam2), math.sqrt(lam1), theta)


#: Work bound of :func:`compose` (direct convolution, a few seconds): two 128×128 kernels.
_COMPOSE_MACS = 2**28


def compose(
    kernel_a: torch.Tensor | np.ndarray,
    kernel_b: torch.Tensor | np.ndarray,
    factor_a: int | Sequence[int],
    *,
    size: int | Sequence[int] | None = None,
) -> torch.Tensor:
    """One kernel for two successive downscales: by ``factor_a`` with ``a``, then with ``b``.

    Correlating with ``a`` and keeping every ``f_a``-th pixel, then correlating with
    ``b``, equals correlating once with ``a ∗ dilate(b, f_a)`` (full convolution;
    ``b`` with ``f_a − 1`` zeros between taps) and keeping every ``f_a·f_b``-th
    pixel. For odd sizes the ``⌊k/2⌋`` anchors add up exactly, and centres of mass
    add as ``com(a) + f_a·com(b)``, so composing aligned kernels gives a kernel
    aligned for ``f_a·f_b``, and composing centred ones a centred one.

    Args:
        kernel_a: the first kernel.
        kernel_b: the second kernel.
        factor_a: the integer factor of the first downscale (or a pair).
        size: centre-crop the full support ``k_a + f_a·(k_b − 1)`` to this size
            (same parity; KernelGAN crops 37→25 for 13×13 ×2 kernels). Default:
            the full support, which loses nothing.

    Returns:
        float64 tensor normalised to sum 1.

    Raises:
        KernelError: invalid kernels or a bad ``size``.
        ScaleError: a non-integer ``factor_a``.

    Shape:
        ``ha×wa``, ``hb×wb`` → ``(ha+f(hb−1))×(wa+f(wb−1))`` or ``size``.
    """
    a = check_array(as_array(kernel_a, "kernel_a"), "kernel_a")
    b = check_array(as_array(kernel_b, "kernel_b"), "kernel_b")
    fy, fx = integer_pair(factor_a, "factor_a")
    support = (a.shape[0] + fy * (b.shape[0] - 1), a.shape[1] + fx * (b.shape[1] - 1))
    if max(support) > MAX_SIDE or a.size * b.size > _COMPOSE_MACS:
        raise KernelError(
            f"kernels of {a.shape[0]}×{a.shape[1]} and {b.shape[0]}×{b.shape[1]} taps are too large to compose: "
            f"the result would be {support[0]}×{support[1]} (at most {MAX_SIDE} per side) and cost "
            f"{a.size * b.size:.2g} multiply-adds (at most {_COMPOSE_MACS:.2g}, kernels up to about 128×128)"
        )
    dilated = np.zeros((fy * (b.shape[0] - 1) + 1, fx * (b.shape[1] - 1) + 1))
    dilated[::fy, ::fx] = b
    full = scipy.signal.convolve2d(a, dilated, mode="full")
    if size is not None:
        target = _size_pair(size, "size")
        extra = [n - t for n, t in zip(full.shape, target)]
        if min(extra) < 0 or any(e % 2 for e in extra):
            raise KernelError(
                f"size must be at most the full support {full.shape} with the same parity, got {size!r}"
            )
        full = full[extra[0] // 2 : extra[0] // 2 + target[0], extra[1] // 2 : extra[1] // 2 + target[1]]
    return torch.from_numpy(check_array(full, "composed kernel"))


def compose_x4(kernel_x2: torch.Tensor | np.ndarray, *, size: int | Sequence[int] | None = None) -> torch.Tensor:
    """KernelGAN's analytic ×4 kernel: two ×2 downscales with the same kernel.

    ``k4 = k2 ∗ dilate(k2, 2)`` (anchors §1: KernelGAN only learns ×2; DIV2KRK's
    ×4 kernels are built this way, 11×11 → 31×31). Default: full support
    ``3k − 2``; pass ``size=2k−1`` for KernelGAN's crop (37 → 25 at k = 13).

    Shape:
        ``k×k`` → ``(3k−2)×(3k−2)`` or ``size``.
    """
    return compose(kernel_x2, kernel_x2, 2, size=size)
