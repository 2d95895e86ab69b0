"""The tracker contract: a prompt set in, a stream of per-frame masks out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan

StepHook = Callable[[], None]  # runs after each model step of a tracker
# The masks of frame i as the last finished run left them (labelme_sam2/reruns.py keeps them).
LastRunMasks = Callable[[int], dict[ObjectKey, Mask]]


@dataclass(frozen=True)
class FrameMasks:
    """One frame's result: a mask per object (all False when hidden)."""

    frame_index: int
    masks: dict[ObjectKey, Mask]


class Tracker(Protocol):
    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        """Yield, once each and in frame order, the frames the plan covers (default: the whole
        plan, every frame with every object), each with the masks the plan computes there.

        `after_step` runs after each model step (a keyframe decoded, a frame tracked): one
        output frame can take many steps, and a server lets a waiting click use the model
        between them."""
        ...
