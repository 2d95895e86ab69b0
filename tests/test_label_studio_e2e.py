"""End to end: a real Label Studio 1.23.2 on loopback, our backend as `labelme-sam2 serve` with
SAM 2.1 tiny (random weights, fixed seed, 256, CPU), media through local-files storage.

Frame sequences and videos are background jobs (the embedded queue): a saved annotation's
webhook, or Retrieve Predictions, starts one, and the job writes the prediction through Label
Studio's API. `settled` waits for the task's jobs, then reads the predictions.

Predictions are read back through Label Studio's API and compared with what the core computes
in this process for the same prompts (the same seeded weights).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from labelme_sam2.core.frames import Frames, frames_from_paths
from labelme_sam2.core.pipeline import propagate
from labelme_sam2.core.prompts import Box, Click, ObjectKey, PromptSet
from labelme_sam2.formats.mask_codec import bounding_box, polygon_to_mask
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker
from labelme_sam2.video.reader import VideoFrames
from tests.backend_process import BackendProcess
from tests.label_studio_server import (
    LabelStudioApi,
    LabelStudioError,
    LabelStudioServer,
)
from tests.ls_helpers import (
    CLIP,
    FRAMES,
    IMAGE,
    VIDEO,
    VIDEO_FRAMES,
    CollectMasks,
    brush_region,
    decoded,
    local,
    make_media_root,
    video_region,
)

# Per test, over the waits inside it: the first also starts Label Studio (up to 180 s) and the
# backend (300 s); the webhook one waits up to 3 x 240 s for jobs.
pytestmark = [pytest.mark.label_studio, pytest.mark.sam2, pytest.mark.timeout(1200)]
PAGES = 6
AUTH = ("annotators", "not-a-real-secret")  # the backend runs behind basic auth
SERVE = str(Path(sys.executable).with_name("labelme-sam2"))
PILLOW = [(600.0, 300.0), (800.0, 290.0), (850.0, 450.0), (700.0, 500.0), (620.0, 480.0)]


@dataclass
class Stack:
    api: LabelStudioApi
    backend_url: str
    media: Path
    masks: Path
    backend_log: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    media = make_media_root(root / "media")
    with (
        LabelStudioServer(root / "label-studio", document_root=media) as server,
        BackendProcess(server, root, executable=SERVE, basic_auth=AUTH) as backend,
    ):
        api = LabelStudioApi(server)
        yield Stack(
            api=api,
            backend_url=backend.url,
            media=media,
            masks=backend.masks,
            backend_log=backend.log_path,
        )


def settled(stack: Stack, task_id: int, *, timeout: float = 240) -> list[dict[str, Any]]:
    """The task's predictions once the backend has no queued or running job for it (and has
    finished at least one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = backend_jobs(stack, task_id)
        if jobs and all(job["state"] in ("done", "failed", "cancelled") for job in jobs):
            assert any(job["state"] == "done" for job in jobs), jobs
            return stack.api.predictions(task_id)
        time.sleep(0.5)
    raise AssertionError(f"task {task_id}: jobs still running after {timeout} s")


def backend_jobs(stack: Stack, task_id: int) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{stack.backend_url}/jobs", params={"task": task_id}, auth=AUTH, timeout=30
    )
    jobs: list[dict[str, Any]] = answer.json()["jobs"]
    return jobs


def assert_one_job_per_save(stack: Stack, task_id: int, *, saves: int) -> None:
    """Each save started one job, which wrote the prediction: reading the task back for the
    webhook did not make Label Studio call /predict for a job of its own (which the webhook's
    job would then replace)."""
    jobs = backend_jobs(stack, task_id)
    assert len(jobs) == saves, jobs
    assert all(job["state"] == "done" and job["replaced_by"] is None for job in jobs), jobs


def core_masks(frames: Frames, prompts: PromptSet, sam2_model: Any) -> CollectMasks:
    collect = CollectMasks()
    propagate(frames, prompts, tracker=Sam2Tracker(sam2_model), writers=[collect])
    return collect


def project_with_backend(stack: Stack, title: str, config: str) -> tuple[int, int]:
    project = stack.api.create_project(title, config)
    backend = stack.api.connect_ml_backend(project, stack.backend_url, basic_auth=AUTH)
    return project, backend


