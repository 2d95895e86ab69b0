"""The pipeline's stages on their own threads, so the model never waits for the files.

The tracker runs on one thread and hands frames over as it computes them; each lane of
writers (a writer, or one per kind of output) writes them on its own thread, in frame order;
the caller's thread only reports progress and watches for cancellation. The tracker may run
ahead of the slowest lane by a bounded number of frames and bytes, so memory stays flat
however long the video. A GPU step or a video decode releases the GIL, and so do zlib, PNG
and H.264 encoding: the stages overlap on every core.

Failures keep the single-threaded promises: the first error (or cancel) stops every stage,
the tracker at its next model step, each lane after the frame it is writing; then every
writer is aborted, so each file is old or new, and the first error is raised on the caller's
thread.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, runtime_checkable

from labelme_sam2.core.tracking import FrameMasks

# How far the tracker may run ahead of the slowest writer. The frame count also keeps the
# frames a writer draws on within reach of the shared decode cache (core/frames.py).
FRAMES_AHEAD = 64
BYTES_AHEAD = 512 * 2**20
POLL_SECONDS = 0.05  # how often the caller's thread looks at a cancel event


class Writing(Protocol):
    def write(self, result: FrameMasks) -> None: ...


@runtime_checkable
class Preparing(Protocol):
    """A writer whose work per frame splits in two: `prepare` (encoding: polygons, PNG, JSON
    text), pure and safe on any thread, run for several frames at once on a pool the size of
    the machine; and `commit` (the file written), in frame order on the lane's thread. Its
    `write(result)` must equal `commit(prepare(result))`."""

    def write(self, result: FrameMasks) -> None: ...

    def prepare(self, result: FrameMasks) -> object: ...

    def commit(self, prepared: object) -> None: ...


class StageStopped(Exception):
    """Raised inside the tracker (by its step hook) once the run is stopping: the tracker
    leaves its current work at the next model step instead of finishing the frame."""


@dataclass
class _Shared:
    """What the threads share, under `changed`'s lock."""

    changed: threading.Condition = field(default_factory=threading.Condition)
    # Frames computed and not yet written by every lane: position in the run -> (frame, bytes).
    waiting: dict[int, tuple[FrameMasks, int]] = field(default_factory=dict)
    waiting_bytes: int = 0
    produced: int = 0
    producer_done: bool = False
    lane_done: list[int] = field(default_factory=list)
    stopping: bool = False
    error: BaseException | None = None

    def written(self) -> int:
        """Frames every lane has written."""
        return min(self.lane_done) if self.lane_done else self.produced

    def fail(self, error: BaseException) -> None:
        with self.changed:
            if self.error is None:
                self.error = error
            self.stopping = True
            self.changed.notify_all()


