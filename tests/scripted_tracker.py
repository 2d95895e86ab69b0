"""A tracker with known answers, for checking writers and adapters exactly."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from labelme_sam2.api import (
    FrameMasks,
    Frames,
    LoadedModel,
    ObjectKey,
    PromptSet,
    StepHook,
    TrackingPlan,
)


def scripted_mask(
    key_index: int, frame_index: int, *, width: int, height: int, hole: bool = True
) -> np.ndarray:
    """A blob per object that moves with the frame: an ellipse with a square hole, or nothing
    on every fifth frame for odd objects (a hidden object)."""
    mask = np.zeros((height, width), dtype=bool)
    if key_index % 2 == 1 and frame_index % 5 == 4:
        return mask
    yy, xx = np.mgrid[0:height, 0:width]
    cx = width * (0.25 + 0.5 * key_index / 3) + 3 * frame_index
    cy = height * 0.5
    rx, ry = width * 0.12, height * 0.3
    mask[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = True
    if hole:
        mask[(abs(xx - cx) < rx * 0.2) & (abs(yy - cy) < ry * 0.2)] = False
    return mask


class ScriptedTracker:
    """Yields scripted masks for what the plan covers, in frame order, like Sam2Tracker."""

    def __init__(self) -> None:
        self.calls = 0
        self.object_frames = 0  # masks computed, over all calls

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        self.calls += 1
        plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
        keys: list[ObjectKey] = list(prompts.objects)
        wanted = plan.objects_by_frame()
        for frame_index in sorted(wanted):
            self.object_frames += len(wanted[frame_index])
            yield FrameMasks(
                frame_index,
                {
                    key: scripted_mask(i, frame_index, width=frames.width, height=frames.height)
                    for i, key in enumerate(keys)
                    if key in wanted[frame_index]
                },
            )


def scripted_model(
    tracker: ScriptedTracker | None = None, *, identity: str = "scripted"
) -> LoadedModel:
    """The scripted tracker as a loaded model, for labelme_sam2.api.track(model=...);
    `identity` stands for the weights: another one, other masks."""
    return LoadedModel(
        tracker=tracker or ScriptedTracker(),
        label="scripted",
        version="scripted@256",
        device="cpu",
        identity=identity,
    )


def use_scripted_model(monkeypatch) -> ScriptedTracker:
    """`labelme-sam2 track` runs with the scripted tracker in place of SAM 2."""
    from labelme_sam2.api import _track

    tracker = ScriptedTracker()
    monkeypatch.setattr(_track, "load_model", lambda options, **_: scripted_model(tracker))
    return tracker
