"""core/stages.py: the tracker ahead of the writers by a bounded amount, each lane in frame
order on its own thread, and every way a run can stop."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.stages import StagedRun
from labelme_sam2.core.tracking import FrameMasks

KEY = ObjectKey("car", None)


def frames(count: int, *, nbytes: int = 100, log: list[int] | None = None) -> Iterator[FrameMasks]:
    for i in range(count):
        if log is not None:
            log.append(i)
        yield FrameMasks(i, {KEY: np.zeros(nbytes, dtype=bool)})


class Lane:
    def __init__(self, *, gate: threading.Event | None = None, fail_at: int | None = None) -> None:
        self.seen: list[tuple[int, str]] = []
        self.gate = gate
        self.fail_at = fail_at

    def write(self, result: FrameMasks) -> None:
        if self.gate is not None:
            assert self.gate.wait(10)
        if result.frame_index == self.fail_at:
            raise OSError(f"disk full at {result.frame_index}")
        self.seen.append((result.frame_index, threading.current_thread().name))


def run_in_thread(run: StagedRun, results, **kwargs) -> tuple[threading.Thread, list]:
    outcome: list = []

    def target() -> None:
        try:
            outcome.append(
                run.run(
                    results,
                    on_progress=kwargs.get("on_progress", lambda _: None),
                    cancelled=kwargs.get("cancelled", lambda: False),
                )
            )
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_every_lane_gets_every_frame_in_order_on_its_own_thread():
    lanes = [Lane(), Lane(), Lane()]
    progress: list[int] = []
    stopped = StagedRun(lanes, total=50).run(
        frames(50), on_progress=progress.append, cancelled=lambda: False
    )
    assert stopped is None and progress == list(range(1, 51))
    for lane in lanes:
        assert [i for i, _ in lane.seen] == list(range(50))
        assert len({name for _, name in lane.seen}) == 1  # one thread per lane
    assert len({lane.seen[0][1] for lane in lanes}) == 3
    assert threading.current_thread().name not in {lane.seen[0][1] for lane in lanes}


@pytest.mark.parametrize(
    ("frames_ahead", "bytes_ahead", "held"),
    [(3, 10**9, 3), (100, 250, 2), (100, 50, 1)],  # 100-byte frames; one always fits
)
def test_the_tracker_runs_ahead_of_a_stuck_writer_only_so_far(frames_ahead, bytes_ahead, held):
    gate, computed = threading.Event(), []
    run = StagedRun([Lane(gate=gate)], total=40, frames_ahead=frames_ahead, bytes_ahead=bytes_ahead)
    thread, outcome = run_in_thread(run, frames(40, log=computed))
    wait_until(lambda: len(computed) == held + 1)  # held frames queued, one more waiting
    time.sleep(0.2)
    assert len(computed) == held + 1
    gate.set()
    thread.join(10)
    assert outcome == [None] and len(computed) == 40


def test_a_writer_error_stops_the_tracker_and_is_raised():
    computed: list[int] = []
    closed = threading.Event()

    def results() -> Iterator[FrameMasks]:
        try:
            yield from frames(1000, log=computed)
        finally:
            closed.set()

    with pytest.raises(OSError, match="disk full at 7"):
        StagedRun([Lane(), Lane(fail_at=7)], total=1000, frames_ahead=4).run(
            results(), on_progress=lambda _: None, cancelled=lambda: False
        )
    assert closed.is_set() and len(computed) < 20


def test_a_tracker_error_stops_the_writers_and_is_raised():
    def results() -> Iterator[FrameMasks]:
        yield from frames(3)
        raise RuntimeError("CUDA out of memory")

    lane = Lane()
    with pytest.raises(RuntimeError, match="out of memory"):
        StagedRun([lane], total=10).run(
            results(), on_progress=lambda _: None, cancelled=lambda: False
        )
    seen = [i for i, _ in lane.seen]
    assert seen == [0, 1, 2][: len(seen)]  # in order, stopped wherever the error found it


def test_a_cancel_stops_the_tracker_at_its_next_step_not_its_next_frame():
    cancel, steps = threading.Event(), []
    run = StagedRun([Lane()], total=5)

    def results() -> Iterator[FrameMasks]:
        yield from frames(1)
        for step in range(10_000):  # a long backward pass before frame 1
            steps.append(step)
            time.sleep(0.001)
            run.check_step()
        yield from frames(4)

    progress: list[int] = []

    def on_progress(done: int) -> None:
        progress.append(done)
        cancel.set()

    started = time.monotonic()
    assert run.run(results(), on_progress=on_progress, cancelled=cancel.is_set) == 1
    assert progress == [1] and len(steps) < 10_000 and time.monotonic() - started < 5


def test_an_error_in_on_progress_stops_everything_and_is_raised():
    lane = Lane()
    seen_at_error: list[int] = []

    def on_progress(done: int) -> None:
        if done == 3:
            seen_at_error.append(len(lane.seen))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        StagedRun([lane], total=1000, frames_ahead=2).run(
            frames(1000), on_progress=on_progress, cancelled=lambda: False
        )
    # The lane may finish the frames already handed to it (at most 2 ahead), no more.
    assert len(lane.seen) <= seen_at_error[0] + 2 + 1 < 1000


def test_no_lanes_and_no_frames():
    assert (
        StagedRun([], total=3).run(frames(3), on_progress=lambda _: None, cancelled=lambda: False)
        is None
    )
    assert (
        StagedRun([Lane()], total=0).run(
            iter(()), on_progress=lambda _: None, cancelled=lambda: False
        )
        is None
    )


class PreparingLane:
    """Prepares on the pool (slowly, so frames overlap), commits in order."""

    def __init__(self, *, fail_at: int | None = None) -> None:
        self.committed: list[int] = []
        self.preparing = 0
        self.most_at_once = 0
        self.commit_threads: set[str] = set()
        self.fail_at = fail_at
        self._lock = threading.Lock()

    def prepare(self, result: FrameMasks) -> int:
        with self._lock:
            self.preparing += 1
            self.most_at_once = max(self.most_at_once, self.preparing)
        time.sleep(0.02)  # an encoder that releases the GIL
        with self._lock:
            self.preparing -= 1
        if result.frame_index == self.fail_at:
            raise ValueError(f"cannot encode frame {result.frame_index}")
        return result.frame_index

    def commit(self, prepared: object) -> None:
        self.commit_threads.add(threading.current_thread().name)
        self.committed.append(int(prepared))  # type: ignore[call-overload]

    def write(self, result: FrameMasks) -> None:
        self.commit(self.prepare(result))


def test_a_preparing_writer_prepares_frames_at_once_and_commits_them_in_order():
    lane = PreparingLane()
    progress: list[int] = []
    started = time.monotonic()
    StagedRun([lane], total=40, workers=4).run(
        frames(40), on_progress=progress.append, cancelled=lambda: False
    )
    assert lane.committed == list(range(40)) and progress == list(range(1, 41))
    assert lane.most_at_once > 1 and len(lane.commit_threads) == 1
    assert time.monotonic() - started < 40 * 0.02  # faster than one frame at a time


def test_an_error_in_prepare_is_raised_and_stops_the_run():
    lane = PreparingLane(fail_at=5)
    with pytest.raises(ValueError, match="cannot encode frame 5"):
        StagedRun([lane], total=100, workers=3).run(
            frames(100), on_progress=lambda _: None, cancelled=lambda: False
        )
    assert lane.committed == list(range(5))


def test_a_second_interrupt_while_the_threads_stop_still_waits_for_them():
    """Ctrl-C twice: the run waits out the tracker's step in progress (here 0.4 s) before it
    raises, so no thread of the run is left inside a model call when the process exits."""
    lane = Lane()
    run = StagedRun([lane], total=3)

    def results() -> Iterator[FrameMasks]:
        yield from frames(1)
        while True:  # a slow model step, then the step hook
            time.sleep(0.4)
            run.check_step()

    def interrupt_twice() -> None:
        # real SIGINTs (a simulated one would wait for the join to end, as no signal wakes it)
        main = threading.main_thread().ident
        assert main is not None
        wait_until(lambda: lane.seen)  # the run is under way, in its watch loop
        signal.pthread_kill(main, signal.SIGINT)
        time.sleep(0.1)
        signal.pthread_kill(main, signal.SIGINT)  # lands while it joins the tracker, mid-step

    threading.Thread(target=interrupt_twice).start()
    with pytest.raises(KeyboardInterrupt):
        run.run(results(), on_progress=lambda _: None, cancelled=lambda: False)
    assert not [t.name for t in threading.enumerate() if t.name in ("tracker", "writer-0")]
