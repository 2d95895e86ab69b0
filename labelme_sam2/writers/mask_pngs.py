"""FOLDER_masks/ (VIDEO_masks/): per frame, all objects white on black; per object, a folder
of PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelme_sam2.core.frames import ChunkFrames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey, file_safe_names
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import make_folder
from labelme_sam2.formats.images import grey_mask_png_bytes
from labelme_sam2.writers.base import FrameFilesWriter


def png_bytes(mask: Mask) -> bytes:
    """White on black: an 8-bit greyscale PNG of 0 and 255."""
    # A bool array viewed as bytes is 0/1: one pass, not astype()'s copy and a multiply.
    return grey_mask_png_bytes(np.asarray(mask, dtype=bool).view(np.uint8) * np.uint8(255))


class MaskPngWriter(FrameFilesWriter):
    def __init__(self, frames: ChunkFrames, objects: list[ObjectKey], *, folder: Path) -> None:
        self._frames = frames
        self.folder = folder
        self._object_folders = {
            key: self.folder / name for key, name in file_safe_names(objects).items()
        }
        for folder in (self.folder, *self._object_folders.values()):
            make_folder(folder)

    def files(self, result: FrameMasks) -> list[tuple[Path, bytes]]:
        name = f"{self._frames.stems[result.frame_index]}.png"
        union = np.zeros((self._frames.height, self._frames.width), dtype=bool)
        files = []
        for key, mask in result.masks.items():
            union |= mask
            files.append((self._object_folders[key] / name, png_bytes(mask)))
        return [*files, (self.folder / name, png_bytes(union))]