def test_an_image_click_comes_back_as_its_mask(stack: Stack, tiny_sam2: Any) -> None:
    project, backend = project_with_backend(stack, "image", IMAGE)
    stack.api.add_local_storage(project, stack.media / "bedroom", regex=r"00002\.jpg")
    (task,) = stack.api.tasks(project)
    context = {
        "result": [
            {
                "id": "k1",
                "from_name": "click",
                "to_name": "image",
                "type": "keypointlabels",
                "origin": "manual",
                "value": {"x": 50, "y": 50, "keypointlabels": ["car"]},
            },
            {
                "id": "k2",
                "from_name": "click",
                "to_name": "image",
                "type": "keypointlabels",
                "origin": "manual",
                "value": {"x": 10, "y": 10, "keypointlabels": ["car_neg"]},
            },
        ]
    }
    answer = stack.api.interactive_annotating(backend, task["id"], context)
    assert "errors" not in answer, answer
    (region,) = answer["data"]["result"]
    frames = frames_from_paths(stack.media, [stack.media / "bedroom" / "00002.jpg"])
    width, height = frames.width, frames.height
    prompts = PromptSet()
    prompts.prompt_for(ObjectKey("car", None), 0, source="test").clicks.extend(
        [Click(0.5 * width, 0.5 * height, True), Click(0.1 * width, 0.1 * height, False)]
    )
    expected = core_masks(frames, prompts, tiny_sam2).masks[0][ObjectKey("car", None)]
    assert region["value"]["brushlabels"] == ["car"]
    assert np.array_equal(decoded(region, width, height), expected)


def test_a_frame_sequence_gets_a_mask_on_every_page(stack: Stack, tiny_sam2: Any) -> None:
    project, _ = project_with_backend(stack, "frames", FRAMES)
    # Label Studio serves /data/local-files only under a local storage of the project.
    stack.api.add_local_storage(project, stack.media / "bedroom", regex=r"^$")
    urls = [local(f"bedroom/{i:05d}.jpg") for i in range(PAGES)]
    stack.api.import_tasks(project, [{"data": {"frames": urls}}])
    (task,) = stack.api.tasks(project)
    frames = frames_from_paths(
        stack.media, [stack.media / "bedroom" / f"{i:05d}.jpg" for i in range(PAGES)]
    )
    width, height = frames.width, frames.height
    pillow = polygon_to_mask(PILLOW, width=width, height=height)
    stack.api.create_annotation(
        task["id"],
        [
            brush_region("person", 1, pillow),
            {
                "id": "r1",
                "from_name": "box",
                "to_name": "frames",
                "type": "rectanglelabels",
                "item_index": 0,
                "origin": "manual",
                "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["car"]},
            },
            {
                "id": "k1",
                "from_name": "click",
                "to_name": "frames",
                "type": "keypointlabels",
                "item_index": 4,
                "origin": "manual",
                "value": {"x": 50, "y": 50, "keypointlabels": ["car"]},
            },
        ],
    )

    stack.api.retrieve_predictions(project, [task["id"]])

    (prediction,) = settled(stack, task["id"])
    got = {
        (r["item_index"], r["value"]["brushlabels"][0]): decoded(r, width, height)
        for r in prediction["result"]
    }
    prompts = PromptSet()
    person, car = ObjectKey("person", None), ObjectKey("car", None)
    prompts.prompt_for(person, 1, source="test").add_mask(pillow)
    prompts.prompt_for(car, 0, source="test").box = Box(
        0.1 * width, 0.2 * height, 0.4 * width, 0.6 * height
    )
    prompts.prompt_for(car, 4, source="test").clicks.append(Click(0.5 * width, 0.5 * height, True))
    expected = core_masks(frames, prompts, tiny_sam2).masks
    assert np.array_equal(got[1, "person"], pillow)  # the brushed page, unchanged
    visible = {(p, k.label) for p in range(PAGES) for k in (person, car) if expected[p][k].any()}
    assert set(got) == visible  # one item per page and object where it is visible
    for (page, label), mask in got.items():
        assert np.array_equal(mask, expected[page][ObjectKey(label, None)]), (page, label)


