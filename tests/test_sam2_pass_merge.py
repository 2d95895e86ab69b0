"""Which pass gives which mask: Sam2Tracker against a fake predictor that marks its passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from labelme_sam2.core.frames import FrameSequence
from labelme_sam2.core.prompts import Box, Click, FramePrompt, ObjectKey, PromptSet
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

FORWARD, BACKWARD = (0, 0), (0, 1)  # the pixel each pass sets


class MarkingPredictor:
    """Records prompts; each pass returns masks with one marker pixel for its direction."""

    device = torch.device("cpu")
    image_size = 64

    def __init__(self) -> None:
        self.prompts: list[tuple[int, int, str]] = []
        self.passes: list[tuple[int, bool]] = []

    def add_new_points_or_box(self, state, frame_idx, obj_id, points, labels, box):
        self.prompts.append((frame_idx, obj_id, f"box={box} points={points} labels={labels}"))

    def add_new_mask(self, state, frame_idx, obj_id, mask):
        self.prompts.append((frame_idx, obj_id, f"mask={int(mask.sum())}"))

    def propagate_in_video(self, state, start_frame_idx, reverse):
        self.passes.append((start_frame_idx, reverse))
        n = state["num_frames"]
        order = range(start_frame_idx, -1, -1) if reverse else range(start_frame_idx, n)
        objects = len({obj for _, obj, _ in self.prompts})
        for frame in order:
            logits = torch.full((objects, 1, 4, 4), -1.0)
            row, col = BACKWARD if reverse else FORWARD
            logits[:, 0, row, col] = 1.0
            yield frame, list(range(objects)), logits


def test_each_object_takes_the_forward_pass_after_its_first_keyframe(tmp_path: Path):
    frames = FrameSequence(tmp_path, tuple(tmp_path / f"{i}.jpg" for i in range(10)), 4, 4)
    prompts = PromptSet()
    early, late = ObjectKey("early", None), ObjectKey("late", 3)
    prompts.prompt_for(early, 2, source="a").box = Box(0, 0, 2, 2)
    prompts.prompt_for(late, 6, source="b").clicks.append(Click(1, 1, True))
    mask = np.zeros((4, 4), dtype=bool)
    mask[1:3, 1:3] = True
    prompts.objects[late][8] = FramePrompt(source="c", mask=mask)
    predictor = MarkingPredictor()

    results = list(Sam2Tracker(predictor).track(frames, prompts))  # type: ignore[arg-type]

    assert predictor.passes == [(2, False), (6, True)]
    assert predictor.prompts == [
        (2, 0, "box=[0, 0, 2, 2] points=None labels=None"),
        (6, 1, "box=None points=[[1, 1]] labels=[1]"),
        (8, 1, "mask=4"),
    ]
    assert sorted(r.frame_index for r in results) == list(range(10))
    for result in results:
        f = result.frame_index
        for key, first in ((early, 2), (late, 6)):
            want = FORWARD if f >= first else BACKWARD
            assert result.masks[key][want] and result.masks[key].sum() == 1, (f, key)
