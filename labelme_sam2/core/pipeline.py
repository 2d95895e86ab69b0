"""prompts -> tracker -> per-frame masks -> writers, with progress and a summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from labelme_sam2.core.frames import FrameSequence
from labelme_sam2.core.prompts import PromptSet
from labelme_sam2.core.tracking import FrameMasks, Tracker


class FrameWriter(Protocol):
    def write(self, result: FrameMasks) -> None:
        """Take one frame's masks; frames may arrive in any order."""
        ...

    def close(self) -> None:
        """Finish after the last frame (a video writer moves its file into place here)."""
        ...

    def abort(self) -> None:
        """The run failed: remove anything half-made, leave finished files as they are."""
        ...


@dataclass(frozen=True)
class RunSummary:
    frames: int
    objects: int
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        return (
            f"tracked {self.frames} frames x {self.objects} objects in {self.seconds:.1f} s "
            f"({self.frames_per_second:.2f} frames/s)"
        )


def propagate(
    frames: FrameSequence,
    prompts: PromptSet,
    *,
    tracker: Tracker,
    writers: Sequence[FrameWriter],
    on_frame: Callable[[], None] = lambda: None,
) -> RunSummary:
    started = time.perf_counter()
    try:
        _stream(frames, prompts, tracker=tracker, writers=writers, on_frame=on_frame)
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    return RunSummary(
        frames=len(frames), objects=len(prompts.objects), seconds=time.perf_counter() - started
    )


def _stream(
    frames: FrameSequence,
    prompts: PromptSet,
    *,
    tracker: Tracker,
    writers: Sequence[FrameWriter],
    on_frame: Callable[[], None],
) -> None:
    done: set[int] = set()
    for result in tracker.track(frames, prompts):
        if result.frame_index in done or not 0 <= result.frame_index < len(frames):
            raise RuntimeError(f"tracker returned frame {result.frame_index} twice or out of range")
        if result.masks.keys() != prompts.objects.keys():
            raise RuntimeError(f"tracker returned other objects on frame {result.frame_index}")
        done.add(result.frame_index)
        for writer in writers:
            writer.write(result)
        on_frame()
    if len(done) != len(frames):
        raise RuntimeError(f"tracker returned {len(done)} of {len(frames)} frames")
