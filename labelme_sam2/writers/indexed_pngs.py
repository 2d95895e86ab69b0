"""FOLDER_davis/: DAVIS-style indexed PNGs, one per frame (pixel value = object index, 0 =
background, DAVIS's palette), with objects.csv beside them (index, label, group_id).

A pixel holds one object: where masks overlap, the later object (higher index) is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from labelme_sam2.core.frames import ChunkFrames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.errors import OutputError
from labelme_sam2.formats.atomic import make_folder, write_atomically
from labelme_sam2.formats.images import FAST_INDEXED_PNG, image_bytes
from labelme_sam2.formats.mask_codec import bounding_box
from labelme_sam2.render.colors import davis_palette
from labelme_sam2.writers.base import FrameFilesWriter

TABLE_NAME = "objects.csv"
PALETTE = davis_palette()  # built once, not per frame


def object_table(objects: Sequence[ObjectKey]) -> bytes:
    text = io.StringIO()
    table = csv.writer(text, lineterminator="\n")
    table.writerow(["index", "label", "group_id"])
    for index, key in enumerate(objects, start=1):
        table.writerow([index, key.label, "" if key.group_id is None else key.group_id])
    return text.getvalue().encode()


def index_image(masks: dict[ObjectKey, Mask], objects: Sequence[ObjectKey]) -> np.ndarray:
    height, width = next(iter(masks.values())).shape
    indexed = np.zeros((height, width), dtype=np.uint8)
    for index, key in enumerate(objects, start=1):
        box = bounding_box(masks[key]) if key in masks else None
        if box is not None:  # only the box is scanned: an object is a small part of a frame
            inside = slice(box.y0, box.y1 + 1), slice(box.x0, box.x1 + 1)
            indexed[inside][masks[key][inside]] = index
    return indexed


def indexed_png_bytes(indexed: np.ndarray) -> bytes:
    """Mode P, 8 bits, DAVIS's 256-colour palette: what DAVIS tools read (the indices through
    PIL); compressed for speed, the same pixels and palette whatever the level."""
    image = Image.fromarray(indexed, mode="P")
    image.putpalette(PALETTE)
    return image_bytes(image, **FAST_INDEXED_PNG)


class IndexedPngWriter(FrameFilesWriter):
    def __init__(self, frames: ChunkFrames, objects: Sequence[ObjectKey], *, folder: Path) -> None:
        if len(objects) > 255:
            raise OutputError(folder, f"{len(objects)} objects do not fit an 8-bit indexed PNG")
        self._frames = frames
        self._objects = list(objects)
        self.folder = folder
        make_folder(folder)
        write_atomically(folder / TABLE_NAME, object_table(self._objects))

    def files(self, result: FrameMasks) -> list[tuple[Path, bytes]]:
        if not result.masks:
            indexed = np.zeros((self._frames.height, self._frames.width), dtype=np.uint8)
        else:
            indexed = index_image(result.masks, self._objects)
        name = f"{self._frames.stems[result.frame_index]}.png"
        return [(self.folder / name, indexed_png_bytes(indexed))]
