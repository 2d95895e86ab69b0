"""How keyframes cut each object's track into independent segments."""

from __future__ import annotations

import numpy as np

from labelme_sam2.core.prompts import Box, Click, ObjectKey, PromptSet
from labelme_sam2.core.segments import Segment, TrackingPlan, plan_segments
from labelme_sam2.reruns import segment_fingerprint

CAR, DOG = ObjectKey("car", None), ObjectKey("dog", 2)


def prompts_at(keyframes: dict[ObjectKey, list[int]]) -> PromptSet:
    prompts = PromptSet()
    for key, frames in keyframes.items():
        for frame in frames:
            prompt = prompts.prompt_for(key, frame, source=f"{frame}.json")
            prompt.set_box(Box(frame, 1, frame + 10, 11), key=key)
    return prompts


def test_segments_and_keyframes_cover_every_frame_once_per_object():
    prompts = prompts_at({CAR: [3, 7, 8], DOG: [0]})
    segments = plan_segments(prompts, frame_count=12)
    assert segments == [
        Segment(CAR, 3, -1, reverse=True),
        Segment(CAR, 3, 7, reverse=False),
        Segment(CAR, 8, 12, reverse=False),
        Segment(DOG, 0, 12, reverse=False),
    ]
    assert list(segments[0].frames) == [2, 1, 0]
    assert list(segments[1].frames) == [4, 5, 6]
    for key in (CAR, DOG):
        covered = sorted(
            [f for s in segments if s.key == key for f in s.frames] + list(prompts.objects[key])
        )
        assert covered == list(range(12))
    plan = TrackingPlan.everything(prompts, frame_count=12)
    assert sum(map(len, plan.objects_by_frame().values())) == 24 and plan.frames() == set(range(12))
    # Memory of a segment: its anchor and the keyframe it runs into, never the video's edge.
    assert segments[1].conditioning(prompts.objects[CAR]) == [3, 7]
    assert segments[2].conditioning(prompts.objects[CAR]) == [8]
    assert segments[0].conditioning(prompts.objects[CAR]) == [3]


def test_editing_a_keyframe_changes_only_the_segments_that_touch_it():
    before = prompts_at({CAR: [0, 10, 20], DOG: [5]})
    after = prompts_at({CAR: [0, 10, 20], DOG: [5]})
    after.objects[CAR][10].clicks.append(Click(4.0, 5.0, positive=False))

    def fingerprints(prompts: PromptSet) -> dict[Segment, str]:
        return {s: segment_fingerprint(s, prompts) for s in plan_segments(prompts, frame_count=30)}

    old, new = fingerprints(before), fingerprints(after)
    changed = sorted((s.anchor, s.stop) for s in old if old[s] != new[s])
    assert changed == [(0, 10), (10, 20)]


def test_a_mask_edit_changes_the_fingerprint():
    before = prompts_at({DOG: [4]})
    after = prompts_at({DOG: [4]})
    for prompts, pixel in ((before, 1), (after, 2)):
        mask = np.zeros((8, 8), dtype=bool)
        mask[pixel, pixel] = True
        prompts.objects[DOG][4].add_mask(mask)
    segment = Segment(DOG, 4, 9, reverse=False)
    assert segment_fingerprint(segment, before) != segment_fingerprint(segment, after)
