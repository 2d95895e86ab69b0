"""Masks <-> Label Studio's brush RLE, through label-studio-sdk's own codec."""

from __future__ import annotations

import numpy as np
from label_studio_sdk.converter.brush import decode_rle, mask2rle

from labelme_sam2.api import Mask


def mask_to_rle(mask: Mask) -> list[int]:
    """A bool height x width mask as brush RLE (RGBA, the mask in every channel)."""
    return [int(v) for v in mask2rle(mask.astype(np.uint8) * 255)]


def rle_to_mask(rle: object, *, width: int, height: int) -> Mask:
    """The bool mask a brush RLE paints; ValueError when it is not one, or not width x height."""
    if not isinstance(rle, list) or len(rle) < 4:
        raise ValueError("a brush region needs its 'rle' (a list of numbers)")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256 for v in rle):
        raise ValueError("brush RLE must be a list of bytes (0..255)")
    # The first 32 bits count the pixels x 4; check before decoding allocates that much.
    values = int.from_bytes(bytes(rle[:4]), "big")
    if values != width * height * 4:
        raise ValueError(f"brush RLE holds {values // 4} pixels, the image has {width}x{height}")
    try:
        pixels = decode_rle(rle)
    # OverflowError: a body whose words are wider than a byte (a value over 255 for uint8).
    except (IndexError, ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"not a brush RLE ({error})") from error
    if pixels.size != width * height * 4:
        raise ValueError(
            f"brush RLE holds {pixels.size // 4} pixels, the image has {width}x{height}"
        )
    return pixels.reshape(height, width, 4)[:, :, 3] > 0
