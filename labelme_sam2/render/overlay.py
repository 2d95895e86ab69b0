"""The preview look: each object tinted in its own colour, outlined, and named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.formats.mask_codec import BoundingBox, bounding_box
from labelme_sam2.render.colors import RGB, object_color, text_color_on

TINT_ALPHA = 0.45


@dataclass(frozen=True)
class ObjectLayer:
    """One object's mask on one frame, with how it is drawn."""

    name: str
    color: RGB
    mask: Mask


def scale_for(rgb: np.ndarray) -> float:
    """Line widths and text grow with the frame: 1.0 at 720 pixels high."""
    return max(0.5, rgb.shape[0] / 720)


def draw_overlay(
    rgb: np.ndarray, layers: Sequence[ObjectLayer], *, labels: bool = True
) -> np.ndarray:
    """Tint, outline and name each object, in order (a later object is drawn over an earlier
    one where they overlap)."""
    out = rgb.copy()
    scale = scale_for(rgb)
    boxes = [bounding_box(layer.mask) for layer in layers]
    for layer, box in zip(layers, boxes, strict=True):
        if box is None:
            continue
        # Only the mask's bounding box is read and written (issue 15): same pixels.
        region = out[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1]
        where = layer.mask[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1]
        color = np.array(layer.color, dtype=np.float32)
        tinted = region[where].astype(np.float32) * (1 - TINT_ALPHA) + color * TINT_ALPHA
        region[where] = tinted.round().astype(np.uint8)
        draw_outline(out, layer.mask, layer.color, thickness=max(1, round(2 * scale)), box=box)
    if labels:
        for layer, box in zip(layers, boxes, strict=True):
            if box is not None:
                draw_label(out, layer.name, x=box.x0, y=box.y0, color=layer.color, scale=scale)
    return out


def draw_outline(
    rgb: np.ndarray, mask: Mask, color: RGB, *, thickness: int, box: BoundingBox | None = None
) -> None:
    """The mask's outer and hole contours; `box`, the mask's bounding box when known."""
    box = box if box is not None else bounding_box(mask)
    if box is None:
        return
    # Traced in the box only: findContours sees zeros beyond an image's edge, as beyond the
    # box in the frame, and `offset` gives frame coordinates: the contours of the whole mask.
    crop = np.ascontiguousarray(mask[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1], dtype=bool)
    contours, _ = cv2.findContours(
        crop.view(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE, offset=(box.x0, box.y0)
    )
    cv2.drawContours(rgb, contours, -1, color, thickness, lineType=cv2.LINE_AA)


def draw_label(rgb: np.ndarray, text: str, *, x: int, y: int, color: RGB, scale: float) -> None:
    """`text` on a box of `color`, just above (x, y), moved inside the frame when needed."""
    font, font_scale = cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale
    thickness = max(1, round(1.5 * scale))
    (width, height), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    pad = max(2, round(3 * scale))
    box_w, box_h = width + 2 * pad, height + baseline + 2 * pad
    frame_h, frame_w = rgb.shape[:2]
    left = min(max(0, x), max(0, frame_w - box_w))
    top = y - box_h if y - box_h >= 0 else min(y, max(0, frame_h - box_h))
    cv2.rectangle(rgb, (left, top), (left + box_w, top + box_h), color, thickness=-1)
    cv2.putText(
        rgb,
        text,
        (left + pad, top + pad + height),
        font,
        font_scale,
        text_color_on(color),
        thickness,
        lineType=cv2.LINE_AA,
    )


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Original | result, one frame twice as wide."""
    return np.ascontiguousarray(np.hstack([left, right]))


def object_layers(
    masks: Mapping[ObjectKey, Mask], objects: Sequence[ObjectKey]
) -> list[ObjectLayer]:
    """Each object's layer, coloured by its place in `objects` (the run's tracking order), so
    an object keeps its colour on every frame and in every picture."""
    return [
        ObjectLayer(key.display_name, object_color(i), masks[key])
        for i, key in enumerate(objects)
        if key in masks
    ]
