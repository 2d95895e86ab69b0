"""COCO's compressed RLE (pycocotools), the JSON form: {"size": [h, w], "counts": "..."}."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from pycocotools import mask as coco_mask


class CocoRle(TypedDict):
    size: list[int]  # height, width
    counts: str


def encode_rle(mask: np.ndarray) -> CocoRle:
    encoded = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(n) for n in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def decode_rle(rle: CocoRle) -> np.ndarray:
    encoded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return np.asarray(coco_mask.decode(encoded), dtype=bool)
