"""The backend's HTTP protocol, with a scripted tracker: the three task kinds, and bad requests
answered with one JSON error while the server keeps serving."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest
from flask.testing import FlaskClient
from label_studio_sdk._extensions.label_studio_tools.core.utils import io as sdk_io
from label_studio_sdk.converter.brush import decode_rle

from ls_backend.app import create_app
from ls_backend.media import MediaResolver
from ls_backend.prediction import Predictor
from ls_backend.settings import BackendSettings
from tests.conftest import copy_bedroom
from tests.scripted_tracker import ScriptedTracker, scripted_mask
from tests.test_ls_label_config import EXAMPLES

VERSION = "scripted@0"
IMAGE, FRAMES, VIDEO = (
    (EXAMPLES / name).read_text() for name in ("image_smart.xml", "frame_sequence.xml", "video.xml")
)
VIDEO_W, VIDEO_H, VIDEO_FRAMES = 64, 48, 15


@pytest.fixture
def document_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Media shared with Label Studio through local-files storage: 6 bedroom frames, a video."""
    root = tmp_path / "media"
    copy_bedroom(root, frames=6)
    writer = imageio_ffmpeg.write_frames(
        str(root / "clip.mp4"), (VIDEO_W, VIDEO_H), fps=30, macro_block_size=1
    )
    writer.send(None)
    rng = np.random.default_rng(1)
    for _ in range(VIDEO_FRAMES):
        writer.send(rng.integers(0, 255, (VIDEO_H, VIDEO_W, 3), dtype=np.uint8).tobytes())
    writer.close()
    # What LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT sets in the SDK when the backend starts.
    monkeypatch.setattr(sdk_io, "LOCAL_FILES_DOCUMENT_ROOT", str(root))
    return root


class Backend:
    def __init__(self, client: FlaskClient, tracker: ScriptedTracker, masks: Path) -> None:
        self.client, self.tracker, self.masks = client, tracker, masks

    def predict(self, config: str, task: dict[str, Any], context: object = None, **kw: Any):
        body = {
            "tasks": [task],
            "label_config": config,
            "project": "3.1700000000",
            "params": {"context": context},
        }
        return self.client.post("/predict", json=body, **kw)


def make_backend(tmp_path: Path, **settings: Any) -> Iterator[Backend]:
    tracker = ScriptedTracker()
    masks = tmp_path / "masks"
    predictor = Predictor(
        tracker=tracker,
        model_version=VERSION,
        media=MediaResolver(cache_dir=tmp_path / "cache"),
        masks_root=masks,
    )
    defaults: dict[str, Any] = {
        "access": None,
        "basic_auth": None,
        "masks_root": masks,
        "media_cache": tmp_path / "cache",
    }
    app = create_app(predictor=predictor, settings=BackendSettings(**(defaults | settings)))
    with app.test_client() as client:
        yield Backend(client, tracker, masks)


@pytest.fixture
def backend(tmp_path: Path, document_root: Path) -> Iterator[Backend]:
    yield from make_backend(tmp_path)


def local(path: str) -> str:
    return f"/data/local-files/?d={path}"


def frame_urls(count: int = 6) -> list[str]:
    return [local(f"bedroom/{i:05d}.jpg") for i in range(count)]


def click(x: float, y: float, label: str, *, page: int | None = None, name: str = "click") -> dict:
    region = {
        "id": f"c{x}",
        "from_name": name,
        "to_name": "frames" if page is not None else "image",
        "type": "keypointlabels",
        "value": {"x": x, "y": y, "keypointlabels": [label]},
    }
    if page is not None:
        region["item_index"] = page
    return region


def decoded(region: dict, width: int, height: int) -> np.ndarray:
    return decode_rle(region["value"]["rle"]).reshape(height, width, 4)[:, :, 3] > 0


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
    def region(label: str, frames: list[int]) -> dict:
        sequence = [
            {
                "frame": f,
                "x": 20,
                "y": 20,
                "width": 30,
                "height": 30,
                "enabled": True,
                "rotation": 0,
                "time": (f - 1) / 30,
            }
            for f in frames
        ]
        return {
            "id": label,
            "from_name": "box",
            "to_name": "video",
            "type": "videorectangle",
            "value": {"sequence": sequence, "labels": [label]},
        }

    task = {
        "id": 13,
        "data": {"video": local("clip.mp4")},
        "annotations": [{"id": 5, "result": [region("car", [3, 9]), region("person", [12])]}],
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
    assert response.status_code == 200 and response.json["results"] == []
    assert backend.tracker.calls == 0


def bad_requests() -> list[tuple[str, dict[str, Any], int, str]]:
    image_task = {"id": 21, "data": {"image": local("bedroom/00001.jpg")}}
    context = {"result": [click(50, 50, "car")]}
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
                    {"id": 24, "data": {"frames": [local("bedroom/00000.jpg"), local("clip.mp4")]}}
                ],
                "label_config": FRAMES,
                "params": {"context": {"result": [click(50, 50, "car", page=0)]}},
            },
            422,
            "cannot decode image",
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
    from PIL import Image

    Image.new("RGB", (10, 10)).save(document_root / "small.jpg")
    task = {"id": 25, "data": {"frames": [local("bedroom/00000.jpg"), local("small.jpg")]}}
    context = {"result": [click(50, 50, "car", page=0)]}
    response = backend.predict(FRAMES, task, context)
    assert response.status_code == 422 and "one size" in response.json["error"]


def test_basic_auth_when_configured(tmp_path: Path, document_root: Path) -> None:
    for backend in make_backend(tmp_path, basic_auth=("ann", "s3cret")):
        assert backend.client.get("/health").status_code == 401
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
