"""Masks back into every frame's LabelMe file, as polygons or labelme `mask` shapes."""

from __future__ import annotations

from dataclasses import dataclass

from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import write_atomically
from labelme_sam2.formats.labelme_json import (
    LabelmeShape,
    ShapeFormat,
    dumps,
    new_document,
    tool_shape,
    with_tool_shapes,
)
from labelme_sam2.formats.mask_codec import bounding_box, encode_mask_crop, mask_to_polygons
from labelme_sam2.labelme_adapter.chunk import LabelmeChunk, ReadDocument, link_target
from labelme_sam2.labelme_adapter.edits_while_tracking import NotUpdated, unchanged, user_version
from labelme_sam2.writers.base import FrameWriterBase


def masks_to_shapes(
    masks: dict[ObjectKey, Mask], *, shape_format: ShapeFormat
) -> list[LabelmeShape]:
    """Our shapes for one frame, in object order; a hidden object gets none."""
    shapes: list[LabelmeShape] = []
    for key, mask in masks.items():
        if shape_format == "mask":
            box = bounding_box(mask)
            if box is None:
                continue
            shapes.append(
                tool_shape(
                    label=key.label,
                    group_id=key.group_id,
                    shape_type="mask",
                    points=[[float(box.x0), float(box.y0)], [float(box.x1), float(box.y1)]],
                    mask=encode_mask_crop(mask, box),
                )
            )
        else:
            shapes.extend(
                tool_shape(
                    label=key.label,
                    group_id=key.group_id,
                    shape_type="polygon",
                    points=polygon,
                )
                for polygon in mask_to_polygons(mask)
            )
    return shapes


@dataclass(frozen=True)
class _Prepared:
    frame_index: int
    shapes: list[LabelmeShape]
    data: bytes  # the file with our shapes, as it was read


class LabelmeJsonWriter(FrameWriterBase):
    """Rewrites each frame's LabelMe file atomically (so on abort each is old or new, none
    torn); user shapes are kept as they were."""

    def __init__(self, chunk: LabelmeChunk, *, shape_format: ShapeFormat) -> None:
        self._chunk = chunk
        self._shape_format = shape_format
        self.files_changed = 0
        self.frames_written = 0  # frames done, a file left as the user saved it included
        self.not_updated: list[NotUpdated] = []  # saved by the user during the run

    def prepare(self, result: FrameMasks) -> object:
        """Our shapes and the file's new text as read: on the pipeline's pool, several frames
        at once (core/stages.py). Whether the user saved the file since is seen in commit."""
        shapes = masks_to_shapes(result.masks, shape_format=self._shape_format)
        read = self._read(result.frame_index)
        return _Prepared(result.frame_index, shapes, dumps(with_tool_shapes(read.document, shapes)))

    def commit(self, prepared: object) -> None:
        assert isinstance(prepared, _Prepared)
        self._commit(prepared)
        self.frames_written += 1

    def write(self, result: FrameMasks) -> None:
        self.commit(self.prepare(result))

    def _commit(self, prepared: _Prepared) -> None:
        read = self._read(prepared.frame_index)
        data = prepared.data
        if not unchanged(read.path, read.state):
            frames = self._chunk.frames
            saved = user_version(
                read.path,
                tracked=None if read.state is None else read.document,
                frame_index=prepared.frame_index,
                width=frames.width,
                height=frames.height,
            )
            if isinstance(saved, NotUpdated):
                self.not_updated.append(saved)
                return
            data = dumps(with_tool_shapes(saved, prepared.shapes))
        if write_atomically(link_target(read.path), data):
            self.files_changed += 1

    def _read(self, frame_index: int) -> ReadDocument:
        """The file as read, or the one this run makes (which must still be absent)."""
        existing = self._chunk.documents.get(frame_index)
        if existing is not None:
            return existing
        frames = self._chunk.frames
        image_name = self._chunk.image_names[frame_index]
        document = new_document(image_name=image_name, width=frames.width, height=frames.height)
        return ReadDocument(self._chunk.json_path(frame_index), document, state=None)
