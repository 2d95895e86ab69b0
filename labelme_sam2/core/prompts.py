"""Prompt sets: what the user asked SAM 2 to track, independent of where it was drawn.

LabelMe files, Label Studio results and the GUI all build a `PromptSet`; `validate` then
checks it against the frame size before any model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from labelme_sam2.core.mask import Mask
from labelme_sam2.errors import InputError


class ObjectKey(NamedTuple):
    """One tracked object: LabelMe's label plus its group_id (None when not set)."""

    label: str
    group_id: int | None

    @property
    def display_name(self) -> str:
        return self.label if self.group_id is None else f"{self.label} (group {self.group_id})"


def file_safe_names(keys: list[ObjectKey]) -> dict[ObjectKey, str]:
    """A distinct folder/file name per object: `label` or `label-group_id`, unsafe chars -> '_'."""
    names: dict[ObjectKey, str] = {}
    used: set[str] = set()
    for key in keys:
        base = key.label if key.group_id is None else f"{key.label}-{key.group_id}"
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "object"
        name, n = base, 2
        while name.lower() in used:  # case-insensitive file systems
            name, n = f"{base}_{n}", n + 1
        used.add(name.lower())
        names[key] = name
    return names


def label_ids(objects: list[ObjectKey], *, start: int) -> dict[str, int]:
    """One class id per distinct label, in tracking order from `start` (COCO 1, YOLO 0): two
    objects labelled `person` are two instances of one class."""
    ids: dict[str, int] = {}
    for key in objects:
        ids.setdefault(key.label, start + len(ids))
    return ids


NEGATIVE_SUFFIX = "_neg"


def split_negative(label: str) -> tuple[str, bool]:
    """(object label, positive) of a click's label: `car_neg` is a negative click for `car`,
    in LabelMe files and Label Studio regions alike."""
    if label.endswith(NEGATIVE_SUFFIX):
        return label.removesuffix(NEGATIVE_SUFFIX), False
    return label, True


@dataclass(frozen=True)
class Click:
    x: float
    y: float
    positive: bool


@dataclass(frozen=True)
class Box:
    """A box prompt: the corners the user drew, in pixels (floats, x0 <= x1, y0 <= y1).

    Not a mask's extent (formats.mask_codec.BoundingBox, whole inclusive pixels) and not Label
    Studio's geometry (PercentBox in the Label Studio backend)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def from_corners(cls, ax: float, ay: float, bx: float, by: float) -> Box:
        return cls(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))


@dataclass
class FramePrompt:
    """Everything one object gets on one keyframe. SAM 2 takes a mask, or a box and clicks."""

    source: str  # where the prompt was drawn, for error messages (a file name, a region id)
    box: Box | None = None
    clicks: list[Click] = field(default_factory=list)
    mask: Mask | None = None  # frame height x width

    def set_box(self, box: Box, *, key: ObjectKey) -> None:
        if self.box is not None:
            raise InputError(
                self.source, f"object {key.display_name!r} has two boxes on this frame; keep one"
            )
        self.box = box

    def add_mask(self, mask: Mask) -> None:
        """Several polygons of one object on one frame are one mask: their union."""
        self.mask = mask.copy() if self.mask is None else (self.mask | mask)


@dataclass
class PromptSet:
    """Objects in first-seen order, each with its keyframes (frame index -> prompt)."""

    objects: dict[ObjectKey, dict[int, FramePrompt]] = field(default_factory=dict)

    def prompt_for(self, key: ObjectKey, frame_index: int, *, source: str) -> FramePrompt:
        frames = self.objects.setdefault(key, {})
        if frame_index not in frames:
            frames[frame_index] = FramePrompt(source=source)
        return frames[frame_index]


def validate(prompts: PromptSet, *, width: int, height: int, where: str) -> None:
    """Raise InputError on the first prompt SAM 2 cannot use; `where` names the prompt source."""
    if not prompts.objects:
        raise InputError(where, "no prompts found: draw a rectangle, point or polygon on a frame")
    for key, frames in prompts.objects.items():
        for prompt in frames.values():
            _validate_frame_prompt(key, prompt, width=width, height=height)


def _validate_frame_prompt(key: ObjectKey, prompt: FramePrompt, *, width: int, height: int) -> None:
    name = repr(key.display_name)
    if prompt.mask is not None:
        if prompt.box is not None or prompt.clicks:
            raise InputError(
                prompt.source,
                f"object {name} has a polygon/mask and also a box or points on this frame; "
                "SAM 2 takes either a mask or a box with points per frame",
            )
        if prompt.mask.shape != (height, width):
            raise InputError(prompt.source, f"mask for object {name} is not {width}x{height}")
        if not prompt.mask.any():
            raise InputError(prompt.source, f"polygon/mask for object {name} covers no pixel")
        return
    if prompt.box is None and not any(c.positive for c in prompt.clicks):
        raise InputError(
            prompt.source,
            f"object {name} has only negative points here; add a box or a positive point",
        )
    box = prompt.box
    if box is not None:
        if box.x1 - box.x0 <= 0 or box.y1 - box.y0 <= 0:
            raise InputError(prompt.source, f"box for object {name} has zero area")
        if not inside_image(box.x0, box.y0, width, height) or not inside_image(
            box.x1, box.y1, width, height
        ):
            raise InputError(
                prompt.source,
                f"box for object {name} ({box.x0:g},{box.y0:g})-({box.x1:g},{box.y1:g}) "
                f"lies outside the {width}x{height} image",
            )
    for click in prompt.clicks:
        if not inside_image(click.x, click.y, width, height):
            raise InputError(
                prompt.source,
                f"point ({click.x:g},{click.y:g}) for object {name} lies outside "
                f"the {width}x{height} image",
            )


def inside_image(x: float, y: float, width: int, height: int) -> bool:
    """Whether a point lies on the image, its far edges included (as labelme draws them)."""
    return 0 <= x <= width and 0 <= y <= height


def prompt_fingerprint(prompt: FramePrompt) -> str:
    """Changes whenever anything SAM 2 would see of this prompt changes."""
    digest = hashlib.sha256()
    box = prompt.box
    digest.update(
        json.dumps(
            {
                "box": None if box is None else [box.x0, box.y0, box.x1, box.y1],
                "clicks": [[c.x, c.y, c.positive] for c in prompt.clicks],
            }
        ).encode()
    )
    if prompt.mask is not None:
        digest.update(np.packbits(prompt.mask).tobytes())
        digest.update(str(prompt.mask.shape).encode())
    return digest.hexdigest()[:16]
