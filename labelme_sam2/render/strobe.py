"""The stroboscopic picture: an object at several moments over one background.

Layers are painted in ascending frame order, so where two moments overlap the later one is on
top. A ghost is blended over what is below it (`ghost_alpha` of the ghost); a highlighted
moment is opaque, tinted towards its colour (`TINT_STRENGTH`) and outlined in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from labelme_sam2.core.mask import Mask
from labelme_sam2.render.colors import RGB
from labelme_sam2.render.overlay import draw_outline, scale_for

TINT_STRENGTH = 0.4
DEFAULT_GHOST_ALPHA = 0.5
PLATE_SAMPLES = 15
PLATE_MARGIN_PX = 5  # masks grown by this much, so object edges stay out of the plate
_PLATE_ROWS = 64  # rows per median step: memory stays small for 4K frames


@dataclass(frozen=True)
class StrobeLayer:
    frame_index: int
    rgb: np.ndarray  # that frame
    mask: Mask  # the objects on it
    tint: RGB | None = None  # None: a ghost


def compose_strobe(
    background: np.ndarray,
    layers: Sequence[StrobeLayer],
    *,
    ghost_alpha: float = DEFAULT_GHOST_ALPHA,
) -> np.ndarray:
    canvas = background.astype(np.float32)
    outlines: list[tuple[int, Mask, RGB]] = []
    for layer in sorted(layers, key=lambda item: item.frame_index):
        pixels = layer.rgb[layer.mask].astype(np.float32)
        if layer.tint is None:
            canvas[layer.mask] = canvas[layer.mask] * (1 - ghost_alpha) + pixels * ghost_alpha
        else:
            color = np.array(layer.tint, dtype=np.float32)
            canvas[layer.mask] = pixels * (1 - TINT_STRENGTH) + color * TINT_STRENGTH
            outlines.append((layer.frame_index, layer.mask, layer.tint))
    picture = np.clip(canvas.round(), 0, 255).astype(np.uint8)
    # Outlines last, each only where no later layer covers it, so the order above still holds.
    for frame_index, mask, tint in outlines:
        later = [item.mask for item in layers if item.frame_index > frame_index]
        edge = np.zeros_like(picture)
        draw_outline(edge, mask, (1, 1, 1), thickness=max(1, round(2 * scale_for(picture))))
        visible = edge[..., 0].astype(bool) & ~mask
        for other in later:
            visible &= ~other
        picture[visible] = np.array(tint, dtype=np.uint8)
    return picture


def clean_plate(frames: Sequence[np.ndarray], masks: Sequence[Mask]) -> np.ndarray:
    """The median of `frames` over the pixels no object covers (a still camera's empty scene);
    where objects cover a pixel in every frame, the plain median."""
    stack = np.stack(frames)
    kernel = np.ones((2 * PLATE_MARGIN_PX + 1,) * 2, dtype=np.uint8)
    covered = np.stack([cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in masks])
    plate = np.empty(stack.shape[1:], dtype=np.uint8)
    for top in range(0, stack.shape[1], _PLATE_ROWS):
        rows = slice(top, top + _PLATE_ROWS)
        values = stack[:, rows].astype(np.float32)
        plain = np.median(values, axis=0)
        values[covered[:, rows]] = np.nan
        free = ~covered[:, rows].all(axis=0)
        median = plain.copy()
        if free.any():
            median[free] = np.nanmedian(values[:, free], axis=0)
        plate[rows] = median.round().astype(np.uint8)
    return plate
