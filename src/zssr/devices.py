"""Which torch device a run uses: ``auto`` and named devices, checked before any work."""

from __future__ import annotations

import re
from typing import Literal

import torch

from .errors import ConfigError, ResourceError

__all__ = ["DeviceName", "resolve_device"]

DeviceName = Literal["auto", "cpu", "cuda", "mps"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an unavailable device is an error.

    ``cuda:N`` is checked against the number of CUDA devices, so a missing GPU is
    one line here rather than an assertion inside torch later.

    Raises:
        ResourceError: a device (or device index) this machine does not have.
        ConfigError: a value that names no device.
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = _as_device(device)
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ResourceError(_missing_cuda(str(dev), count))
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ResourceError(f"device {str(dev)!r} was asked for but Apple MPS is not available")
    if dev.type in ("cpu", "mps") and dev.index not in (None, 0):
        raise ResourceError(f"device {str(dev)!r} does not exist; use {dev.type!r}")
    return dev


_DEVICE = re.compile(r"^(cpu|cuda|mps)(?::(0|[1-9][0-9]*))?$")


def _as_device(device: object) -> torch.device:
    """A device from a ``torch.device`` or a string; the index is read here, not by torch.

    torch keeps a device index in 8 bits, so ``torch.device("cuda:999")`` is
    ``cuda:-25``: a missing GPU would be reported under a number the user never typed.
    """
    if isinstance(device, torch.device):
        if device.index is not None and device.index < 0:
            raise ResourceError(f"device {str(device)!r} does not exist (negative index)")
        return device
    name = device.strip() if isinstance(device, str) else ""
    match = _DEVICE.match(name)
    if match is None:
        raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    kind, index = match.group(1), match.group(2)
    if index is None:
        return torch.device(kind)
    count = torch.cuda.device_count() if kind == "cuda" and torch.cuda.is_available() else 1
    if kind != "cuda" and int(index) != 0:
        raise ResourceError(f"device {name!r} does not exist; use {kind!r}")
    if kind == "cuda" and int(index) >= count:
        raise ResourceError(_missing_cuda(name, count))
    return torch.device(kind, int(index))


def _missing_cuda(name: str, count: int) -> str:
    if not torch.cuda.is_available():
        return f"device {name!r} was asked for but no CUDA device is available"
    return f"device {name!r} was asked for but this machine has {count} CUDA device(s): cuda:0" + (
        f" to cuda:{count - 1}" if count > 1 else "")