def test_a_click_on_one_page_comes_back_on_every_page(stack: Stack, tiny_sam2: Any) -> None:
    project, backend = project_with_backend(stack, "frames-click", FRAMES)
    stack.api.add_local_storage(project, stack.media / "bedroom", regex=r"^$")
    urls = [local(f"bedroom/{i:05d}.jpg") for i in range(PAGES)]
    stack.api.import_tasks(project, [{"data": {"frames": urls}}])
    (task,) = stack.api.tasks(project)
    # As the editor sends a smart click on page 3: is_positive, value.labels, item_index.
    smart_click = {
        "id": "k9",
        "from_name": "click",
        "to_name": "frames",
        "type": "keypointlabels",
        "origin": "manual",
        "item_index": 2,
        "is_positive": True,
        "original_width": 960,
        "original_height": 540,
        "value": {"x": 40, "y": 60, "width": 0.5, "keypointlabels": ["car"], "labels": ["car"]},
    }
    answer = stack.api.interactive_annotating(backend, task["id"], {"result": [smart_click]})
    assert "errors" not in answer, answer
    frames = frames_from_paths(
        stack.media, [stack.media / "bedroom" / f"{i:05d}.jpg" for i in range(PAGES)]
    )
    width, height = frames.width, frames.height
    prompts = PromptSet()
    car = ObjectKey("car", None)
    prompts.prompt_for(car, 2, source="test").clicks.append(Click(0.4 * width, 0.6 * height, True))
    expected = core_masks(frames, prompts, tiny_sam2).masks
    got = {r["item_index"]: decoded(r, width, height) for r in answer["data"]["result"]}
    assert set(got) == {page for page in range(PAGES) if expected[page][car].any()}
    for page, mask in got.items():
        assert np.array_equal(mask, expected[page][car]), page


def test_a_video_gets_a_box_on_every_visible_frame(stack: Stack, tiny_sam2: Any) -> None:
    project, _ = project_with_backend(stack, "video", VIDEO)
    stack.api.add_local_storage(project, stack.media / "video", regex=r"clip\.mp4")
    (task,) = stack.api.tasks(project)

    # Saving the annotation is all it takes: its webhook starts the job.
    stack.api.create_annotation(
        task["id"],
        [
            video_region("car", [3, 11], box=(10.0, 20.0, 40.0, 50.0), fps=30),
            video_region("person", [8], box=(50.0, 20.0, 40.0, 50.0), fps=30),
        ],
    )

    (prediction,) = settled(stack, task["id"])
    assert_one_job_per_save(stack, task["id"], saves=1)
    with VideoFrames(stack.media / CLIP) as video:
        width, height = video.width, video.height
        prompts = PromptSet()
        car, person = ObjectKey("car", None), ObjectKey("person", None)
        for key, frame, x in ((car, 3, 10.0), (car, 11, 10.0), (person, 8, 50.0)):
            prompts.prompt_for(key, frame - 1, source="test").box = Box(
                x / 100 * width, 0.2 * height, (x + 40) / 100 * width, 0.7 * height
            )
        expected = core_masks(video, prompts, tiny_sam2).masks
    tracks = {r["value"]["labels"][0]: r for r in prediction["result"]}
    assert set(tracks) <= {"car", "person"}
    for key in (car, person):
        visible = [i for i in range(VIDEO_FRAMES) if expected[i][key].any()]
        if not visible:
            assert key.label not in tracks
            continue
        sequence = tracks[key.label]["value"]["sequence"]
        assert [k["frame"] for k in sequence] == [i + 1 for i in visible]
        for keyframe_ in sequence:
            bounds = bounding_box(expected[keyframe_["frame"] - 1][key])
            assert bounds is not None
            assert keyframe_["x"] == pytest.approx(bounds.x0 * 100 / width)
            assert keyframe_["width"] == pytest.approx((bounds.x1 + 1 - bounds.x0) * 100 / width)
        folder = stack.masks / f"project-{project}" / f"task-{task['id']}" / key.label
        assert len(list(folder.glob("*.png"))) == VIDEO_FRAMES


def test_a_project_the_backend_cannot_serve_is_refused_with_the_reason(stack: Stack) -> None:
    config = (
        '<View><Text name="t" value="$text"/><Choices name="c" toName="t">'
        '<Choice value="a"/></Choices></View>'
    )
    project = stack.api.create_project("text", config)
    # Label Studio shows only the status ("422 ... incompatible with the current labeling
    # configuration"); the reason is in the answer's body and the backend's log.
    with pytest.raises(LabelStudioError, match="422 Client Error"):
        stack.api.connect_ml_backend(project, stack.backend_url, basic_auth=AUTH)
    answer = requests.post(
        stack.backend_url + "/setup", json={"schema": config}, timeout=5, auth=AUTH
    )
    assert answer.status_code == 422 and "no <Image> or <Video>" in answer.json()["error"]


def test_wrong_credentials_are_refused(stack: Stack) -> None:
    project = stack.api.create_project("auth", IMAGE)
    with pytest.raises(LabelStudioError, match="authentication parameters"):
        stack.api.connect_ml_backend(project, stack.backend_url, basic_auth=(AUTH[0], "wrong"))
    with pytest.raises(LabelStudioError, match="authentication parameters"):
        stack.api.connect_ml_backend(project, stack.backend_url)


def test_a_batch_with_a_task_without_prompts_predicts_the_others(
    stack: Stack, tiny_sam2: Any
) -> None:
    project, _ = project_with_backend(stack, "batch", FRAMES)
    stack.api.add_local_storage(project, stack.media / "bedroom", regex=r"^$")
    urls = [local(f"bedroom/{i:05d}.jpg") for i in range(2)]
    stack.api.import_tasks(project, [{"data": {"frames": urls}} for _ in range(3)])
    tasks = stack.api.tasks(project)
    click = {
        "id": "k1",
        "from_name": "click",
        "to_name": "frames",
        "type": "keypointlabels",
        "item_index": 0,
        "value": {"x": 50, "y": 50, "keypointlabels": ["car"]},
    }
    for task in tasks[:2]:
        stack.api.create_annotation(task["id"], [click])
    stack.api.retrieve_predictions(project, [task["id"] for task in tasks])
    counts = [len(settled(stack, task["id"])) for task in tasks[:2]]
    counts.append(len(stack.api.predictions(tasks[2]["id"])))
    assert counts == [1, 1, 0]


def test_saving_an_annotation_starts_a_job_whose_prediction_replaces_the_last(
    stack: Stack, tiny_sam2: Any
) -> None:
    """Webhook -> job -> prediction, with no Retrieve Predictions; an update replaces it."""
    project, _ = project_with_backend(stack, "webhook", FRAMES)
    stack.api.add_local_storage(project, stack.media / "bedroom", regex=r"^$")
    urls = [local(f"bedroom/{i:05d}.jpg") for i in range(3)]
    stack.api.import_tasks(project, [{"data": {"frames": urls}}])
    (task,) = stack.api.tasks(project)
    frames = frames_from_paths(
        stack.media, [stack.media / "bedroom" / f"{i:05d}.jpg" for i in range(3)]
    )

    def click_at(x: float, label: str) -> dict[str, Any]:
        return {
            "id": "k1",
            "from_name": "click",
            "to_name": "frames",
            "type": "keypointlabels",
            "item_index": 1,
            "value": {"x": x, "y": 50, "keypointlabels": [label]},
        }

    def expected(x: float, label: str) -> dict[tuple[int, str], np.ndarray]:
        prompts = PromptSet()
        key = ObjectKey(label, None)
        prompts.prompt_for(key, 1, source="test").clicks.append(
            Click(x / 100 * frames.width, 0.5 * frames.height, True)
        )
        masks = core_masks(frames, prompts, tiny_sam2).masks
        return {(page, label): masks[page][key] for page in range(3) if masks[page][key].any()}

    def got(prediction: dict[str, Any]) -> dict[tuple[int, str], np.ndarray]:
        return {
            (r["item_index"], r["value"]["brushlabels"][0]): decoded(r, frames.width, frames.height)
            for r in prediction["result"]
        }

    annotation = stack.api.create_annotation(task["id"], [click_at(30, "car")])
    (first,) = settled(stack, task["id"])
    assert_one_job_per_save(stack, task["id"], saves=1)
    want = expected(30, "car")
    assert set(got(first)) == set(want)
    assert all(np.array_equal(mask, want[k]) for k, mask in got(first).items())

    stack.api.request(
        "PATCH", f"/api/annotations/{annotation['id']}", json={"result": [click_at(60, "person")]}
    )
    deadline = time.monotonic() + 240
    while True:  # the update's job, after the first one
        jobs = backend_jobs(stack, task["id"])
        if any(job["prediction_id"] not in (None, first["id"]) for job in jobs):
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.5)
    (second,) = settled(stack, task["id"])  # one prediction: the update's replaced the first
    assert_one_job_per_save(stack, task["id"], saves=2)

    # A forged webhook naming the task under another project: the read-back asks that project,
    # which has no such task, so nothing is queued.
    other = stack.api.create_project("webhook-other", FRAMES)
    forged = {"action": "ANNOTATION_UPDATED", "project": {"id": other}, "task": {"id": task["id"]}}
    assert requests.post(f"{stack.backend_url}/webhook", json=forged, timeout=30).json()["queued"]
    refused = f"project {other} has no task {task['id']}"
    deadline = time.monotonic() + 60
    while refused not in stack.backend_log.read_text():
        assert time.monotonic() < deadline, stack.backend_log.read_text()[-3000:]
        time.sleep(0.2)
    assert len(backend_jobs(stack, task["id"])) == 2
    want = expected(60, "person")
    assert second["id"] != first["id"] and set(got(second)) == set(want)
    assert all(np.array_equal(mask, want[k]) for k, mask in got(second).items())
