"""The core's per-frame masks -> Label Studio results, as frame writers fed by `propagate`.

- BrushResults: a brushlabels region per object on its image, or on every page of a frame
  sequence (with `item_index`); nothing where the object is not visible.
- VideoRectangleResults: one videorectangle per object, a keyframe on every frame where it is
  visible; the last frame of each visible run has `enabled: false`, which is how Label Studio
  ends a track until its next keyframe.
"""

from __future__ import annotations

from typing import Any

from labelme_sam2.api import FrameMasks, FrameWriterBase, Mask, ObjectKey, bounding_box
from ls_backend.brush_rle import mask_to_rle
from ls_backend.frame_clock import FrameClock
from ls_backend.geometry import percent_box
from ls_backend.label_config import ProjectSchema

Result = dict[str, Any]


class BrushResults(FrameWriterBase):
    def __init__(self, *, schema: ProjectSchema, width: int, height: int) -> None:
        self._schema = schema
        self._width, self._height = width, height
        self.results: list[Result] = []

    def write(self, result: FrameMasks) -> None:
        for key, mask in result.masks.items():
            if mask.any():
                self.results.append(self._region(key, result.frame_index, mask))

    def _region(self, key: ObjectKey, page: int, mask: Mask) -> Result:
        region: Result = {
            "id": _region_id(key, page),
            "from_name": self._schema.output_name,
            "to_name": self._schema.object_name,
            "type": "brushlabels",
            "origin": "prediction",
            "original_width": self._width,
            "original_height": self._height,
            "image_rotation": 0,
            "value": {"format": "rle", "rle": mask_to_rle(mask), "brushlabels": [key.label]},
        }
        if self._schema.kind == "frames":
            region["item_index"] = page
        return region

    def abort(self) -> None:
        self.results.clear()


class VideoRectangleResults:
    def __init__(
        self,
        *,
        schema: ProjectSchema,
        objects: list[ObjectKey],
        clock: FrameClock,
        width: int,
        height: int,
        masks_note: str | None = None,
    ) -> None:
        self._schema = schema
        self._clock = clock
        self._width, self._height = width, height
        self._masks_note = masks_note
        self._keyframes: dict[ObjectKey, list[dict[str, Any]]] = {key: [] for key in objects}
        self._visible_before: dict[ObjectKey, bool] = dict.fromkeys(objects, False)
        self.results: list[Result] = []

    def write(self, result: FrameMasks) -> None:
        if not self._clock.shown(result.frame_index):
            return  # Label Studio's frameRate is below the video's: it never shows this frame
        for key, mask in result.masks.items():
            bounds = bounding_box(mask)
            keyframes = self._keyframes[key]
            if bounds is None:
                if self._visible_before[key]:
                    keyframes[-1]["enabled"] = False
                self._visible_before[key] = False
                continue
            self._visible_before[key] = True
            keyframes.append(
                {
                    "frame": self._clock.frame_number(result.frame_index),
                    "time": self._clock.time(result.frame_index),
                    "enabled": True,
                    "rotation": 0,
                    **percent_box(bounds, width=self._width, height=self._height),
                }
            )

    def close(self) -> None:
        for key, keyframes in self._keyframes.items():
            if not keyframes:
                continue
            value: dict[str, Any] = {
                "sequence": keyframes,
                "framesCount": self._clock.frames_count,
                "duration": self._clock.duration,
            }
            if self._schema.labels_name is not None:
                value["labels"] = [key.label]
            region: Result = {
                "id": _region_id(key, None),
                "from_name": self._schema.output_name,
                "to_name": self._schema.object_name,
                "type": "videorectangle",
                "origin": "prediction",
                "value": value,
            }
            if self._masks_note:
                region["meta"] = {"text": [self._masks_note]}
            self.results.append(region)

    def abort(self) -> None:
        self.results.clear()


def _region_id(key: ObjectKey, page: int | None) -> str:
    name = key.label if key.group_id is None else f"{key.label}-{key.group_id}"
    return name if page is None else f"{name}-p{page}"
