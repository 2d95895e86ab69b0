"""The tracker contract: a prompt set in, a stream of per-frame masks out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


_step_hooks = threading.local()


@contextmanager
def between_model_steps(hook: Callable[[], None]) -> Iterator[None]:
    """Run `hook` after each model step a tracker takes on this thread (a server lets a waiting
    click use the model there, even inside one long frame of a job's output)."""
    previous = getattr(_step_hooks, "hook", None)
    _step_hooks.hook = hook
    try:
        yield
    finally:
        _step_hooks.hook = previous


def model_step_done() -> None:
    """Trackers call this after each model step (a keyframe decoded, a frame tracked)."""
    hook = getattr(_step_hooks, "hook", None)
    if hook is not None:
        hook()
