"""The tracker contract: a prompt set in, a stream of per-frame masks out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan


@dataclass(frozen=True)
class FrameMasks:
    """One frame's result: a bool height x width mask per object (all False when hidden)."""

    frame_index: int
    masks: dict[ObjectKey, np.ndarray]


class Tracker(Protocol):
    def track(
        self, frames: Frames, prompts: PromptSet, *, plan: TrackingPlan | None = None
    ) -> Iterator[FrameMasks]:
        """Yield, once each and in frame order, the frames the plan covers (default: the whole
        plan, every frame with every object), each with the masks the plan computes there."""
        ...
