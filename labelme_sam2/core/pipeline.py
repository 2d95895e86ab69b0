"""prompts -> tracker -> per-frame masks -> writers, with progress, cancellation, a summary."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.stages import StagedRun, Writing
from labelme_sam2.core.tracking import FrameMasks, LastRunMasks, StepHook, Tracker

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (frames written, frames in all), after each frame


class FrameWriter(Protocol):
    def write(self, result: FrameMasks) -> None:
        """Take one frame's masks, every object's; frames arrive in order, each once, on one
        thread at a time (not the caller's), while other writers write on theirs."""
        ...

    def close(self) -> None:
        """Finish after the last frame (a video writer moves its file into place here)."""
        ...

    def abort(self) -> None:
        """The run failed: remove anything half-made, leave finished files as they are."""
        ...


class Cancelled(Exception):
    """The run's cancel event was set: it stopped at the tracker's next model step and after
    the frame each writer was writing."""

    def __init__(self, frames_written: int, summary: RunSummary | None = None) -> None:
        super().__init__(f"cancelled after {frames_written} frames")
        self.frames_written = frames_written  # by every writer
        self.summary = summary  # set by propagate(): the run so far


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
    last_run: LastRunMasks | None = None,
    on_progress: Progress | None = None,
    cancel: threading.Event | None = None,
    after_step: StepHook | None = None,
) -> RunSummary:
    """Every frame, in order, to every writer: the tracker's masks where `plan` computes them,
    the last run's elsewhere. Without a plan, the tracker computes everything. The tracker
    runs on its own thread, ahead of the writers (core/stages.py).

    Raises Cancelled when `cancel` is set: the tracker stops at its next model step, each
    writer after the frame it is writing, and every writer is aborted (each file old or new).
    """
    plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
    started = time.perf_counter()
    run = StagedRun(_lanes(writers), total=len(frames))

    def step_done() -> None:
        if after_step is not None:
            after_step()
        run.check_step()

    results = tracker.track(frames, prompts, plan=plan, after_step=step_done)
    merged = _merged(results, len(frames), plan.frames(), list(prompts.objects), last_run)

    def summary() -> RunSummary:
        return RunSummary(
            frames=len(frames),
            objects=len(prompts.objects),
            recomputed_frames=len(plan.frames()),
            seconds=time.perf_counter() - started,
        )

    try:
        _deliver(run, merged, writers=writers, on_progress=on_progress, cancel=cancel)
    except Cancelled as stop:
        raise Cancelled(stop.frames_written, summary()) from None
    return summary()


def deliver(
    results: Iterable[FrameMasks],
    *,
    writers: Sequence[FrameWriter],
    total: int,
    on_progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Each result to every writer, then close them all. On any failure (or cancel) every
    writer is aborted, and the first error is the one raised. `results` is iterated on a
    thread of its own, ahead of the writers."""
    run = StagedRun(_lanes(writers), total=total)
    _deliver(run, results, writers=writers, on_progress=on_progress, cancel=cancel)


def _deliver(
    run: StagedRun,
    results: Iterable[FrameMasks],
    *,
    writers: Sequence[FrameWriter],
    on_progress: Progress | None,
    cancel: threading.Event | None,
) -> None:
    total = run.total
    try:
        stopped_at = run.run(
            results,
            on_progress=(lambda done: None)
            if on_progress is None
            else (lambda done: on_progress(done, total)),
            cancelled=(lambda: False) if cancel is None else cancel.is_set,
        )
        if stopped_at is not None:
            raise Cancelled(stopped_at)
        for writer in writers:
            writer.close()
    except BaseException:
        abort_all(writers)
        raise


def _lanes(writers: Sequence[FrameWriter]) -> list[Writing]:
    """What may write at the same time: a writer's own lanes where it has them (one per kind
    of output across chunks, writers/by_chunk.py), else the writer itself."""
    lanes: list[Writing] = []
    for writer in writers:
        split = getattr(writer, "lanes", None)
        lanes.extend(split() if split is not None else [writer])
    return lanes


def abort_all(writers: Sequence[FrameWriter]) -> None:
    """Abort every writer, even when one of them fails to: that failure is no reason to leave
    the others' half-made files behind, and it must not hide why the run stopped."""
    for writer in writers:
        try:
            writer.abort()
        except Exception as error:  # the run's own error is the one the user must see
            log.warning("%s could not clean up after the failed run: %s", writer, error)


def _merged(
    results: Iterable[FrameMasks],
    frame_count: int,
    computed: set[int],
    keys: list[ObjectKey],
    last_run: LastRunMasks | None,
) -> Iterator[FrameMasks]:
    """Every frame's masks, the tracker's where it computes them, the last run's elsewhere."""
    fresh = iter(results)
    try:
        yield from _merged_frames(fresh, frame_count, computed, keys, last_run)
    finally:  # on the thread that ran the tracker: its clean-up may use the model
        close = getattr(fresh, "close", None)
        if close is not None:
            close()


def _merged_frames(
    fresh: Iterator[FrameMasks],
    frame_count: int,
    computed: set[int],
    keys: list[ObjectKey],
    last_run: LastRunMasks | None,
) -> Iterator[FrameMasks]:
    for frame_index in range(frame_count):
        masks: dict[ObjectKey, Mask] = {}
        if frame_index in computed:
            result = next(fresh, None)
            if result is None or result.frame_index != frame_index:
                got = "no frame" if result is None else f"frame {result.frame_index}"
                raise RuntimeError(f"tracker returned {got} where frame {frame_index} was due")
            masks = result.masks
        if set(masks) - set(keys):
            raise RuntimeError(f"tracker returned unknown objects on frame {frame_index}")
        missing = [key for key in keys if key not in masks]
        if missing:
            if last_run is None:
                raise RuntimeError(f"tracker returned no mask on frame {frame_index}")
            kept = last_run(frame_index)
            masks = {**masks, **{key: kept[key] for key in missing}}
        yield FrameMasks(frame_index, {key: masks[key] for key in keys})
    extra = next(fresh, None)
    if extra is not None:
        raise RuntimeError(f"tracker returned frame {extra.frame_index} beyond the last")
