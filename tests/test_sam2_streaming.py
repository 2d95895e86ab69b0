"""Streaming SAM 2: dropping memory SAM 2 can no longer read changes no mask.

Real SAM 2.1 tiny, random weights, 256 px, CPU. Random masks mean nothing, but they are a
deterministic function of everything SAM 2 reads, so equal masks with and without pruning, and
no read of a dropped frame, show the pruning is exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.labelme_adapter.folder import read_folder
from labelme_sam2.sam2_tracker import tracker as tracker_module
from labelme_sam2.sam2_tracker.segment_memory import SegmentMemory
from tests.conftest import copy_bedroom, shape

pytestmark = pytest.mark.sam2

PILLOW = [[600.0, 300.0], [800.0, 290.0], [850.0, 450.0], [700.0, 500.0], [620.0, 480.0]]


class ReadSpy(dict):
    """A non-conditioning output dict that notes every read of a frame it once held."""

    misses: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.added: set[int] = set()
        self.misses = []

    def __setitem__(self, frame: int, output: object) -> None:
        self.added.add(frame)
        super().__setitem__(frame, output)

    def get(self, frame, default=None):
        if frame in self.added and frame not in self:
            self.misses.append(frame)
        return super().get(frame, default)


def forty_frames_three_objects(tmp_path: Path) -> Path:
    folder = copy_bedroom(tmp_path, frames=40)
    (folder / "00060.json").unlink()  # beyond the 40 frames
    # A polygon object starting at frame 12 (a backward segment), and a second keyframe for
    # the girl at frame 25 (two forward segments).
    (folder / "00012.json").write_text(
        json.dumps({"shapes": [shape("pillow", "polygon", PILLOW)], "imagePath": "00012.jpg"})
    )
    (folder / "00025.json").write_text(
        json.dumps({"shapes": [shape("girl", "point", [[500.0, 250.0]])], "imagePath": "x"})
    )
    return folder


def test_pruned_memory_gives_identical_masks_and_never_misses_a_read(
    tmp_path: Path, tiny_predictor, monkeypatch
):
    folder = read_folder(forty_frames_three_objects(tmp_path), warn=lambda _: None)
    spies: list[ReadSpy] = []

    class SpiedMemory(SegmentMemory):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            spy = ReadSpy()
            spies.append(spy)
            self.output_dict["non_cond_frame_outputs"] = spy

    monkeypatch.setattr(tracker_module, "SegmentMemory", SpiedMemory)
    pruned_tracker = tracker_module.Sam2Tracker(tiny_predictor)
    pruned = list(pruned_tracker.track(folder.frames, folder.prompts))
    full_tracker = tracker_module.Sam2Tracker(tiny_predictor, prune_memory=False)
    full = list(full_tracker.track(folder.frames, folder.prompts))

    assert [r.frame_index for r in pruned] == [r.frame_index for r in full] == list(range(40))
    keys = [ObjectKey("boy", None), ObjectKey("girl", None), ObjectKey("pillow", None)]
    for a, b in zip(pruned, full, strict=True):
        assert list(a.masks) == list(b.masks) == keys
        for key in keys:
            assert np.array_equal(a.masks[key], b.masks[key]), (a.frame_index, key)
    # The masks are not trivially equal: objects differ and frames differ.
    assert not np.array_equal(full[30].masks[keys[0]], full[30].masks[keys[1]])

    # boy 0->40, girl 0->25 and 25->40, pillow 12->0 and 12->40: five segments.
    assert len(spies) == 2 * 5
    assert all(spy.misses == [] for spy in spies)
    # Pruned: at most 15 frames (SAM 2.1's reach of 14, plus the newest) per segment; the
    # forward segments run side by side, three at a time.
    assert pruned_tracker.peak_held_frames <= 3 * 15
    assert full_tracker.peak_held_frames >= 3 * 24

    # On its own keyframe a mask prompt is the answer, unchanged.
    prompt = folder.prompts.objects[keys[2]][12].mask
    assert prompt is not None and prompt.any()
    assert np.array_equal(pruned[12].masks[keys[2]], prompt)
