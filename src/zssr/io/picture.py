"""The in-memory image of the io boundary: colour, separate alpha, depth and ICC profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zssr.errors import ShapeError
from zssr.io._formats import check_bit_depth, describe

__all__ = ["Picture"]


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy fields with == is ambiguous
class Picture:
    """An image as read from disk: colour, separate alpha and what is needed to write it back.

    Attributes:
        color: ``H×W×C`` float32 in [0, 1], ``C`` = 1 (gray) or 3 (RGB).
        alpha: ``H×W`` float32 in [0, 1], or ``None`` for opaque images. Kept as its
            own plane so that only colour is super-resolved.
        bit_depth: 8 or 16, the depth of the source; passing it to :func:`write_image`
            keeps a 16-bit input 16-bit.
        icc_profile: the embedded ICC colour profile, written back unchanged.
        path: the file the picture came from, if any.

    Raises:
        ShapeError: ``color`` or ``alpha`` has the wrong dtype, rank or size.
        ImageWriteError: ``bit_depth`` is not 8 or 16.
    """

    color: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    icc_profile: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        color = self.color
        if not isinstance(color, np.ndarray) or color.dtype != np.float32 or color.ndim != 3:
            raise ShapeError(f"Picture.color must be an H×W×C float32 array; got {describe(color)}")
        if color.shape[2] not in (1, 3):
            raise ShapeError(f"Picture.color must have 1 or 3 channels; got shape {color.shape}")
        alpha = self.alpha
        if alpha is not None and (
            not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32 or alpha.shape != color.shape[:2]
        ):
            raise ShapeError(
                f"Picture.alpha must be None or an H×W float32 array with H×W = {color.shape[:2]}; "
                f"got {describe(alpha)}"
            )
        check_bit_depth(self.bit_depth, "Picture.bit_depth")

    @property
    def height(self) -> int:
        """Number of rows ``H``."""
        return int(self.color.shape[0])

    @property
    def width(self) -> int:
        """Number of columns ``W``."""
        return int(self.color.shape[1])

    @property
    def channels(self) -> int:
        """Number of colour channels ``C`` (1 or 3; alpha not counted)."""
        return int(self.color.shape[2])
