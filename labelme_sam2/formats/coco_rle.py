"""COCO's compressed RLE (pycocotools), the JSON form: {"size": [h, w], "counts": "..."}."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from pycocotools import mask as coco_mask

from labelme_sam2.core.mask import Mask


class CocoRle(TypedDict):
    size: list[int]  # height, width
    counts: str


def encode_rle(mask: Mask) -> CocoRle:
    encoded = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(n) for n in encoded["size"]], "counts": encoded["counts"].decode("ascii")}
