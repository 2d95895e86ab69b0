"""Pictures as file bytes: every PNG and JPEG this package writes is encoded here."""

from __future__ import annotations

import io
import zlib
from typing import Any, Literal

import cv2
import numpy as np
from PIL import Image

ImageKind = Literal["PNG", "JPEG"]

# Masks hold a few values in long runs: no row filter and zlib's run-length strategy give
# files within a fifth of the size of Pillow's default (level 6, adaptive filters) for about
# a quarter of its CPU (issue 15, docs/benchmarks.md). A reader decodes the same 8-bit
# pixels. OpenCV releases the GIL while it encodes. IMWRITE_PNG_FILTER came with OpenCV 4.12;
# an older one keeps libpng's adaptive filters (slower, same pixels). The strategy must come
# after the level: OpenCV resets it to the default when it reads a level.
_FAST_GREY_PNG = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    *(
        [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
        if hasattr(cv2, "IMWRITE_PNG_FILTER")
        else []
    ),
]
# The same for indexed (mode P) masks, which OpenCV cannot write: Pillow does not filter
# their rows.
FAST_INDEXED_PNG: dict[str, Any] = {"compress_level": 1, "compress_type": zlib.Z_RLE}


def image_bytes(
    image: Image.Image | np.ndarray, *, kind: ImageKind = "PNG", **options: Any
) -> bytes:
    """`image` (a PIL image, or uint8 pixels: height x width grey, or x 3 RGB) as a file;
    `options` go to PIL (quality=, optimize=, compress_level= ...)."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    picture.save(buffer, format=kind, **options)
    return buffer.getvalue()


def grey_mask_png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 height x width pixels of a mask (0/255, or 0/1) as an 8-bit greyscale PNG, encoded
    for speed: what a reader decodes is exactly `pixels`."""
    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise ValueError(f"not height x width uint8 pixels: {pixels.dtype} {pixels.shape}")
    ok, encoded = cv2.imencode(".png", pixels, _FAST_GREY_PNG)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {pixels.shape} PNG")
    return encoded.tobytes()
