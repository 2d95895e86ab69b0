"""Cancel means now, with the real SAM 2.1 tiny (random weights, 256, CPU, about 0.25 s a
model step here): on a 60-frame sequence whose only keyframe is its last frame, every other
frame is tracked backward before the first one comes out (some 15 s). A cancel or a
replacement 1 s in stops the run at its next model step, so the model is free again within
2 s: a click sent with the cancel is answered, and the next job runs; nothing is written.
Before, the run went on to its first output frame (the whole backward pass).

The measured seconds are printed (`pytest -s` shows them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelme_sam2.api import LoadedModel, track
from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, StepHook, Tracker
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker
from tests.conftest import folder_bytes, labelme_file, shape
from tests.ls_helpers import IMAGE, backward_only_task, click, local
from tests.test_jobs_embedded import Stack

pytestmark = pytest.mark.sam2
PAGES = 60
CANCEL_AFTER = 1.0  # seconds after the job starts: deep in its backward pass
FREED_WITHIN = 2.0  # seconds from the cancel until the model is free again


class TimedSteps:
    """The tracker, noting when each of its model steps ends."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self.steps: list[float] = []

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        def step_done() -> None:
            self.steps.append(time.monotonic())
            if after_step is not None:
                after_step()

        return self._tracker.track(frames, prompts, plan=plan, after_step=step_done)


class Click:
    """A click on a single image, sent on its own thread (and client) at once: it waits for
    the model while the job holds it."""

    def __init__(self, stack: Stack) -> None:
        self.answered_at: float | None = None
        self.status: int | None = None
        client = stack.app.test_client()
        body = {
            "tasks": [{"id": 99, "data": {"image": local("bedroom/00002.jpg")}}],
            "label_config": IMAGE,
            "project": "3",
            "params": {"context": {"result": [click(50, 50, "car")]}},
        }

        def send() -> None:
            self.status = client.post("/predict", json=body).status_code
            self.answered_at = time.monotonic()

        self._thread = threading.Thread(target=send, daemon=True)
        self._thread.start()

    def seconds_after(self, moment: float) -> float:
        self._thread.join(30)
        assert self.answered_at is not None and self.status == 200, self.status
        return self.answered_at - moment


def wait_for(stack: Stack, job_id: str, state: str) -> tuple[float, dict[str, Any]]:
    """When the job was first seen in `state` (polled every 10 ms), and its view then."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        view = stack.client.get(f"/jobs/{job_id}").json
        if view["state"] == state:
            return time.monotonic(), view
        assert view["state"] not in ("done", "failed"), view
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} never became {state}: {view}")


def in_backward_pass(stack: Stack, steps: TimedSteps, job_id: str, started: float) -> None:
    """Wait until CANCEL_AFTER seconds into the job, and check that it is still computing
    frames before its first output frame then."""
    time.sleep(max(0.0, started + CANCEL_AFTER - time.monotonic()))
    view = stack.client.get(f"/jobs/{job_id}").json
    assert view["state"] == "running" and view["frames_done"] == 0, view
    assert steps.steps and steps.steps[-1] > started, "the job took no model step in 1 s"


def test_a_replaced_or_cancelled_job_frees_the_model_within_a_step(
    tmp_path: Path, document_root: Path, tiny_sam2: Any
) -> None:
    steps = TimedSteps(Sam2Tracker(tiny_sam2))
    stack = Stack(tmp_path, steps)
    task = backward_only_task(1, document_root, pages=PAGES)
    try:
        # Replaced: the same task saved again 1 s after its job started.
        (first,) = stack.batch(task)["jobs"]
        started, _ = wait_for(stack, first, "running")
        in_backward_pass(stack, steps, first, started)
        replaced_at = time.monotonic()
        waiting_click = Click(stack)
        (second,) = stack.batch(task)["jobs"]
        assert stack.client.get(f"/jobs/{first}").json["state"] == "cancelling"
        stopped_at, stopped = wait_for(stack, first, "cancelled")
        second_started, _ = wait_for(stack, second, "running")
        click_seconds = waiting_click.seconds_after(replaced_at)
        steps_after = sum(replaced_at < step <= stopped_at for step in steps.steps)
        print(
            f"\nreplaced 1 s in: cancelled after {stopped_at - replaced_at:.2f} s "
            f"({steps_after} model steps), the replacement started after "
            f"{second_started - replaced_at:.2f} s, the click answered after "
            f"{click_seconds:.2f} s"
        )
        assert stopped["replaced_by"] == second and stopped["frames_done"] == 0
        assert stopped_at - replaced_at < FREED_WITHIN
        assert second_started - replaced_at < FREED_WITHIN
        assert click_seconds < FREED_WITHIN

        # Cancelled through /jobs 1 s after the replacement started.
        in_backward_pass(stack, steps, second, second_started)
        cancelled_at = time.monotonic()
        waiting_click = Click(stack)
        answer = stack.client.post(f"/jobs/{second}/cancel")
        assert answer.status_code == 200 and answer.json["state"] == "cancelling"
        stopped_at, stopped = wait_for(stack, second, "cancelled")
        click_seconds = waiting_click.seconds_after(cancelled_at)
        last_step = steps.steps[-1]
        print(
            f"cancelled 1 s in: cancelled after {stopped_at - cancelled_at:.2f} s, the click "
            f"answered after {click_seconds:.2f} s"
        )
        assert stopped_at - cancelled_at < FREED_WITHIN and stopped["frames_done"] == 0
        assert click_seconds < FREED_WITHIN
        time.sleep(0.5)  # the model stays idle: no step of the cancelled job comes later
        assert steps.steps[-1] == last_step
        assert stack.sink.writes == 0  # neither job wrote a prediction
    finally:
        stack.jobs.close()


def test_the_library_api_cancel_stops_a_backward_pass_within_a_step(
    make_folder: Any, tiny_sam2: Any
) -> None:
    last = f"{PAGES - 1:05d}"
    keyframe = labelme_file(
        [shape("car", "point", [[60.0, 40.0]])], image=f"{last}.png", width=120, height=80
    )
    folder = make_folder({f"{last}.json": keyframe}, frames=PAGES)
    before = folder_bytes(folder)
    model = LoadedModel(
        tracker=Sam2Tracker(tiny_sam2),
        label="sam2.1_hiera_tiny (random weights)",
        version="sam2.1_hiera_tiny-random@256",
        device="cpu",
        identity="random@256",
    )
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def cancel_now() -> None:
        cancelled_at.append(time.monotonic())
        cancel.set()

    timer = threading.Timer(CANCEL_AFTER, cancel_now)
    timer.start()
    try:
        result = track(folder, model=model, cancel=cancel)
    finally:
        timer.cancel()
    returned_at = time.monotonic()
    assert cancelled_at, "track() finished before the cancel"
    print(f"\ntrack() returned {returned_at - cancelled_at[0]:.2f} s after the cancel")
    assert returned_at - cancelled_at[0] < FREED_WITHIN
    assert result.cancelled and result.frames_written == 0
    assert folder_bytes(folder) == before  # no LabelMe file, no run record
