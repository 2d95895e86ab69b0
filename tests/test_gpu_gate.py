"""The priority gate with a job's tracker under it (StepwiseTracker): a click gets the model
between two model steps of a job, even inside one output frame that takes many steps (a
backward pass before frame 0); a job never takes a step while a click holds the model; and a
job keeps the model through its steps while no click waits.

A fake tracker writes each step into one list of events, so the tests compare exact orders.
Every wait has a timeout and is asserted: a broken gate fails these tests, never hangs them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from labelme_sam2.core.frames import Frames, FrameSequence
from labelme_sam2.core.prompts import PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, StepHook, Tracker
from ls_backend.gpu_gate import PriorityGate, StepwiseTracker

WAIT = 5.0  # seconds: far more than any wait here needs when the gate works
UNUSED_FRAMES = FrameSequence(folder=Path("unused"), paths=(), width=8, height=8)


class SteppingTracker:
    """`frames` output frames of `steps` model steps each, like Sam2Tracker: each step is
    recorded, then `during(frame, step)` runs in it (the test's way in), then `after_step`."""

    def __init__(
        self,
        events: list[str],
        *,
        frames: int,
        steps: int,
        during: Callable[[int, int], None] | None = None,
    ) -> None:
        self.events = events
        self.frames = frames
        self.steps = steps
        self.during = during

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        for frame in range(self.frames):
            for step in range(self.steps):
                self.events.append(f"step {frame}.{step}")
                if self.during is not None:
                    self.during(frame, step)
                if after_step is not None:
                    after_step()
            yield FrameMasks(frame_index=frame, masks={})


def stepwise(tracker: Tracker, gate: PriorityGate) -> Tracker:
    """The one place that builds a StepwiseTracker (its constructor may change)."""
    return StepwiseTracker(tracker, gate)


def run_job(tracker: Tracker, events: list[str]) -> None:
    """A job's loop: every output frame, recorded outside the gate as the job writes it."""
    for masks in tracker.track(UNUSED_FRAMES, PromptSet()):
        events.append(f"frame {masks.frame_index}")


def frame_events(frame: int, steps: int) -> list[str]:
    return [f"step {frame}.{step}" for step in range(steps)] + [f"frame {frame}"]


class Started:
    """A daemon thread whose error, if any, is raised again by join()."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:
            self.error = error

    def join(self) -> None:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), f"{self.thread.name} still runs after {WAIT} s"
        if self.error is not None:
            raise self.error


def wait_until_a_click_waits(gate: PriorityGate) -> None:
    """The gate tells nobody that a click waits (nothing else needs it): the test peeks, so
    that where the click lands is exact, not a matter of thread timing."""
    deadline = time.monotonic() + WAIT
    while not gate._clicks:
        assert time.monotonic() < deadline, f"no click waited for the gate within {WAIT} s"
        time.sleep(0.001)


def test_a_click_during_a_long_frame_runs_between_two_of_its_steps() -> None:
    gate = PriorityGate()
    events: list[str] = []
    mid_frame = threading.Event()

    def during(frame: int, step: int) -> None:
        if (frame, step) == (0, 1):
            mid_frame.set()
            wait_until_a_click_waits(gate)

    def click() -> None:
        with gate.interactive():
            events.append("click starts")
            time.sleep(0.05)  # a step of the job's in here would show in the events
            events.append("click ends")

    tracker = stepwise(SteppingTracker(events, frames=2, steps=4, during=during), gate)
    job = Started(lambda: run_job(tracker, events))
    assert mid_frame.wait(WAIT)
    clicker = Started(click)
    clicker.join()
    job.join()
    assert events == [
        "step 0.0",
        "step 0.1",
        "click starts",
        "click ends",
        "step 0.2",
        "step 0.3",
        "frame 0",
        *frame_events(1, 4),
    ]


def test_a_job_takes_no_step_while_a_click_holds_the_gate() -> None:
    gate = PriorityGate()
    events: list[str] = []
    holding = threading.Event()
    done = threading.Event()

    def click() -> None:
        with gate.interactive():
            events.append("click starts")
            holding.set()
            assert done.wait(WAIT)
            events.append("click ends")

    clicker = Started(click)
    assert holding.wait(WAIT)
    job = Started(
        lambda: run_job(stepwise(SteppingTracker(events, frames=2, steps=2), gate), events)
    )
    time.sleep(0.2)  # the job's chance to step, were the gate open
    assert events == ["click starts"]
    done.set()
    clicker.join()
    job.join()
    assert events == ["click starts", "click ends", *frame_events(0, 2), *frame_events(1, 2)]


def test_without_a_waiting_click_the_job_keeps_the_gate_through_a_frame() -> None:
    gate = PriorityGate()
    events: list[str] = []
    others: list[Started] = []
    other_has_it = threading.Event()

    def other_turn() -> None:  # another background turn: it gets the gate between frames only
        with gate.background():
            events.append("other turn")
            other_has_it.set()

    def during(frame: int, step: int) -> None:
        if (frame, step) == (0, 0):
            others.append(Started(other_turn))
        if frame == 0:
            assert not other_has_it.wait(0.05)  # after_step has not let it in, nor will

    job = Started(
        lambda: run_job(
            stepwise(SteppingTracker(events, frames=2, steps=3, during=during), gate), events
        )
    )
    job.join()
    (other,) = others
    other.join()
    turn = events.index("other turn")
    assert events[:turn] + events[turn + 1 :] == [*frame_events(0, 3), *frame_events(1, 3)]
    assert events[turn - 1] in ("step 0.2", "frame 0", "step 1.2", "frame 1")  # not mid-frame


def test_clicks_get_the_model_in_the_order_they_came() -> None:
    # Under 20 annotators a click that lost every race waited 27 s while the median was 2.6 s
    # (bench/load_test.py): clicks are first come, first served.
    gate = PriorityGate()
    served: list[int] = []
    threads = []
    with gate.interactive():  # the model is busy with a click while the others arrive
        for number in range(8):

            def click(number: int = number) -> None:
                with gate.interactive():
                    served.append(number)

            thread = threading.Thread(target=click)
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + WAIT
            while len(gate._clicks) < number + 1:  # it waits before the next one comes
                assert time.monotonic() < deadline, "a click did not wait for the gate"
                time.sleep(0.001)
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert served == list(range(8))
