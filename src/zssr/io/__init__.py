"""Reading and writing images, and the one numpy <-> torch converter pair.

ZSSR trains on the single test image it is given (paper §3), so every bit of
that image matters: inputs are read at their full depth (8 or 16 bits per
sample) and outputs keep it where the format allows ("16-bit in, 16-bit out").

Convention:
    At this boundary an image is a numpy ``H×W×C`` float32 array in [0, 1]
    with ``C = 1`` (grayscale) or ``C = 3`` (RGB); an alpha channel travels
    as its own ``H×W`` float32 plane and is never super-resolved as colour.
    Inside the package images are torch ``N×C×H×W`` float32 tensors;
    :func:`to_tensor` and :func:`to_array` are the only converters.

Notes:
    * PNG, JPEG, BMP and WebP are read with Pillow, TIFF with tifffile
      (Pillow is the fallback for TIFF layouts tifffile cannot decode without
      optional codecs, e.g. LZW or JPEG compression, palette or CMYK TIFFs).
      16-bit PNGs are decoded here because Pillow reduces 16-bit RGB(A) and
      gray+alpha PNGs to 8 bits.
    * The format of a file read is taken from its content, the format of a
      file written from its suffix.
    * Writes are atomic: a hidden ``.<name>.<random>.tmp`` file in the output
      folder is written, fsynced and renamed over the target, so a crash
      never leaves a half-written image under the final name.
"""

from __future__ import annotations

from zssr.io._formats import IMAGE_SUFFIXES
from zssr.io.convert import to_array, to_tensor
from zssr.io.paths import collect_inputs, missing_reason, open_regular, output_path_for, read_regular
from zssr.io.picture import Picture
from zssr.io.read import decode_image, read_image
from zssr.io.write import write_image

__all__ = [
    "IMAGE_SUFFIXES",
    "Picture",
    "collect_inputs",
    "decode_image",
    "missing_reason",
    "open_regular",
    "output_path_for",
    "read_image",
    "read_regular",
    "to_array",
    "to_tensor",
    "write_image",
]
