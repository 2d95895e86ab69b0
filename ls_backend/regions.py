"""Label Studio regions -> the core's PromptSet.

- keypointlabels: a click; negative when `is_positive` is false or the label ends in `_neg`
  (then it belongs to the object without the suffix, as in the LabelMe adapter);
- rectanglelabels: a box;
- brushlabels drawn (or edited) by a person, in a frame sequence: a mask prompt;
- videorectangle: every keyframe of its sequence is a box prompt; each region is one object.
  Its `enabled: false` (the object leaves after this keyframe) is not passed on: SAM 2 decides
  where the object is visible.
Brush and video regions exactly as this backend predicted them (origin "prediction") are
outputs, not prompts.
One label is one object across pages, as one LabelMe label is one object across files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from labelme_sam2.api import Click, ObjectKey, PromptSet, split_negative
from ls_backend.brush_rle import rle_to_mask
from ls_backend.errors import RequestError
from ls_backend.frame_clock import FrameClock
from ls_backend.geometry import PercentBox, box_from_percent, to_pixels
from ls_backend.label_config import ProjectSchema

UNLABELLED = "object"
PROMPT_TYPES = frozenset({"keypointlabels", "rectanglelabels", "brushlabels", "videorectangle"})
PREDICTED_TYPES = frozenset({"brushlabels", "videorectangle"})  # what this backend returns


def prompts_from_regions(
    regions: list[Any],
    *,
    schema: ProjectSchema,
    width: int,
    height: int,
    page_count: int = 1,
    clock: FrameClock | None = None,
    where: str,
) -> PromptSet:
    """The prompts in `regions` (a task's annotation result, or an interactive context);
    `where` names them in errors ("task 12")."""
    prompts = PromptSet()
    video_objects: dict[str, int] = {}
    for number, region in enumerate(regions, start=1):
        if not isinstance(region, Mapping):
            raise RequestError(f"{where}: region {number} is not a JSON object")
        if not is_prompt(region, schema):
            continue  # another control (choices, text ...), or our own earlier prediction
        kind = region.get("type")
        source = f"{where} region {region.get('id', number)} ({kind})"
        value = region.get("value")
        if not isinstance(value, Mapping):
            raise RequestError(f"{source}: 'value' is not a JSON object")
        if kind == "videorectangle":
            if clock is None:
                raise RequestError(f"{source}: a video box on a task that is not a video")
            _add_video_region(prompts, value, video_objects, clock, width, height, source)
            continue
        label = _label(value.get(kind), source)
        page = _page(region, schema, page_count, source)
        # Scripts following Label Studio's SAM example send 0/1, the editor true/false.
        positive = region.get("is_positive", value.get("is_positive", True)) not in (False, 0)
        if kind == "keypointlabels":
            label, positive_label = split_negative(label)
            positive = positive and positive_label
        prompt = prompts.prompt_for(ObjectKey(label, None), page, source=source)
        if kind == "keypointlabels":
            x, y = (_number(value, name, source) for name in ("x", "y"))
            prompt.clicks.append(Click(to_pixels(x, width), to_pixels(y, height), positive))
        elif kind == "rectanglelabels":
            box = box_from_percent(_percent_box(value, source), width=width, height=height)
            prompt.set_box(box, key=ObjectKey(label, None))
        else:
            try:
                prompt.add_mask(rle_to_mask(value.get("rle"), width=width, height=height))
            except ValueError as error:
                raise RequestError(f"{source}: {error}") from error
    return prompts


def is_prompt(region: object, schema: ProjectSchema) -> bool:
    """Whether `region` is a prompt: drawn with one of the project's prompt tools, and not
    exactly as this backend predicted it (origin "prediction"; an edited one is a prompt)."""
    if not isinstance(region, Mapping):
        return True  # let prompts_from_regions name what is wrong with it
    name, kind = region.get("from_name"), region.get("type")
    if not isinstance(name, str) or name not in schema.prompt_names:
        return False
    if kind not in PROMPT_TYPES:
        return False
    return not (kind in PREDICTED_TYPES and region.get("origin") == "prediction")


def _add_video_region(
    prompts: PromptSet,
    value: Mapping[str, Any],
    objects: dict[str, int],
    clock: FrameClock,
    width: int,
    height: int,
    source: str,
) -> None:
    labels = value.get("labels")
    label = _label(labels, source) if labels else UNLABELLED
    # Each region is its own object; a second region with the same label gets a group number.
    count = objects[label] = objects.get(label, 0) + 1
    key = ObjectKey(label, None if count == 1 else count)
    sequence = value.get("sequence")
    if not isinstance(sequence, list) or not sequence:
        raise RequestError(f"{source}: 'sequence' must be a non-empty list of keyframes")
    for item in sequence:
        if not isinstance(item, Mapping):
            raise RequestError(f"{source}: keyframe {item!r} is not a JSON object")
        frame = item.get("frame")
        if isinstance(frame, bool) or not isinstance(frame, int) or abs(frame) > 2**31:
            raise RequestError(f"{source}: keyframe 'frame' must be a whole number, not {frame!r}")
        index = clock.index_of(frame)
        if index is None:
            raise RequestError(
                f"{source}: keyframe at frame {frame} lies outside the video "
                f"({clock.frames_count} frames at {clock.frame_rate:g} fps)"
            )
        box = box_from_percent(_percent_box(item, source), width=width, height=height)
        # Two of the region's keyframes can show one decoded frame when frameRate is above the
        # video's rate: the later keyframe wins, as it does on screen.
        prompts.prompt_for(key, index, source=f"{source} frame {frame}").box = box


def _label(labels: object, source: str) -> str:
    if not isinstance(labels, list) or not labels or not isinstance(labels[0], str):
        raise RequestError(f"{source}: no label; pick one so the object has a name")
    if len(labels) > 1:
        raise RequestError(f"{source}: has {len(labels)} labels; one region is one object")
    return labels[0]


def _page(region: Mapping[str, Any], schema: ProjectSchema, page_count: int, source: str) -> int:
    if schema.kind != "frames":
        return 0
    page = region.get("item_index")
    if isinstance(page, bool) or not isinstance(page, int) or not 0 <= page < page_count:
        raise RequestError(
            f"{source}: 'item_index' must name one of the {page_count} pages, not {page!r}"
        )
    return page


def _percent_box(value: Mapping[str, Any], source: str) -> PercentBox:
    box = PercentBox(
        x=_number(value, "x", source),
        y=_number(value, "y", source),
        width=_number(value, "width", source),
        height=_number(value, "height", source),
    )
    if value.get("rotation"):
        raise RequestError(f"{source}: rotated boxes are not supported; draw it upright")
    return box


def _number(value: Mapping[str, Any], name: str, source: str) -> float:
    """A finite float. JSON's integers have no bound: 10**400 is an int that float() and
    math.isfinite() refuse with OverflowError, so it is converted first and refused as inf."""
    number = value.get(name)
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise RequestError(f"{source}: {name!r} must be a number, not {number!r}")
    try:
        converted = float(number)
    except OverflowError:
        converted = math.inf
    if not math.isfinite(converted):
        raise RequestError(f"{source}: {name!r} must be a finite number, not {number!r}")
    return converted
