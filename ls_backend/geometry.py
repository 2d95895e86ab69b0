"""Label Studio geometry: x, y, width, height in percent of the image, from its top-left."""

from __future__ import annotations

from typing import TypedDict

from labelme_sam2.api import BoundingBox, Box


class PercentBox(TypedDict):
    """Label Studio's rectangle geometry: top-left and size in percent of the image, as its
    results carry it. Converted to and from the core's Box (a prompt) and BoundingBox (a
    mask's extent) here, nowhere else."""

    x: float
    y: float
    width: float
    height: float


EDGE_TOLERANCE = 0.5  # pixels: percent arithmetic lands a hair outside at an edge


def to_pixels(percent: float, size: int) -> float:
    """Percent of `size` in pixels. A value within half a pixel outside the image is put on
    its edge (a box Label Studio snapped to 100% can come out at 333.00000000000006 of 333);
    anything further out is left for validation to refuse."""
    pixels = percent * size / 100.0
    if -EDGE_TOLERANCE <= pixels < 0:
        return 0.0
    if size < pixels <= size + EDGE_TOLERANCE:
        return float(size)
    return pixels


def box_from_percent(box: PercentBox, *, width: int, height: int) -> Box:
    x0, y0 = to_pixels(box["x"], width), to_pixels(box["y"], height)
    x1 = to_pixels(box["x"] + box["width"], width)
    y1 = to_pixels(box["y"] + box["height"], height)
    return Box.from_corners(x0, y0, x1, y1)


def percent_box(bounds: BoundingBox, *, width: int, height: int) -> PercentBox:
    """The box covering every pixel of `bounds` (inclusive pixel bounds), in percent."""
    return PercentBox(
        x=bounds.x0 * 100.0 / width,
        y=bounds.y0 * 100.0 / height,
        width=(bounds.x1 + 1 - bounds.x0) * 100.0 / width,
        height=(bounds.y1 + 1 - bounds.y0) * 100.0 / height,
    )
