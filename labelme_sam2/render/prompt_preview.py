"""What the user asked for on a keyframe and what SAM 2 made of it: each object's mask, its
box in the object's colour, positive clicks green and negative clicks red."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from labelme_sam2.core.prompts import FramePrompt
from labelme_sam2.render.colors import RGB
from labelme_sam2.render.overlay import (
    ObjectLayer,
    draw_label,
    draw_outline,
    draw_overlay,
    scale_for,
)

POSITIVE: RGB = (40, 200, 60)
NEGATIVE: RGB = (230, 30, 30)
RING: RGB = (255, 255, 255)


@dataclass(frozen=True)
class ObjectPrompt:
    name: str
    color: RGB
    prompt: FramePrompt


def draw_prompt_preview(
    rgb: np.ndarray, layers: Sequence[ObjectLayer], prompts: Sequence[ObjectPrompt]
) -> np.ndarray:
    out = draw_overlay(rgb, layers, labels=False)
    scale = scale_for(rgb)
    line = max(1, round(2 * scale))
    for item in prompts:
        prompt = item.prompt
        if prompt.mask is not None:  # a polygon prompt: its outline, dashed by white
            draw_outline(out, prompt.mask, RING, thickness=line + 2)
            draw_outline(out, prompt.mask, item.color, thickness=line)
        anchor: tuple[int, int] | None = None
        if prompt.box is not None:
            box = prompt.box
            corner0, corner1 = (round(box.x0), round(box.y0)), (round(box.x1), round(box.y1))
            cv2.rectangle(out, corner0, corner1, RING, line + 2, lineType=cv2.LINE_AA)
            cv2.rectangle(out, corner0, corner1, item.color, line, lineType=cv2.LINE_AA)
            anchor = corner0
        radius = max(4, round(7 * scale))
        for click in prompt.clicks:
            center = (round(click.x), round(click.y))
            cv2.circle(out, center, radius + line, RING, -1, lineType=cv2.LINE_AA)
            cv2.circle(
                out, center, radius, POSITIVE if click.positive else NEGATIVE, -1, cv2.LINE_AA
            )
            anchor = anchor or (center[0] + radius, center[1] - radius)
        if anchor is None and prompt.mask is not None:
            ys, xs = np.nonzero(prompt.mask)
            anchor = (int(xs.min()), int(ys.min()))
        if anchor is not None:
            draw_label(out, item.name, x=anchor[0], y=anchor[1], color=item.color, scale=scale)
    return out
