"""FOLDER_yolo/: YOLO segmentation labels, labels/<frame>.txt, and data.yaml naming the classes.

Each line is `class x1 y1 x2 y2 ...`, coordinates divided by the frame's width and height. An
object in several pieces (one arm behind a pole) gives one line per piece; holes are filled,
since YOLO polygons cannot hold them. A frame with no object visible gets an empty file, which
YOLO reads as a background image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labelme_sam2.core.frames import ChunkFrames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey, label_ids
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import make_folder, write_atomically
from labelme_sam2.formats.mask_codec import mask_to_polygons
from labelme_sam2.writers.base import FrameFilesWriter


def yolo_lines(mask: Mask, class_id: int) -> list[str]:
    height, width = mask.shape
    return [
        " ".join([str(class_id), *(f"{x / width:.6f} {y / height:.6f}" for x, y in polygon)])
        for polygon in mask_to_polygons(mask)
    ]


def data_yaml(classes: dict[str, int]) -> bytes:
    names = "\n".join(f"  {class_id}: {_yaml_string(label)}" for label, class_id in classes.items())
    return (
        "# YOLO segmentation labels written by labelme-sam2.\n"
        "# Ultralytics finds a label by swapping images/ for labels/ in the image's path:\n"
        "# put (or link) the frames in images/ beside labels/.\n"
        f"path: .\ntrain: images\nval: images\nnames:\n{names}\n"
    ).encode()


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class YoloLabelsWriter(FrameFilesWriter):
    def __init__(self, frames: ChunkFrames, objects: Sequence[ObjectKey], *, folder: Path) -> None:
        self._frames = frames
        self._objects = list(objects)
        self._classes = label_ids(self._objects, start=0)
        self.folder = folder
        make_folder(folder / "labels")
        write_atomically(folder / "data.yaml", data_yaml(self._classes))

    def files(self, result: FrameMasks) -> list[tuple[Path, bytes]]:
        lines: list[str] = []
        for key in self._objects:
            if key in result.masks:
                lines += yolo_lines(result.masks[key], self._classes[key.label])
        name = f"{self._frames.stems[result.frame_index]}.txt"
        text = "".join(f"{line}\n" for line in lines)
        return [(self.folder / "labels" / name, text.encode())]
