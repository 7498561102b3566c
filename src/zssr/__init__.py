"""zssr: Zero-Shot Super-Resolution (Shocher, Cohen & Irani, CVPR 2018).

No pre-trained model: for each image a small CNN is trained at test time on
examples cut from that image alone, then applied to it.

    >>> import zssr
    >>> # sr = zssr.upscale("photo.png", 2, preset="fast")
"""

from __future__ import annotations

from .config import PRESETS, Config, resolve_config
from .errors import (
    ConfigError,
    ImageReadError,
    ImageWriteError,
    KernelError,
    ResourceError,
    ScaleError,
    ShapeError,
    StructureError,
    ZSSRError,
)
from .pipeline import UpscaleResult, upscale, upscale_tensor
from .resize import imresize
from .volume import upscale_volume

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "ImageReadError",
    "ImageWriteError",
    "KernelError",
    "PRESETS",
    "ResourceError",
    "ScaleError",
    "ShapeError",
    "StructureError",
    "UpscaleResult",
    "ZSSRError",
    "__version__",
    "imresize",
    "resolve_config",
    "upscale",
    "upscale_tensor",
    "upscale_volume",
]
