"""Applying a kernel: centre it the authors' way, then blur and subsample (the LR son, paper §3)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.io
import scipy.ndimage
import scipy.signal
import torch
import torch.nn.functional as F

from zssr.errors import ShapeError
from zssr.kernels.validate import as_array, check_array, factor_pair
from zssr.resize import output_size

__all__ = ["DOWNSCALE_BAND_MACS", "align_kernel", "center_of_mass", "downscale"]

#: Multiply-adds per native call of :func:`downscale` (about 0.1 s on a 2-core CPU);
#: larger work is split into bands of output rows.
DOWNSCALE_BAND_MACS = 1 << 27


def center_of_mass(kernel: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """The kernel's centre of mass ``(row, column)``, 0-based (as ``scipy.ndimage``).

    Raises:
        KernelError: an invalid kernel.

    Shape:
        ``kh×kw`` → 2 floats.
    """
    k = check_array(as_array(kernel, "kernel"), "kernel")
    rows = np.arange(k.shape[0], dtype=np.float64)
    cols = np.arange(k.shape[1], dtype=np.float64)
    return float(k.sum(axis=1) @ rows), float(k.sum(axis=0) @ cols)


def _aligned_target(shape: tuple[int, int], factor: tuple[float, float]) -> np.ndarray:
    return np.array([n // 2 + (f - 1.0) / 2.0 for n, f in zip(shape, factor)])


def align_kernel(kernel: torch.Tensor | np.ndarray, factor: float | Sequence[float]) -> torch.Tensor:
    """Shift a kernel so that :func:`downscale` samples the centre of each HR block.

    Why (port of the authors' ``kernel_shift``, docs/authors_code.md §6): :func:`downscale`
    correlates with the kernel anchored at index ``⌊k/2⌋`` and keeps pixels
    ``0, sf, 2sf, …``; LR pixel ``j`` must however see HR block
    ``[sf·j, sf·j+sf−1]`` centred, as MATLAB ``imresize`` does. So the centre of
    mass is moved (per axis, 0-based) to ``⌊k/2⌋ + (sf − 1)/2``. This also fixes
    the kernel's ambiguous translation (an estimated kernel can be off-centre).

    The authors wrote ``⌊k/2⌋ + 0.5·(sf − k mod 2)``, which is right for odd
    sizes only; under Python 3's true division (``k/2`` not floored) it put every
    LR pixel ¼ LR pixel off, the artefacts of ZSSR issues #8/#20/#21 and PR #17.
    The rule used here matches ``imresize`` to > 78 dB for odd *and* even sizes.

    Steps (as the authors): zero-pad by ``⌈max|shift|⌉ + 1`` on all sides so the
    shifted mass stays inside, then a sub-pixel cubic-spline shift
    (``scipy.ndimage.shift``, order 3, mode ``'constant'``). Unlike the authors we
    renormalise to sum 1 afterwards: the spline shift changes the sum by ~1e-4
    for a half-pixel shift, and a kernel that does not sum to 1 would make sons
    darker or brighter than their fathers. Integer shifts are exact.

    Args:
        kernel: unaligned kernel (numpy or torch).
        factor: SR factor ``sf ≥ 1`` or ``(sf_y, sf_x)``.

    Returns:
        float64 tensor, larger than the input by ``2·(⌈max|shift|⌉ + 1)`` per axis.

    Raises:
        KernelError: an invalid kernel.
        ScaleError: a factor that is not finite and ≥ 1.

    Shape:
        ``kh×kw`` → ``(kh+2p)×(kw+2p)``.
    """
    sf = factor_pair(factor)
    k = check_array(as_array(kernel, "kernel"), "kernel")
    current = np.array(center_of_mass(k))
    shift = _aligned_target(k.shape, sf) - current
    # The target moves with the padding (⌊(k+2p)/2⌋ = ⌊k/2⌋ + p), so the shift is
    # computed on the original size and applied after padding.
    pad = int(math.ceil(float(np.max(np.abs(shift))))) + 1
    padded = np.pad(k, pad, mode="constant")
    moved = scipy.ndimage.shift(padded, shift, order=3, mode="constant")
    return torch.from_numpy(check_array(moved, "aligned kernel"))


# ---------------------------------------------------------------------------
# applying a kernel
# ---------------------------------------------------------------------------


def _symmetric_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices ``-before … n+after-1`` mirrored into ``[0, n)`` half-sample symmetrically.

    Period ``2n`` with the edge pixel repeated (scipy ``'reflect'``, MATLAB
    ``'symmetric'``); index arithmetic handles pads larger than the image, which
    ``F.pad(mode='reflect')`` (whole-sample, edge not repeated) does not.
    """
    idx = torch.arange(-before, n + after, device=device)
    idx = torch.remainder(idx, 2 * n)
    return torch.where(idx >= n, 2 * n - 1 - idx, idx)


def _sample_positions(n_in: int, factor: float, n_out: int) -> np.ndarray:
    # Authors' numeric_kernel: round(linspace(0, n − 1/s, n_out)) with s = 1/sf.
    # For n divisible by an integer sf this is 0, sf, 2sf, …; otherwise the grid
    # is stretched so its last sample is n − sf (a quirk kept for fidelity).
    pos = np.round(np.linspace(0.0, n_in - factor, n_out)).astype(np.int64)
    return np.clip(pos, 0, n_in - 1)


def _uniform_step(pos: np.ndarray) -> int | None:
    """The step if ``pos`` is ``0, s, 2s, …`` (so a strided conv can be used)."""
    if pos[0] != 0:
        return None
    if len(pos) == 1:
        return 1
    step = int(pos[1] - pos[0])
    if step >= 1 and np.array_equal(pos, np.arange(len(pos)) * step):
        return step
    return None


def downscale(
    image: torch.Tensor,
    kernel: torch.Tensor | np.ndarray,
    factor: float | Sequence[float],
    *,
    size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Blur with a numeric kernel and subsample: the authors' ``numeric_kernel`` (docs/authors_code.md §6).

    Each channel is correlated with the 2-D kernel (anchored at ``⌊k/2⌋`` like
    ``scipy.ndimage.correlate``) with half-sample-symmetric boundaries, then rows
    ``round(linspace(0, H − sf_y, out_H))`` and likewise columns are kept. The
    kernel must already be aligned for ``factor`` (:func:`align_kernel`); this is
    not checked, because callers align once at load time, as the authors do, and
    this runs for every LR son.

    Args:
        image: float tensor ``N×C×H×W`` (float32/float64, any device).
        kernel: aligned 2-D kernel; cast to the image's dtype and device. Not
            renormalised; a torch kernel keeps its autograd graph.
        factor: SR factor ``sf ≥ 1`` or ``(sf_y, sf_x)``; non-integer allowed.
        size: output ``(H, W)``; default ``ceil(H/sf_y), ceil(W/sf_x)`` (as ``imresize``).

    Returns:
        The downscaled tensor, same dtype and device. Differentiable in ``image``
        (and in ``kernel`` when it is a tensor requiring grad).

    Raises:
        ShapeError: an image that is not a non-empty floating ``N×C×H×W`` tensor,
            or a kernel that is not a non-empty 2-D array.
        ScaleError: a factor that is not finite and ≥ 1, or a bad ``size``.

    Shape:
        ``N×C×H×W`` → ``N×C×out_H×out_W``.
    """
    if not torch.is_tensor(image) or not image.is_floating_point():
        got = f"a tensor of dtype {image.dtype}" if torch.is_tensor(image) else type(image).__name__
        raise ShapeError(f"image must be a floating-point torch tensor N×C×H×W, got {got}")
    if image.dim() != 4 or min(image.shape) == 0:
        raise ShapeError(f"image must have shape N×C×H×W with every dim ≥ 1, got {tuple(image.shape)}")
    sf = factor_pair(factor)
    n, c, h, w = (int(v) for v in image.shape)
    _, out = output_size((h, w), (1.0 / sf[0], 1.0 / sf[1]), size)
    if torch.is_tensor(kernel):
        k = kernel.to(dtype=image.dtype, device=image.device)
    else:
        k = torch.as_tensor(np.asarray(kernel, dtype=np.float64), dtype=image.dtype, device=image.device)
    if k.dim() != 2 or k.numel() == 0:
        raise ShapeError(f"kernel must be a non-empty 2-D array kh×kw, got shape {tuple(k.shape)}")
    kh, kw = int(k.shape[0]), int(k.shape[1])

    # STEP 1 - symmetric padding so that output pixel i sees input i-⌊k/2⌋ … i+k-1-⌊k/2⌋.
    rows = _symmetric_index(h, kh // 2, kh - 1 - kh // 2, image.device)
    cols = _symmetric_index(w, kw // 2, kw - 1 - kw // 2, image.device)
    padded = image.index_select(2, rows).index_select(3, cols)

    # STEP 2 - depthwise correlation (conv2d is a correlation), only where it is sampled.
    pos_r = _sample_positions(h, sf[0], out[0])
    pos_c = _sample_positions(w, sf[1], out[1])
    step_r, step_c = _uniform_step(pos_r), _uniform_step(pos_c)
    weight = k.expand(c, 1, kh, kw)
    cols_t = torch.as_tensor(pos_c, device=image.device)
    # Bands of output rows keep each native call short (Ctrl-C is only seen between
    # calls: one conv of a big kernel over a big image runs for minutes); every
    # output pixel is computed exactly as in one call.
    per_row = n * c * kh * kw * (out[1] if step_c is not None else w)
    band = max(1, DOWNSCALE_BAND_MACS // max(per_row, 1))
    pieces = []
    for first in range(0, out[0], band):
        rows_here = pos_r[first : first + band]
        if step_r is not None and step_c is not None:
            # Regular grid (integer sf dividing the size): a strided conv computes only the kept pixels.
            top = int(rows_here[0])
            span = padded[:, :, top : int(rows_here[-1]) + kh, : (out[1] - 1) * step_c + kw]
            pieces.append(F.conv2d(span, weight, stride=(step_r, step_c), groups=c))
            continue
        # STEP 3 - subsample at the authors' (possibly irregular) positions.
        top = int(rows_here[0])
        blurred = F.conv2d(padded[:, :, top : int(rows_here[-1]) + kh], weight, groups=c)
        blurred = blurred.index_select(2, torch.as_tensor(rows_here - top, device=image.device))
        pieces.append(blurred.index_select(3, cols_t))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)
