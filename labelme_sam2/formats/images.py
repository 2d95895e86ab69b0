"""Pictures as file bytes: every PNG and JPEG this package writes is encoded here."""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from PIL import Image

ImageKind = Literal["PNG", "JPEG"]


def image_bytes(
    image: Image.Image | np.ndarray, *, kind: ImageKind = "PNG", **options: Any
) -> bytes:
    """`image` (a PIL image, or uint8 pixels: height x width grey, or x 3 RGB) as a file;
    `options` go to PIL (quality=, optimize=, compress_level= ...)."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    picture.save(buffer, format=kind, **options)
    return buffer.getvalue()
