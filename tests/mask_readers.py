"""Readers of mask layers that the library only writes (YOLO label lines, COCO RLE), to check
what it wrote."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask

from labelme_sam2.core.mask import Mask
from labelme_sam2.formats.coco_rle import CocoRle


def parse_yolo_line(line: str, *, width: int, height: int) -> tuple[int, list[tuple[float, float]]]:
    """(class, polygon in pixels) of one label line. Vertices are whole pixels, so they are
    rounded back: 6 decimals leave 122.9995 for 123, which a rasteriser may put a pixel off."""
    class_id, *values = line.split()
    numbers = [float(value) for value in values]
    points = [
        (float(round(x * width)), float(round(y * height)))
        for x, y in zip(numbers[::2], numbers[1::2], strict=True)
    ]
    return int(class_id), points


def decode_rle(rle: CocoRle) -> Mask:
    encoded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return np.asarray(coco_mask.decode(encoded), dtype=bool)
