"""The stock SAM 2 way, as its video notebook does it, for the benches that compare with it."""

from __future__ import annotations

from typing import Any

from labelme_sam2.core.prompts import PromptSet


def add_stock_prompts(sam2_model: Any, state: Any, prompts: PromptSet) -> None:
    """Every keyframe's box and clicks through add_new_points_or_box, object i as obj_id i."""
    for obj_id, keyframes in enumerate(prompts.objects.values()):
        for frame_index, prompt in keyframes.items():
            box = prompt.box
            sam2_model.add_new_points_or_box(
                state,
                frame_index,
                obj_id,
                points=[[c.x, c.y] for c in prompt.clicks] or None,
                labels=[int(c.positive) for c in prompt.clicks] or None,
                box=None if box is None else [box.x0, box.y0, box.x1, box.y1],
            )
