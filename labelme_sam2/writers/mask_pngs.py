"""FOLDER_masks/: per frame, all objects white on black; per object, one folder of PNGs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from labelme_sam2.core.frames import FrameSequence
from labelme_sam2.core.prompts import ObjectKey, file_safe_names
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import write_atomically


def masks_folder(frames: FrameSequence) -> Path:
    return frames.folder.parent / f"{frames.folder.name}_masks"


def png_bytes(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


class MaskPngWriter:
    def __init__(self, frames: FrameSequence, objects: list[ObjectKey]) -> None:
        self._frames = frames
        self.folder = masks_folder(frames)
        self._object_folders = {
            key: self.folder / name for key, name in file_safe_names(objects).items()
        }
        for folder in (self.folder, *self._object_folders.values()):
            folder.mkdir(parents=True, exist_ok=True)

    def write(self, result: FrameMasks) -> None:
        name = f"{self._frames.paths[result.frame_index].stem}.png"
        union = np.zeros((self._frames.height, self._frames.width), dtype=bool)
        for key, mask in result.masks.items():
            union |= mask
            write_atomically(self._object_folders[key] / name, png_bytes(mask))
        write_atomically(self.folder / name, png_bytes(union))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass
