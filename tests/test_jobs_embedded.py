"""Background jobs in process (the default), with a scripted tracker and a recording stand-in
for Label Studio's predictions API: batch predict -> job -> one prediction per task; replace,
cancel, retry; /jobs and /metrics; clicks go before a running job."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, StepHook, Tracker
from ls_backend.app import create_app
from ls_backend.jobs.embedded import EmbeddedJobs
from ls_backend.jobs.model import JobControl, JobSpec
from ls_backend.jobs.runner import run_job
from ls_backend.label_config import parse_label_config
from ls_backend.label_studio_api import LabelStudioApiError
from ls_backend.media import LabelStudioAccess, MediaResolver
from ls_backend.prediction import Prediction, Predictor
from ls_backend.settings import BackendSettings
from tests.ls_helpers import FRAMES, IMAGE, VERSION, click, frame_urls, local
from tests.scripted_tracker import ScriptedTracker

ACCESS = LabelStudioAccess(url="http://label-studio.invalid", api_key="k")


class RecordingSink:
    """Label Studio's side of replace_prediction: the predictions each task holds."""

    def __init__(self) -> None:
        self.by_task: dict[int, list[Prediction]] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def replace_prediction(self, *, task_id: int, prediction: Prediction) -> int:
        with self._lock:
            self.writes += 1
            self.by_task[task_id] = [prediction]
            return self.writes


class HeldTracker(ScriptedTracker):
    """Scripted masks, each frame after `step_seconds`; frames wait while `hold` is clear."""

    def __init__(self, *, step_seconds: float = 0.0) -> None:
        super().__init__()
        self.step_seconds = step_seconds
        self.hold = threading.Event()
        self.hold.set()

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        for result in super().track(frames, prompts, plan=plan, after_step=after_step):
            self.hold.wait(30)
            time.sleep(self.step_seconds)
            yield result


class Stack:
    def __init__(self, tmp_path: Path, tracker: Tracker, *, max_queued: int = 1000) -> None:
        self.tracker = tracker
        self.sink = RecordingSink()
        self.predictor = Predictor(
            tracker=tracker, model_version=VERSION, media=MediaResolver(cache_dir=tmp_path / "c")
        )

        def execute(spec: JobSpec, control: JobControl, current: Any) -> int | None:
            return run_job(
                spec,
                predictor=self.predictor,
                control=control,
                access=ACCESS,
                sink=self.sink,
                still_current=current,
            )

        self.jobs = EmbeddedJobs(execute=execute, max_queued=max_queued)
        settings = BackendSettings(
            access=ACCESS, basic_auth=None, masks_root=None, media_cache=tmp_path / "c"
        )
        self.app = create_app(predictor=self.predictor, settings=settings, jobs=self.jobs)
        self.client = self.app.test_client()

    def batch(self, *tasks: dict[str, Any]) -> Any:
        body = {"tasks": list(tasks), "label_config": FRAMES, "project": "3.17", "params": {}}
        response = self.client.post("/predict", json=body)
        assert response.status_code == 200, response.json
        return response.json

    def wait(self, job_id: str, *states: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            view = self.client.get(f"/jobs/{job_id}").json
            if view["state"] in states:
                return view
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never reached {states}: {view}")


@pytest.fixture
def stack(tmp_path: Path, document_root: Path) -> Iterator[Stack]:
    tracker = HeldTracker()
    stack = Stack(tmp_path, tracker)
    yield stack
    tracker.hold.set()
    stack.jobs.close()


def frames_task(task_id: int, pages: int = 6, label: str = "car") -> dict[str, Any]:
    annotation = {"id": 1, "result": [click(50, 50, label, page=1)]}
    return {"id": task_id, "data": {"frames": frame_urls(pages)}, "annotations": [annotation]}


def test_a_batch_predict_queues_jobs_whose_predictions_equal_the_inline_ones(
    stack: Stack, tmp_path: Path
) -> None:
    answer = stack.batch(
        frames_task(1), frames_task(2), {"id": 3, "data": {"frames": frame_urls()}}
    )
    assert answer["results"] == [[], [], []]  # Label Studio stores nothing now
    assert len(answer["jobs"]) == 2  # task 3 has no prompts: no job
    for job_id in answer["jobs"]:
        view = stack.wait(job_id, "done")
        assert view["frames_done"] == view["frames_total"] == 6
        assert view["prediction_id"] is not None and view["attempts"] == 1
    inline = stack.predictor.predict(
        frames_task(1),
        schema=parse_label_config(FRAMES),
        context=None,
        project="3",
        access=None,
    )
    assert stack.sink.by_task[1] == [inline] and set(stack.sink.by_task) == {1, 2}
    assert stack.sink.writes == 2


def test_a_batch_past_the_queue_cap_queues_what_fits_and_says_which_tasks_did_not(
    tmp_path: Path, document_root: Path
) -> None:
    stack = Stack(tmp_path, HeldTracker(), max_queued=2)
    stack.tracker.hold.clear()  # nothing finishes: the queue stays full
    try:
        running = stack.batch(frames_task(1))["jobs"][0]
        stack.wait(running, "running")  # the worker holds it: 2 places left in the queue
        answer = stack.batch(*(frames_task(i) for i in range(2, 7)))
        assert len(answer["jobs"]) == 2
        assert answer["results"] == [[]] * 5  # one entry per task, as Label Studio needs
        assert answer["errors"] == [
            "3 of 5 tasks not queued: 2 jobs are queued already, the most this backend "
            "takes; try again when some have run (LABELME_SAM2_MAX_QUEUED_JOBS raises the "
            "limit); retrieve predictions again for them"
        ]
        # Nothing of the next batch fits: the whole request is refused, to be sent again.
        body = {"tasks": [frames_task(9)], "label_config": FRAMES, "project": "3", "params": {}}
        refused = stack.client.post("/predict", json=body)
        assert refused.status_code == 503 and "MAX_QUEUED_JOBS" in refused.json["error"]
    finally:
        stack.tracker.hold.set()
        stack.jobs.close()


def test_resubmitting_a_task_replaces_its_job_and_it_gets_one_prediction(stack: Stack) -> None:
    stack.tracker.hold.clear()  # the first job stops at its first frame
    first = stack.batch(frames_task(1))["jobs"][0]
    stack.wait(first, "running")
    queued = stack.batch(frames_task(2))["jobs"][0]
    replacing_queued = stack.batch(frames_task(2, label="person"))["jobs"][0]
    replacing_running = stack.batch(frames_task(1, label="person"))["jobs"][0]
    stack.tracker.hold.set()
    for old, new in ((queued, replacing_queued), (first, replacing_running)):
        view = stack.wait(old, "cancelled", "done", "failed")
        assert view["state"] == "cancelled" and view["replaced_by"] == new
        assert stack.wait(new, "done")["prediction_id"] is not None
    never_ran = stack.client.get(f"/jobs/{queued}").json  # replaced while queued: never started
    assert never_ran["started_at"] is None and never_ran["attempts"] == 0
    assert stack.sink.writes == 2  # the replaced jobs wrote nothing
    for task_id in (1, 2):
        (prediction,) = stack.sink.by_task[task_id]
        assert {r["value"]["brushlabels"][0] for r in prediction["result"]} == {"person"}


def test_cancel_stops_a_running_job_and_retry_runs_it_again(stack: Stack) -> None:
    stack.tracker.hold.clear()
    job = stack.batch(frames_task(1))["jobs"][0]
    stack.wait(job, "running")
    cancelling = stack.client.post(f"/jobs/{job}/cancel")
    assert cancelling.status_code == 200 and cancelling.json["state"] == "cancelling"
    again = stack.client.post(f"/jobs/{job}/cancel")  # while its step finishes: nothing more
    assert again.status_code == 200 and again.json["state"] == "cancelling"
    assert stack.client.get("/jobs?state=cancelling").json["jobs"][0]["id"] == job
    stack.tracker.hold.set()
    assert stack.wait(job, "cancelled", "done")["state"] == "cancelled"
    assert stack.sink.writes == 0
    conflict = stack.client.post(f"/jobs/{job}/cancel")
    assert conflict.status_code == 409 and "already cancelled" in conflict.json["error"]
    retried = stack.client.post(f"/jobs/{job}/retry").json
    assert retried["retry_of"] == job
    assert stack.wait(retried["id"], "done")["prediction_id"] is not None
    assert stack.client.post(f"/jobs/{retried['id']}/retry").status_code == 409
    assert stack.client.get("/jobs/nope").status_code == 404


def test_a_replaced_job_is_not_retried_and_old_jobs_make_way(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ls_backend.jobs.embedded as embedded

    stack.tracker.hold.clear()
    first = stack.batch(frames_task(1))["jobs"][0]
    stack.wait(first, "running")
    newer = stack.batch(frames_task(1, label="person"))["jobs"][0]
    stack.tracker.hold.set()
    stack.wait(newer, "done")
    stale = stack.client.post(f"/jobs/{first}/retry")  # its annotation is not the latest
    assert stale.status_code == 409 and newer in stale.json["error"]
    # Once finished jobs are forgotten, their tasks still take new jobs.
    monkeypatch.setattr(embedded, "KEPT_FINISHED", 1)
    for task_id in (2, 3, 1):
        stack.wait(stack.batch(frames_task(task_id))["jobs"][0], "done")
    assert stack.client.get(f"/jobs/{newer}").status_code == 404


def test_a_job_with_bad_media_fails_with_the_reason(stack: Stack) -> None:
    task = frames_task(5)
    task["data"]["frames"] = [local("bedroom/00000.jpg"), local("bedroom/missing.jpg")]
    job = stack.batch(task)["jobs"][0]
    view = stack.wait(job, "failed")
    assert "task 5: cannot read media" in view["error"] and stack.sink.writes == 0


def test_label_studio_refusing_the_prediction_fails_the_job_with_its_answer(
    stack: Stack,
) -> None:
    def refuse(*, task_id: int, prediction: Prediction) -> int:
        raise LabelStudioApiError("Label Studio refused POST /api/predictions/: 403 denied")

    stack.sink.replace_prediction = refuse  # type: ignore[method-assign]
    view = stack.wait(stack.batch(frames_task(1))["jobs"][0], "failed")
    assert view["error"] == "Label Studio refused POST /api/predictions/: 403 denied"


def test_jobs_are_listed_and_counted_in_metrics(stack: Stack) -> None:
    jobs = stack.batch(frames_task(1), frames_task(2))["jobs"]
    for job in jobs:
        stack.wait(job, "done")
    listed = stack.client.get("/jobs?task=2").json["jobs"]
    assert [view["id"] for view in listed] == [jobs[1]]
    assert stack.client.get("/jobs?state=done&project=3").json["jobs"][0]["id"] == jobs[1]
    assert stack.client.get("/jobs?task=x").status_code == 400
    text = stack.client.get("/metrics").get_data(as_text=True)
    assert 'labelme_sam2_jobs{state="done"} 2' in text
    assert 'labelme_sam2_jobs{state="queued"} 0' in text
    assert "labelme_sam2_job_duration_seconds_count 2" in text
    assert f'labelme_sam2_info{{model_version="{VERSION}"}} 1' in text


def test_a_click_goes_before_a_running_job(tmp_path: Path, document_root: Path) -> None:
    # A 3 s job: 6 pages at 0.5 s each. The click waits for one page at most, not the job.
    stack = Stack(tmp_path, HeldTracker(step_seconds=0.5))
    try:
        job = stack.batch(frames_task(1, pages=6))["jobs"][0]
        stack.wait(job, "running")
        body = {
            "tasks": [{"id": 9, "data": {"image": local("bedroom/00002.jpg")}}],
            "label_config": IMAGE,
            "project": "3",
            "params": {"context": {"result": [click(50, 50, "car")]}},
        }
        answer = stack.client.post("/predict", json=body)
        assert answer.status_code == 200 and answer.json["results"][0]["result"]
        view = stack.client.get(f"/jobs/{job}").json
        assert view["state"] == "running" and view["frames_done"] < view["frames_total"]
        assert "labelme_sam2_click_seconds_count 1" in stack.client.get("/metrics").get_data(
            as_text=True
        )
        assert stack.wait(job, "done")["prediction_id"] is not None
    finally:
        stack.jobs.close()
