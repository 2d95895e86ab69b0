"""Pictures for checking the tracking: FOLDER_prompts/<frame>.png for each prompted frame and
FOLDER_contact.png, a contact sheet of evenly spaced frames."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labelme_sam2.core.frames import ChunkFrames
from labelme_sam2.core.prompts import ObjectKey, PromptSet
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import make_folder, write_atomically
from labelme_sam2.formats.images import image_bytes
from labelme_sam2.render.colors import object_color
from labelme_sam2.render.contact_sheet import contact_sheet, evenly_spaced, shrink_to_tile
from labelme_sam2.render.overlay import draw_overlay, object_layers
from labelme_sam2.render.prompt_preview import ObjectPrompt, draw_prompt_preview
from labelme_sam2.writers.base import FrameWriterBase

CONTACT_COLUMNS = 4


class PromptPreviewWriter(FrameWriterBase):
    """`prompts` are this chunk's, with frame indices into `frames`."""

    def __init__(
        self, frames: ChunkFrames, objects: Sequence[ObjectKey], prompts: PromptSet, *, folder: Path
    ) -> None:
        self._frames = frames
        self._objects = list(objects)
        self._by_frame: dict[int, list[ObjectPrompt]] = {}
        for key, keyframes in prompts.objects.items():
            color = object_color(self._objects.index(key))
            for frame_index, prompt in keyframes.items():
                item = ObjectPrompt(key.display_name, color, prompt)
                self._by_frame.setdefault(frame_index, []).append(item)
        self.folder = folder
        if self._by_frame:
            make_folder(folder)

    def write(self, result: FrameMasks) -> None:
        prompts = self._by_frame.get(result.frame_index)
        if not prompts:
            return
        rgb = self._frames.read_rgb(result.frame_index)
        picture = draw_prompt_preview(rgb, object_layers(result.masks, self._objects), prompts)
        name = f"{self._frames.stems[result.frame_index]}.png"
        write_atomically(self.folder / name, image_bytes(picture))


class ContactSheetWriter:
    def __init__(
        self, frames: ChunkFrames, objects: Sequence[ObjectKey], *, path: Path, tiles: int
    ) -> None:
        self._frames = frames
        self._objects = list(objects)
        self._wanted = set(evenly_spaced(tiles, frame_count=len(frames)))
        self._tiles: dict[int, np.ndarray] = {}
        self.path = path

    def write(self, result: FrameMasks) -> None:
        if result.frame_index in self._wanted:
            rgb = self._frames.read_rgb(result.frame_index)
            masks = {key: shrink_to_tile(mask) for key, mask in result.masks.items()}
            tile = shrink_to_tile(rgb)
            self._tiles[result.frame_index] = draw_overlay(
                tile, object_layers(masks, self._objects)
            )

    def close(self) -> None:
        order = sorted(self._tiles)
        sheet = contact_sheet(
            [self._tiles[i] for i in order],
            [f"frame {self._frames.stems[i]}" for i in order],
            columns=CONTACT_COLUMNS,
        )
        write_atomically(self.path, image_bytes(sheet))

    def abort(self) -> None:
        pass
