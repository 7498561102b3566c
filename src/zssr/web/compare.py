"""The page's comparison: bicubic vs ZSSR at the output size, and the same region of both zoomed.

SR is judged by eye, side by side and zoomed. The bicubic image is MATLAB bicubic
(:func:`zssr.resize.imresize`, the baseline of every table) of the input to the size of
the ZSSR output, so the two line up pixel for pixel; both zooms are cut from the same
region, so they stay in step whatever region the visitor picks. Previews are 8-bit RGB
(what a browser shows); the download keeps the output's full depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io import read_image, to_array, to_tensor
from ..resize import imresize

__all__ = ["Comparison", "ZOOMS", "preview8"]

#: Zoom factors offered on the page (the region's side is the output's shorter side divided by it).
ZOOMS = (2, 4, 8)
#: Side, in screen pixels, of the zoomed views (nearest-neighbour, so pixels stay visible).
ZOOM_VIEW = 384
_BOX = np.array([255, 214, 0], dtype=np.uint8)  # the region's outline on the overview


def preview8(color: np.ndarray) -> np.ndarray:
    """``H×W×C`` float in [0, 1] (C = 1 or 3) as ``H×W×3`` uint8 for the browser."""
    rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class Comparison:
    """Bicubic and ZSSR previews of one run, at the output size.

    Attributes:
        bicubic: ``H×W×3`` uint8.
        zssr: ``H×W×3`` uint8, from the written output file.
    """

    bicubic: np.ndarray
    zssr: np.ndarray

    @classmethod
    def from_files(cls, source: str, output: str, factor: tuple[float, float]) -> Comparison:
        """Read the input and the written output; make the bicubic image at the output's size."""
        picture = read_image(source)
        sr = read_image(output).color
        size = (int(sr.shape[0]), int(sr.shape[1]))
        up = imresize(to_tensor(picture.color), factor, size=size).clamp(0.0, 1.0)
        return cls(bicubic=preview8(to_array(up)), zssr=preview8(sr))

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the output."""
        return int(self.zssr.shape[0]), int(self.zssr.shape[1])

    def region(self, center: tuple[float, float] | None, zoom: int) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of the zoom region around ``center`` (``(y, x)``; None: the middle)."""
        h, w = self.size
        zoom = max(1, int(zoom))
        side = max(4, min(h, w) // zoom)
        rh, rw = min(side, h), min(side, w)
        cy, cx = (h / 2, w / 2) if center is None else center
        top = int(np.clip(round(cy - rh / 2), 0, h - rh))
        left = int(np.clip(round(cx - rw / 2), 0, w - rw))
        return top, left, rh, rw

    def zoomed(self, center: tuple[float, float] | None, zoom: int) -> tuple[np.ndarray, np.ndarray]:
        """The region of both images, enlarged with nearest neighbour to about :data:`ZOOM_VIEW` pixels."""
        top, left, rh, rw = self.region(center, zoom)
        k = max(1, ZOOM_VIEW // max(rh, rw))
        crops = []
        for image in (self.bicubic, self.zssr):
            crop = image[top : top + rh, left : left + rw]
            crops.append(np.repeat(np.repeat(crop, k, axis=0), k, axis=1))
        return crops[0], crops[1]

    @property
    def overview_factor(self) -> int:
        """How much :meth:`overview` enlarges the output (nearest neighbour), so small images stay clickable."""
        return max(1, ZOOM_VIEW // max(self.size))

    def overview(self, center: tuple[float, float] | None, zoom: int) -> np.ndarray:
        """The ZSSR image with the zoom region outlined, enlarged by :attr:`overview_factor` (click it to move the region)."""
        top, left, rh, rw = self.region(center, zoom)
        image = self.zssr.copy()
        h, w = self.size
        t = max(1, min(h, w) // 128)  # outline thickness grows with the image
        bottom, right = top + rh, left + rw
        image[top : min(top + t, h), left:right] = _BOX
        image[max(bottom - t, 0) : bottom, left:right] = _BOX
        image[top:bottom, left : min(left + t, w)] = _BOX
        image[top:bottom, max(right - t, 0) : right] = _BOX
        k = self.overview_factor
        return np.repeat(np.repeat(image, k, axis=0), k, axis=1) if k > 1 else image
