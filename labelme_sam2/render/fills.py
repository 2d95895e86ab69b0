"""What an anonymised video puts where the objects were: `--fill white|avg|blur|pixelate|
color:#RRGGBB`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from labelme_sam2.core.mask import Mask
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
    colour on this frame, `blur` and `pixelate` hide detail but keep the rough shape."""
    out = rgb.copy()
    present = [mask for mask in masks if mask.any()]
    if not present:
        return out
    if fill.kind == "avg":
        for mask in present:
            out[mask] = rgb[mask].mean(axis=0).round().astype(np.uint8)
        return out
    source = _hidden(rgb, fill)
    covered = np.logical_or.reduce(present)
    out[covered] = source[covered] if source.ndim == 3 else source
    return out


def _hidden(rgb: np.ndarray, fill: Fill) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = max(height, width)
    if fill.kind == "blur":
        sigma = max(1.0, side * BLUR_SIGMA_PER_SIDE)
        return np.asarray(cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma))
    if fill.kind == "pixelate":
        block = max(2, round(side / PIXEL_BLOCKS_PER_SIDE))
        small = cv2.resize(
            rgb,
            (max(1, -(-width // block)), max(1, -(-height // block))),
            interpolation=cv2.INTER_AREA,
        )
        big = cv2.resize(
            small, (small.shape[1] * block, small.shape[0] * block), interpolation=cv2.INTER_NEAREST
        )
        return np.asarray(big[:height, :width])
    color = (255, 255, 255) if fill.kind == "white" else fill.color
    return np.array(color, dtype=np.uint8)
