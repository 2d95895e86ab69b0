"""The backend's HTTP protocol, with a scripted tracker: the three task kinds, and bad requests
answered with one JSON error while the server keeps serving."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.ls_helpers import (
    CLIP,
    FRAMES,
    IMAGE,
    VERSION,
    VIDEO,
    VIDEO_FRAMES,
    Backend,
    click,
    decoded,
    frame_urls,
    local,
    make_backend,
    video_region,
)
from tests.scripted_tracker import scripted_mask


@pytest.fixture
def backend(tmp_path: Path, document_root: Path) -> Iterator[Backend]:
    yield from make_backend(tmp_path)


def test_health_setup_versions_and_webhook(backend: Backend) -> None:
    health = backend.client.get("/health")
    assert health.status_code == 200 and health.json["status"] == "UP"
    for config in (IMAGE, FRAMES, VIDEO):
        setup = backend.client.post("/setup", json={"project": "3", "schema": config})
        assert setup.status_code == 200 and setup.json == {"model_version": VERSION}
    assert backend.client.get("/versions").json["versions"] == [VERSION]
    assert backend.client.post("/webhook", json={"action": "ANNOTATION_CREATED"}).status_code == 200
    assert backend.tracker.calls == 0


def test_an_image_click_returns_its_objects_mask(backend: Backend) -> None:
    task = {"id": 11, "data": {"image": local("bedroom/00002.jpg")}}
    context = {"result": [click(50, 50, "car"), click(10, 10, "car_neg")]}
    response = backend.predict(IMAGE, task, context)
    assert response.status_code == 200, response.json
    (prediction,) = response.json["results"]
    assert prediction["model_version"] == VERSION
    (region,) = prediction["result"]
    assert (region["from_name"], region["to_name"], region["type"]) == (
        "mask",
        "image",
        "brushlabels",
    )
    assert region["value"]["brushlabels"] == ["car"] and "item_index" not in region
    width, height = region["original_width"], region["original_height"]
    assert np.array_equal(
        decoded(region, width, height), scripted_mask(0, 0, width=width, height=height)
    )


def test_a_frame_sequence_gets_every_object_on_every_page(backend: Backend) -> None:
    task = {
        "id": 12,
        "data": {"frames": frame_urls()},
        "annotations": [
            {"id": 1, "updated_at": "2026-01-01T00:00:00Z", "result": [click(1, 1, "old")]},
            {
                "id": 2,
                "updated_at": "2026-02-01T00:00:00Z",
                "result": [click(50, 50, "car", page=3), click(30, 60, "person", page=1)],
            },
            {"id": 3, "was_cancelled": True, "result": [click(1, 1, "skipped", page=0)]},
        ],
    }
    response = backend.predict(FRAMES, task)  # batch: no context, the latest annotation
    assert response.status_code == 200, response.json
    (prediction,) = response.json["results"]
    pages: dict[tuple[int, str], np.ndarray] = {}
    for region in prediction["result"]:
        width, height = region["original_width"], region["original_height"]
        pages[region["item_index"], region["value"]["brushlabels"][0]] = decoded(
            region, width, height
        )
    # Object 1 (person) is hidden on page 4 in the script.
    expected = {(p, label) for p in range(6) for label in ("car", "person")} - {(4, "person")}
    assert set(pages) == expected
    for (page, label), mask in pages.items():
        assert np.array_equal(
            mask,
            scripted_mask(
                ["car", "person"].index(label), page, width=mask.shape[1], height=mask.shape[0]
            ),
        )


def test_a_video_gets_a_track_per_region_and_its_masks_on_disk(backend: Backend) -> None:
    BOX = (20.0, 20.0, 30.0, 30.0)
    task = {
        "id": 13,
        "data": {"video": local(CLIP)},
        "annotations": [
            {
                "id": 5,
                "result": [
                    video_region("car", [3, 9], box=BOX, fps=30),
                    video_region("person", [12], box=BOX, fps=30),
                ],
            }
        ],
    }
    response = backend.predict(VIDEO, task)
    assert response.status_code == 200, response.json
    car, person = response.json["results"][0]["result"]
    assert [k["frame"] for k in car["value"]["sequence"]] == list(range(1, VIDEO_FRAMES + 1))
    hidden = [i + 1 for i in range(VIDEO_FRAMES) if i % 5 == 4]
    assert [k["frame"] for k in person["value"]["sequence"]] == [
        f for f in range(1, VIDEO_FRAMES + 1) if f not in hidden
    ]
    assert person["value"]["labels"] == ["person"] and car["value"]["framesCount"] == VIDEO_FRAMES
    folder = backend.masks / "project-3" / "task-13"
    assert car["meta"]["text"] == [f"masks: {folder}"]
    assert len(list((folder / "car").glob("*.png"))) == VIDEO_FRAMES
    assert backend.tracker.object_frames == 2 * VIDEO_FRAMES


def test_a_task_without_prompts_gets_no_prediction(backend: Backend) -> None:
    response = backend.predict(FRAMES, {"id": 14, "data": {"frames": frame_urls()}})
    assert response.status_code == 200 and response.json["results"] == [[]]
    assert backend.tracker.calls == 0


def bad_requests() -> list[tuple[str, dict[str, Any], int, str]]:
    image_task = {"id": 21, "data": {"image": local("bedroom/00001.jpg")}}
    context = {"result": [click(50, 50, "car")]}
    two_boxes = {
        "id": "b",
        "from_name": "box",
        "to_name": "frames",
        "type": "rectanglelabels",
        "item_index": 1,
        "value": {"x": 1, "y": 1, "width": 9, "height": 9, "rectanglelabels": ["car"]},
    }
    return [
        ("/predict", {"tasks": "nope"}, 400, "'tasks' must be a list"),
        (
            "/predict",
            {"tasks": [image_task], "label_config": "<View/>", "params": {"context": context}},
            422,
            "no <Image> or <Video>",
        ),
        (
            "/predict",
            {"tasks": [image_task], "label_config": IMAGE, "params": {"context": {"result": "x"}}},
            400,
            "'context' must be",
        ),
        (
            "/predict",
            {
                "tasks": [{"id": 22, "data": {"image": local("bedroom/missing.jpg")}}],
                "label_config": IMAGE,
                "params": {"context": context},
            },
            422,
            "task 22: cannot read media",
        ),
        (
            "/predict",
            {
                "tasks": [{"id": 23, "data": {"picture": "x"}}],
                "label_config": IMAGE,
                "params": {"context": context},
            },
            400,
            "no 'image' field",
        ),
        (
            "/predict",
            {
                "tasks": [image_task],
                "label_config": IMAGE,
                "params": {"context": {"result": [click(150, 50, "car")]}},
            },
            400,
            "lies outside",
        ),
        (
            "/predict",
            {
                "tasks": [
                    {"id": 24, "data": {"frames": [local("bedroom/00000.jpg"), local(CLIP)]}}
                ],
                "label_config": FRAMES,
                "params": {"context": {"result": [click(50, 50, "car", page=0)]}},
            },
            422,
            "cannot decode image",
        ),
        (
            "/predict",
            {
                "tasks": [{"id": 27, "data": {"frames": frame_urls(2)}}],
                "label_config": FRAMES,
                "params": {"context": {"result": [two_boxes, two_boxes]}},
            },
            400,
            "has two boxes on this frame",
        ),
        ("/setup", {"schema": "<View><Image"}, 422, "not valid XML"),
    ]


@pytest.mark.parametrize(("path", "body", "status", "message"), bad_requests())
def test_bad_requests_are_one_json_error_and_the_server_stays_up(
    backend: Backend, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    response = backend.client.post(path, json=body)
    assert response.status_code == status, response.json
    assert message in response.json["error"] and "Traceback" not in response.json["error"]
    assert backend.client.get("/health").status_code == 200
    not_json = backend.client.post("/predict", data=b"{", content_type="application/json")
    assert not_json.status_code == 400 and "JSON object" in not_json.json["error"]


def test_frames_of_different_sizes_are_refused(backend: Backend, document_root: Path) -> None:
    Image.new("RGB", (10, 10)).save(document_root / "small.jpg")
    task = {"id": 25, "data": {"frames": [local("bedroom/00000.jpg"), local("small.jpg")]}}
    context = {"result": [click(50, 50, "car", page=0)]}
    response = backend.predict(FRAMES, task, context)
    assert response.status_code == 422 and "one size" in response.json["error"]


def test_basic_auth_when_configured(tmp_path: Path, document_root: Path) -> None:
    for backend in make_backend(tmp_path, basic_auth=("ann", "s3cret")):
        assert backend.client.get("/health").status_code == 401
        # Label Studio's webhooks come without credentials; they are only acknowledged.
        assert backend.client.post("/webhook", json={"action": "X"}).status_code == 200
        wrong = base64.b64encode(b"ann:nope").decode()
        refused = backend.client.post(
            "/setup", json={"schema": IMAGE}, headers={"Authorization": f"Basic {wrong}"}
        )
        assert refused.status_code == 401 and "credentials" in refused.json["error"]
        good = base64.b64encode(b"ann:s3cret").decode()
        ok = backend.client.post(
            "/setup", json={"schema": IMAGE}, headers={"Authorization": f"Basic {good}"}
        )
        assert ok.status_code == 200


def test_objects_keep_their_labels_as_keys(backend: Backend) -> None:
    task = {"id": 26, "data": {"image": local("bedroom/00000.jpg")}}
    context = {"result": [click(20, 50, "car"), click(70, 50, "person")]}
    response = backend.predict(IMAGE, task, context)
    labels = [r["value"]["brushlabels"] for r in response.json["results"][0]["result"]]
    assert labels == [["car"], ["person"]]


def test_a_batch_predicts_the_tasks_it_can_and_names_the_others(backend: Backend) -> None:
    def task(task_id: int, page: int) -> dict[str, Any]:
        annotation = {"id": "a", "result": [click(50, 50, "car", page=page)]}
        return {"id": task_id, "data": {"frames": frame_urls(3)}, "annotations": [annotation]}

    body = {
        "tasks": [task(31, 0), task(32, 7), {"id": 33, "data": {}}, task(34, 1)],
        "label_config": FRAMES,
        "project": "3",
        "params": {"context": None},
    }
    response = backend.client.post("/predict", json=body)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [len(r["result"]) if isinstance(r, dict) else r for r in results] == [3, [], [], 3]
    assert len(response.json["errors"]) == 1 and "task 32" in response.json["errors"][0]


def test_a_batch_starts_no_task_after_its_time_is_up(tmp_path: Path, document_root: Path) -> None:
    for backend in make_backend(tmp_path, batch_seconds=0.0):
        tasks = [
            {
                "id": i,
                "data": {"frames": frame_urls(2)},
                "annotations": [{"id": 1, "result": [click(50, 50, "car", page=0)]}],
            }
            for i in (41, 42, 43)
        ]
        body = {"tasks": tasks, "label_config": FRAMES, "project": "3", "params": {}}
        results = backend.client.post("/predict", json=body).json["results"]
        assert isinstance(results[0], dict) and results[1:] == [[], []]
        assert backend.tracker.calls == 1


def test_a_hostile_project_is_refused(backend: Backend) -> None:
    body = {"tasks": [], "label_config": IMAGE, "project": "../../x.1", "params": {}}
    response = backend.client.post("/predict", json=body)
    assert response.status_code == 400 and "not a project number" in response.json["error"]


@pytest.mark.parametrize(
    ("task", "status", "message"),
    [
        (
            {"id": "x/../../escaped", "data": {"image": local("bedroom/00000.jpg")}},
            400,
            "task id 'x/../../escaped' is not a number",
        ),
        ({"id": 51, "data": {"image": "/data/local-files/?d=../../../etc/passwd"}}, 422, "task 51"),
    ],
)
def test_hostile_ids_and_paths_are_refused(
    backend: Backend, task: dict[str, Any], status: int, message: str
) -> None:
    response = backend.predict(IMAGE, task, {"result": [click(50, 50, "car")]})
    assert response.status_code == status and message in response.json["error"]
    assert not (backend.masks.parent / "escaped").exists()


def test_prompt_tools_only_and_predicted_tracks_are_not_prompts(backend: Backend) -> None:
    predicted = video_region("car", [1, 2, 3], box=(10.0, 10.0, 20.0, 20.0), fps=30)
    predicted["origin"] = "prediction"
    odd = {"from_name": ["click"], "type": "keypointlabels", "value": {}}
    annotations = [  # ids of mixed types; the latest is the first
        {"id": 1, "updated_at": "2026-02-01", "result": [predicted, odd]},
        {"id": "b", "updated_at": "2026-01-01", "result": []},
    ]
    task = {"id": 52, "data": {"video": local(CLIP)}, "annotations": annotations}
    response = backend.predict(VIDEO, task)
    assert response.status_code == 200 and response.json["results"] == [[]]
    assert backend.tracker.calls == 0


def test_serve_refuses_a_busy_port_or_an_unmakeable_masks_folder_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from labelme_sam2.cli.main import main

    model = ["--checkpoint", "random", "--image-size", "256", "--device", "cpu"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port), *model]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}: cannot listen there" in lines[0]

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    masks = ["--masks-dir", str(blocker / "masks")]
    assert main(["serve", "--host", "127.0.0.1", "--port", "0", *masks, *model]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cannot make the masks folder" in lines[0]


def test_worker_refuses_an_unreachable_redis_or_a_bad_model_variable_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelme_sam2.cli.main import main

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    assert main(["worker", "--redis", url, "--checkpoint", "random"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"{url}: cannot reach Redis" in lines[0]

    monkeypatch.setenv("LABELME_SAM2_IMAGE_SIZE", "abc")  # the worker's default for --image-size
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--redis", url])
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith("argument --image-size: invalid int value: 'abc'")
