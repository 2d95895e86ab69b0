"""LabelMe shapes to prompts: rectangle -> box, point -> click, `X_neg` point -> negative click
for X, polygon and mask -> mask prompt. An object is (label, group_id) across all frames."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Sequence

from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import (
    NEGATIVE_SUFFIX,
    Box,
    Click,
    ObjectKey,
    PromptSet,
    inside_image,
    split_negative,
)
from labelme_sam2.errors import InputError
from labelme_sam2.formats.labelme_json import SHAPE_TYPES, LabelmeShape, is_tool_shape
from labelme_sam2.formats.mask_codec import BoundingBox, decode_mask_crop, polygon_to_mask

EXACT_POINT_COUNTS = {"point": 1, "rectangle": 2, "mask": 2}


def add_shapes(
    prompts: PromptSet,
    shapes: Sequence[LabelmeShape],
    *,
    frame_index: int,
    source: str,
    width: int,
    height: int,
    skipped_types: set[str],
) -> None:
    """Add one file's shapes to `prompts`; collect unsupported shape types in `skipped_types`.

    The shapes are as the file had them (formats/labelme_json.LabelmeShape): each one is checked
    here before it becomes a prompt."""
    for number, shape in enumerate(shapes, start=1):
        if is_tool_shape(shape):
            continue  # our own output from an earlier run, never a prompt
        where = f"shape {number}"
        if not isinstance(shape, dict):
            raise InputError(source, f"{where} is not a JSON object")
        shape_type = shape.get("shape_type") or "polygon"  # labelme 3 files have no shape_type
        if shape_type not in SHAPE_TYPES:
            raise InputError(source, f"{where} has unknown shape_type {shape_type!r}")
        label = shape.get("label")
        if not isinstance(label, str) or not label.strip():
            raise InputError(source, f"{where} ({shape_type}) has no label")
        where = f"shape {number} ({shape_type} {label!r})"
        group_id = shape.get("group_id")
        if group_id is not None and (isinstance(group_id, bool) or not isinstance(group_id, int)):
            raise InputError(source, f"{where}: group_id must be an integer or null")
        points = _points(shape.get("points"), source=source, where=where)
        if shape_type not in ("point", "rectangle", "polygon", "mask"):
            skipped_types.add(shape_type)
            continue
        _check_point_count(shape_type, points, source=source, where=where)
        label, positive = split_negative(label)
        if not positive and (not label or shape_type != "point"):
            raise InputError(
                source,
                f"{where}: '{NEGATIVE_SUFFIX}' marks negative points: use it on a "
                "point whose label is the object's label plus '_neg'",
            )
        key = ObjectKey(label, group_id)
        prompt = prompts.prompt_for(key, frame_index, source=source)
        if shape_type == "point":
            prompt.clicks.append(Click(points[0][0], points[0][1], positive))
        elif shape_type == "rectangle":
            (ax, ay), (bx, by) = points
            prompt.set_box(Box.from_corners(ax, ay, bx, by), key=key)
        elif shape_type == "polygon":
            for x, y in points:
                if not inside_image(x, y, width, height):
                    raise InputError(
                        source,
                        f"{where}: vertex ({x:g},{y:g}) lies outside the {width}x{height} image",
                    )
            prompt.add_mask(polygon_to_mask(points, width=width, height=height))
        else:
            prompt.add_mask(_mask_shape(shape, points, width, height, source, where))


def _points(raw: object, *, source: str, where: str) -> list[tuple[float, float]]:
    if not isinstance(raw, list):
        raise InputError(source, f"{where}: 'points' must be a list of [x, y] pairs")
    points = []
    for number, point in enumerate(raw, start=1):
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        ):
            shown = reprlib.repr(point)  # a point may hold a number of hundreds of digits
            raise InputError(source, f"{where}: point {shown} is not an [x, y] pair of numbers")
        at = f"{where}: point {number}"
        x = _coordinate(point[0], "x", source=source, where=at)
        y = _coordinate(point[1], "y", source=source, where=at)
        points.append((x, y))
    return points


def _coordinate(value: float, axis: str, *, source: str, where: str) -> float:
    """A coordinate as a finite float. JSON files can hold 1e400 (read as inf), NaN, Infinity
    and integers of hundreds of digits (too large for a float, a traceback in float()): none
    is a place on an image. The message names the axis and the point, since what Python read
    (inf) is not what the file shows (1e400)."""
    try:
        coordinate = float(value)
    except OverflowError as error:
        raise InputError(
            source,
            f"{where}: {axis} is an integer of {len(str(abs(int(value))))} digits, too large "
            "for a coordinate",
        ) from error
    if not math.isfinite(coordinate):
        raise InputError(source, f"{where}: {axis} is {coordinate}, not a finite number")
    return coordinate


def _check_point_count(
    shape_type: str, points: list[tuple[float, float]], *, source: str, where: str
) -> None:
    if shape_type == "polygon":
        if len(points) < 3:
            raise InputError(
                source, f"{where}: a polygon needs at least 3 points, has {len(points)}"
            )
        return
    expected = EXACT_POINT_COUNTS[shape_type]
    if len(points) != expected:
        raise InputError(
            source, f"{where}: a {shape_type} needs exactly {expected} point(s), has {len(points)}"
        )


def _mask_shape(
    shape: LabelmeShape,
    points: list[tuple[float, float]],
    width: int,
    height: int,
    source: str,
    where: str,
) -> Mask:
    data = shape.get("mask")
    if not isinstance(data, str) or not data:
        raise InputError(source, f"{where}: a mask shape needs its 'mask' (base64 PNG)")
    (x0, y0), (x1, y1) = points
    box = BoundingBox(int(x0), int(y0), int(x1), int(y1))  # labelme truncates, as here
    try:
        return decode_mask_crop(data, box, width=width, height=height)
    except ValueError as error:
        raise InputError(source, f"{where}: {error}") from error
