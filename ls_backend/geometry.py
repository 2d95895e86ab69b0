"""Label Studio geometry: x, y, width, height in percent of the image, from its top-left."""

from __future__ import annotations

from typing import TypedDict

from labelme_sam2.core.prompts import Box
from labelme_sam2.formats.mask_codec import BoundingBox


class PercentBox(TypedDict):
    x: float
    y: float
    width: float
    height: float


def to_pixels(percent: float, size: int) -> float:
    return percent * size / 100.0


def box_from_percent(box: PercentBox, *, width: int, height: int) -> Box:
    x0, y0 = to_pixels(box["x"], width), to_pixels(box["y"], height)
    return Box.from_corners(
        x0, y0, x0 + to_pixels(box["width"], width), y0 + to_pixels(box["height"], height)
    )


def percent_box(bounds: BoundingBox, *, width: int, height: int) -> PercentBox:
    """The box covering every pixel of `bounds` (inclusive pixel bounds), in percent."""
    return PercentBox(
        x=bounds.x0 * 100.0 / width,
        y=bounds.y0 * 100.0 / height,
        width=(bounds.x1 + 1 - bounds.x0) * 100.0 / width,
        height=(bounds.y1 + 1 - bounds.y0) * 100.0 / height,
    )
