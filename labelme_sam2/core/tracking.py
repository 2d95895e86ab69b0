"""The tracker contract: a prompt set in, a stream of per-frame masks out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from labelme_sam2.core.frames import FrameSequence
from labelme_sam2.core.prompts import ObjectKey, PromptSet


@dataclass(frozen=True)
class FrameMasks:
    """One frame's result: a bool height x width mask for every object (empty when hidden)."""

    frame_index: int
    masks: dict[ObjectKey, np.ndarray]


class Tracker(Protocol):
    def track(self, frames: FrameSequence, prompts: PromptSet) -> Iterator[FrameMasks]:
        """Yield every frame exactly once, in any order, with a mask for every object."""
        ...
