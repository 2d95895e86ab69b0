"""FOLDER_coco.json: COCO-style instance masks for every frame, RLE-compressed (pycocotools).

images: one per frame (file_name relative to the frame folder, frame_index); categories: one
per label; tracks: one per object (id = its DAVIS index, label, group_id); annotations: one
per object per frame where the object is visible, with `segmentation` (compressed RLE),
`area`, `bbox` [x, y, width, height] and `track_id`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labelme_sam2 import __version__
from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import ObjectKey, label_ids
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import write_atomically
from labelme_sam2.formats.coco_rle import encode_rle
from labelme_sam2.formats.mask_codec import bounding_box


class CocoJsonWriter:
    def __init__(
        self,
        frames: Frames,
        objects: Sequence[ObjectKey],
        *,
        path: Path,
        image_names: Sequence[str],
    ) -> None:
        self._frames = frames
        self._objects = list(objects)
        self._categories = label_ids(self._objects, start=1)
        self._image_names = image_names
        self._annotations: list[dict[str, Any]] = []
        self.path = path

    def write(self, result: FrameMasks) -> None:
        for track_id, key in enumerate(self._objects, start=1):
            mask = result.masks.get(key)
            box = None if mask is None else bounding_box(mask)
            if mask is None or box is None:
                continue  # hidden on this frame: no annotation
            self._annotations.append(
                {
                    "id": len(self._annotations) + 1,
                    "image_id": result.frame_index + 1,
                    "category_id": self._categories[key.label],
                    "track_id": track_id,
                    "segmentation": encode_rle(mask),
                    "area": int(mask.sum()),
                    "bbox": [box.x0, box.y0, box.x1 - box.x0 + 1, box.y1 - box.y0 + 1],
                    "iscrowd": 0,
                }
            )

    def close(self) -> None:
        width, height = self._frames.width, self._frames.height
        document = {
            "info": {"description": "masks tracked by labelme-sam2", "version": __version__},
            "images": [
                {
                    "id": i + 1,
                    "file_name": self._image_names[i],
                    "width": width,
                    "height": height,
                    "frame_index": i,
                }
                for i in range(len(self._frames))
            ],
            "categories": [
                {"id": category, "name": label, "supercategory": ""}
                for label, category in self._categories.items()
            ],
            "tracks": [
                {
                    "id": track_id,
                    "label": key.label,
                    "group_id": key.group_id,
                    "category_id": self._categories[key.label],
                }
                for track_id, key in enumerate(self._objects, start=1)
            ],
            "annotations": self._annotations,
        }
        write_atomically(self.path, json.dumps(document, separators=(",", ":")).encode())

    def abort(self) -> None:
        pass  # nothing is on disk until close()
