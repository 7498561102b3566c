"""The one numpy <-> torch converter pair: the package's way into and out of torch."""

from __future__ import annotations

import numpy as np
import torch

from zssr.errors import ShapeError
from zssr.io._formats import is_real_numeric

__all__ = ["to_array", "to_tensor"]


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """Numpy image -> torch batch of one: the package's way into torch.

    Shape:
        ``H×W×C`` or ``H×W`` -> ``1×C×H×W`` float32, contiguous, on the CPU. The
        tensor owns a copy, so editing it never changes ``array``.

    Raises:
        ShapeError: ``array`` is not a 2-D or 3-D real numeric numpy array.
    """
    if not isinstance(array, np.ndarray):
        raise ShapeError(f"array must be a numpy H×W×C or H×W array; got {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ShapeError(f"array must be H×W×C or H×W; got shape {array.shape}")
    if not is_real_numeric(array.dtype):
        raise ShapeError(f"array must be real numeric; got dtype {array.dtype}")
    planes = array[..., None] if array.ndim == 2 else array
    chw = np.array(planes.transpose(2, 0, 1)[None], dtype=np.float32, order="C", copy=True)
    return torch.from_numpy(chw)


def to_array(tensor: torch.Tensor) -> np.ndarray:
    """Torch image -> numpy ``H×W×C``: the package's way out of torch.

    Shape:
        ``1×C×H×W`` or ``C×H×W`` -> ``H×W×C`` float32 numpy (detached, on the CPU,
        an independent copy).

    Raises:
        ShapeError: ``tensor`` is not 3-D, or 4-D with a batch of one.
    """
    if not isinstance(tensor, torch.Tensor):
        raise ShapeError(f"tensor must be a torch 1×C×H×W or C×H×W tensor; got {type(tensor).__name__}")
    if tensor.dim() == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    elif tensor.dim() != 3:
        raise ShapeError(f"tensor must be 1×C×H×W or C×H×W; got shape {tuple(tensor.shape)}")
    hwc = tensor.detach().to(device="cpu", dtype=torch.float32).permute(1, 2, 0)
    return np.array(hwc.numpy(), dtype=np.float32, order="C", copy=True)
