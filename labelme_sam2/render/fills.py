"""What an anonymised video puts where the objects were: `--fill white|avg|blur|pixelate|
color:#RRGGBB`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from labelme_sam2.core.mask import Mask
from labelme_sam2.formats.mask_codec import BoundingBox, bounding_box
from labelme_sam2.render.colors import RGB, parse_color

FillKind = Literal["white", "avg", "blur", "pixelate", "color"]
FILL_CHOICES = "white, avg, blur, pixelate or color:#RRGGBB"

# Strength relative to the frame's longer side, so a face is as unreadable at 4K as at 540p.
BLUR_SIGMA_PER_SIDE = 1 / 60
PIXEL_BLOCKS_PER_SIDE = 48


@dataclass(frozen=True)
class Fill:
    kind: FillKind
    color: RGB = (255, 255, 255)

    @classmethod
    def parse(cls, text: str) -> Fill:
        """ValueError with the choices when `text` is not one of them."""
        if text in ("white", "avg", "blur", "pixelate"):
            return cls(text)  # type: ignore[arg-type]
        if text.startswith("color:"):
            return cls("color", parse_color(text.removeprefix("color:")))
        raise ValueError(f"unknown fill {text!r}: use {FILL_CHOICES}")


def fill_masks(rgb: np.ndarray, masks: Sequence[Mask], *, fill: Fill) -> np.ndarray:
    """The frame with every mask's pixels replaced; `avg` paints each object its own mean
    colour on this frame, `blur` and `pixelate` hide detail but keep the rough shape.

    Only each mask's bounding box is worked on (for blur, with the kernel's reach around it):
    the pixels are those a fill of the whole frame gives, for a fraction of the CPU."""
    out = rgb.copy()
    boxes = [(mask, box) for mask in masks if (box := bounding_box(mask)) is not None]
    if not boxes:
        return out
    if fill.kind == "avg":
        for mask, box in boxes:
            inside = _inside(box)
            where = mask[inside]
            out[inside][where] = rgb[inside][where].mean(axis=0).round().astype(np.uint8)
        return out
    hide = _hider(rgb, fill, within=_union([box for _, box in boxes]))
    for mask, box in boxes:
        inside = _inside(box)
        where = mask[inside]
        hidden = hide(box)
        out[inside][where] = hidden[where] if hidden.ndim == 3 else hidden
    return out


def _inside(box: BoundingBox) -> tuple[slice, slice]:
    return slice(box.y0, box.y1 + 1), slice(box.x0, box.x1 + 1)


def _union(boxes: Sequence[BoundingBox]) -> BoundingBox:
    return BoundingBox(
        min(box.x0 for box in boxes),
        min(box.y0 for box in boxes),
        max(box.x1 for box in boxes),
        max(box.y1 for box in boxes),
    )


Hider = Callable[[BoundingBox], np.ndarray]


def _hider(rgb: np.ndarray, fill: Fill, *, within: BoundingBox) -> Hider:
    """What `fill` puts over a box of the frame (inside `within`): the pixels the whole frame,
    blurred or pixelated, has in the box, or the fill's colour."""
    side = max(rgb.shape[:2])
    if fill.kind == "blur":
        return _blurrer(rgb, sigma=max(1.0, side * BLUR_SIGMA_PER_SIDE), within=within)
    if fill.kind == "pixelate":
        return _pixelator(rgb, block=max(2, round(side / PIXEL_BLOCKS_PER_SIDE)))
    color = np.array((255, 255, 255) if fill.kind == "white" else fill.color, dtype=np.uint8)
    return lambda box: color


def _blurrer(rgb: np.ndarray, *, sigma: float, within: BoundingBox) -> Hider:
    """The frame blurred, over `within` only.

    A blurred pixel depends on the pixels within the kernel's radius (3 sigma for 8-bit
    images in OpenCV; 4 here, to spare) and, near the frame's edge, on the edge (reflected):
    `within` grown by that radius and cut at the frame's edges, blurred, holds in `within` the
    pixels of the whole frame blurred. One blur for every box: OpenCV's cost per row shrinks
    far less than the row's width (a 320-pixel-wide strip costs 60 % of a 1280 one), so
    blurring each object's box apart can cost more than the whole frame."""
    height, width = rgb.shape[:2]
    reach = math.ceil(4 * sigma) + 1
    top, left = max(0, within.y0 - reach), max(0, within.x0 - reach)
    bottom, right = min(height, within.y1 + 1 + reach), min(width, within.x1 + 1 + reach)
    part = np.ascontiguousarray(rgb[top:bottom, left:right])
    blurred = np.asarray(cv2.GaussianBlur(part, (0, 0), sigmaX=sigma, sigmaY=sigma))
    return lambda box: blurred[box.y0 - top : box.y1 + 1 - top, box.x0 - left : box.x1 + 1 - left]


def _pixelator(rgb: np.ndarray, *, block: int) -> Hider:
    """Blocks of `block` pixels, each the mean of the frame's pixels under it: the frame
    shrunk to a pixel per block (the last row and column of blocks may be partial) and
    enlarged back as cv2.resize(INTER_NEAREST) does, but only over the box asked for."""
    height, width = rgb.shape[:2]
    small_w, small_h = max(1, -(-width // block)), max(1, -(-height // block))
    small = np.asarray(cv2.resize(rgb, (small_w, small_h), interpolation=cv2.INTER_AREA))
    rows = _nearest(small_h, block)[:height]
    cols = _nearest(small_w, block)[:width]
    return lambda box: small[np.ix_(rows[box.y0 : box.y1 + 1], cols[box.x0 : box.x1 + 1])]


def _nearest(count: int, block: int) -> np.ndarray:
    """For each of `count` * `block` pixels, which of `count` cv2.resize(INTER_NEAREST) copies
    there when it enlarges `block` times, asked of cv2 itself: it rounds x * (1 / block) down,
    which is not always x // block (49 * (1 / 49) < 1)."""
    index = np.arange(count, dtype=np.uint16).reshape(1, count)
    enlarged = cv2.resize(index, (count * block, 1), interpolation=cv2.INTER_NEAREST)
    return np.asarray(enlarged[0], dtype=np.intp)
