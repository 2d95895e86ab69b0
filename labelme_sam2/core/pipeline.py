"""prompts -> tracker -> per-frame masks -> writers, with progress and a summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, Tracker


class FrameWriter(Protocol):
    def write(self, result: FrameMasks) -> None:
        """Take one frame's masks, every object's; frames arrive in order, each once."""
        ...

    def close(self) -> None:
        """Finish after the last frame (a video writer moves its file into place here)."""
        ...

    def abort(self) -> None:
        """The run failed: remove anything half-made, leave finished files as they are."""
        ...


PreviousMasks = Callable[[int], dict[ObjectKey, np.ndarray]]


@dataclass(frozen=True)
class RunSummary:
    frames: int
    objects: int
    recomputed_frames: int  # frames the tracker computed at least one mask on
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.recomputed_frames / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        if self.recomputed_frames == self.frames:
            done = f"tracked {self.frames} frames x {self.objects} objects"
        else:
            done = (
                f"recomputed {self.recomputed_frames} of {self.frames} frames "
                f"x {self.objects} objects (the rest kept from the last run)"
            )
        return f"{done} in {self.seconds:.1f} s ({self.frames_per_second:.2f} frames/s)"


def propagate(
    frames: Frames,
    prompts: PromptSet,
    *,
    tracker: Tracker,
    writers: Sequence[FrameWriter],
    plan: TrackingPlan | None = None,
    previous: PreviousMasks | None = None,
    on_frame: Callable[[], None] = lambda: None,
) -> RunSummary:
    """Every frame, in order, to every writer: the tracker's masks where `plan` computes them,
    `previous` (the last run's) elsewhere. Without a plan, the tracker computes everything."""
    plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
    started = time.perf_counter()
    results = tracker.track(frames, prompts, plan=plan)
    deliver(
        _merged(results, len(frames), list(prompts.objects), previous),
        writers=writers,
        on_frame=on_frame,
    )
    return RunSummary(
        frames=len(frames),
        objects=len(prompts.objects),
        recomputed_frames=len(plan.frames()),
        seconds=time.perf_counter() - started,
    )


def deliver(
    results: Iterable[FrameMasks],
    *,
    writers: Sequence[FrameWriter],
    on_frame: Callable[[], None] = lambda: None,
) -> None:
    """Each result to every writer, then close them all; on any failure, abort them all."""
    try:
        for result in results:
            for writer in writers:
                writer.write(result)
            on_frame()
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise


def _merged(
    results: Iterable[FrameMasks],
    frame_count: int,
    keys: list[ObjectKey],
    previous: PreviousMasks | None,
) -> Iterator[FrameMasks]:
    fresh = iter(results)
    pending = next(fresh, None)
    for frame_index in range(frame_count):
        masks: dict[ObjectKey, np.ndarray] = {}
        if pending is not None and pending.frame_index == frame_index:
            masks, pending = pending.masks, next(fresh, None)
        elif pending is not None and pending.frame_index < frame_index:
            raise RuntimeError(f"tracker returned frame {pending.frame_index} out of order")
        if set(masks) - set(keys):
            raise RuntimeError(f"tracker returned unknown objects on frame {frame_index}")
        missing = [key for key in keys if key not in masks]
        if missing:
            if previous is None:
                raise RuntimeError(f"tracker returned no mask on frame {frame_index}")
            kept = previous(frame_index)
            masks = {**masks, **{key: kept[key] for key in missing}}
        yield FrameMasks(frame_index, {key: masks[key] for key in keys})
    if pending is not None:
        raise RuntimeError(f"tracker returned frame {pending.frame_index} beyond the last")