class StagedRun:
    """One run of `results` through `lanes`; see the module docstring."""

    def __init__(
        self,
        lanes: Sequence[Writing],
        *,
        total: int,
        frames_ahead: int = FRAMES_AHEAD,
        bytes_ahead: int = BYTES_AHEAD,
        workers: int | None = None,
    ) -> None:
        self._lanes = list(lanes)
        self.total = total
        self._shared = _Shared(lane_done=[0] * len(lanes))
        self._frames_ahead = max(1, frames_ahead)
        self._bytes_ahead = bytes_ahead
        self._depth = max(1, workers or os.cpu_count() or 1)  # frames a lane prepares at once
        self._pool: ThreadPoolExecutor | None = None

    def check_step(self) -> None:
        """The tracker's step hook: leave at once when the run is stopping."""
        if self._shared.stopping:
            raise StageStopped

    def run(
        self,
        results: Iterable[FrameMasks],
        *,
        on_progress: Callable[[int], None],
        cancelled: Callable[[], bool],
    ) -> int | None:
        """Write every result; None when all were written, else the frames every lane wrote
        before a cancel stopped the run. Raises the run's first error."""
        threads = [_Stage(partial(self._produce, results), name="tracker")]
        threads += [
            _Stage(partial(self._write_lane, number), name=f"writer-{number}")
            for number in range(len(self._lanes))
        ]
        if any(isinstance(lane, Preparing) for lane in self._lanes):
            self._pool = ThreadPoolExecutor(self._depth, thread_name_prefix="prepare")
        for thread in threads:
            thread.start()  # every path below waits for each to end
        try:
            stopped_at = self._watch(on_progress, cancelled)
        except BaseException as error:  # a KeyboardInterrupt, an error from on_progress
            self._shared.fail(error)
            stopped_at = None
        finally:
            self._stop_and_join(threads)
            if self._pool is not None:
                _unless_interrupted(
                    partial(self._pool.shutdown, wait=True, cancel_futures=True), self._shared
                )
        if self._shared.error is not None:
            raise self._shared.error
        if stopped_at is not None:
            return self._shared.written()
        return None

    def _watch(
        self, on_progress: Callable[[int], None], cancelled: Callable[[], bool]
    ) -> int | None:
        shared, reported = self._shared, 0
        while True:
            with shared.changed:
                shared.changed.wait_for(partial(self._news, reported), timeout=POLL_SECONDS)
                written, finished, failed = shared.written(), self._finished(), shared.error
            if failed is not None:
                return None
            while reported < written:
                reported += 1
                on_progress(reported)
            if finished:
                return None
            if cancelled():  # (a cancel once every frame is written has nothing left to stop)
                with shared.changed:
                    shared.stopping = True
                    shared.changed.notify_all()
                return reported

    def _finished(self) -> bool:
        shared = self._shared
        return shared.producer_done and shared.written() == shared.produced

    def _stop_and_join(self, threads: list[_Stage]) -> None:
        with self._shared.changed:
            if not self._finished():
                self._shared.stopping = True
            self._shared.changed.notify_all()
        for thread in threads:
            _unless_interrupted(thread.ended.wait, self._shared)
            _unless_interrupted(thread.join, self._shared)

    def _produce(self, results: Iterable[FrameMasks]) -> None:
        shared = self._shared
        iterator = iter(results)
        try:
            for result in iterator:
                size = sum(mask.nbytes for mask in result.masks.values())
                with shared.changed:
                    shared.changed.wait_for(partial(self._may_put, size))
                    if shared.stopping:
                        return
                    shared.waiting[shared.produced] = (result, size)  # by position
                    shared.waiting_bytes += size
                    shared.produced += 1
                    shared.changed.notify_all()
        except StageStopped:
            return
        except BaseException as error:
            shared.fail(error)
        finally:
            # Here, on the thread that ran it: a tracker's clean-up may hold thread-bound state.
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as error:
                    shared.fail(error)
            with shared.changed:
                shared.producer_done = True
                shared.changed.notify_all()

    def _news(self, reported: int) -> bool:
        shared = self._shared
        return shared.written() > reported or shared.stopping or self._finished()

    def _may_put(self, size: int) -> bool:
        return self._shared.stopping or self._room_for(size)

    def _may_write(self, index: int) -> bool:
        shared = self._shared
        return shared.stopping or index in shared.waiting or shared.producer_done

    def _room_for(self, size: int) -> bool:
        shared = self._shared
        ahead = shared.produced - shared.written()
        if ahead == 0:
            return True  # one frame always fits, however large
        return ahead < self._frames_ahead and shared.waiting_bytes + size <= self._bytes_ahead

    def _write_lane(self, number: int) -> None:
        lane = self._lanes[number]
        if isinstance(lane, Preparing) and self._pool is not None:
            self._prepare_and_commit(number, lane, self._pool)
            return
        shared = self._shared
        while True:
            with shared.changed:
                index = shared.lane_done[number]
                shared.changed.wait_for(partial(self._may_write, index))
                if shared.stopping or index not in shared.waiting:
                    return
                result = shared.waiting[index][0]
            try:
                lane.write(result)
            except BaseException as error:
                shared.fail(error)
                return
            self._wrote(number)

    def _prepare_and_commit(self, number: int, lane: Preparing, pool: ThreadPoolExecutor) -> None:
        """Several frames prepared at once on the pool, committed one by one in order."""
        shared = self._shared
        pending: collections.deque[Future[object]] = collections.deque()
        try:
            while True:
                with shared.changed:
                    submitted = shared.lane_done[number] + len(pending)
                    if not pending:
                        shared.changed.wait_for(partial(self._may_write, submitted))
                    if shared.stopping:
                        return
                    while submitted in shared.waiting and len(pending) < self._depth:
                        result = shared.waiting[submitted][0]
                        pending.append(pool.submit(lane.prepare, result))
                        submitted += 1
                    if not pending:
                        return  # the tracker is done and every frame is written
                lane.commit(pending.popleft().result())
                self._wrote(number)
        except BaseException as error:
            shared.fail(error)
        finally:
            for future in pending:
                future.cancel()

    def _wrote(self, number: int) -> None:
        shared = self._shared
        with shared.changed:
            shared.lane_done[number] += 1
            while shared.waiting and min(shared.waiting) < shared.written():
                _, size = shared.waiting.pop(min(shared.waiting))
                shared.waiting_bytes -= size
            shared.changed.notify_all()


class _Stage(threading.Thread):
    """A stage's thread, with an event it sets as its very last step: a Thread.join that a
    Ctrl-C interrupts marks the thread as ended while it still runs (CPython 3.11's
    bpo-45274 handling), so waiting again must not rely on join."""

    def __init__(self, work: Callable[[], None], *, name: str) -> None:
        super().__init__(name=name, daemon=True)  # never keeps the process alive
        self._work = work
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            self._work()
        finally:
            self.ended.set()


def _unless_interrupted(wait: Callable[[], object], shared: _Shared) -> None:
    """Wait, even through a second Ctrl-C: the threads are stopping (each within one step),
    and a process that exits while one is inside torch or OpenCV dies in std::terminate. The
    interrupt is kept as the run's error (unless it has one) and raised once all have ended."""
    while True:
        try:
            wait()
            return
        except KeyboardInterrupt as error:
            shared.fail(error)
