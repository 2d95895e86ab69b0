"""Talking to the backend app in-process, and the media its tests read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
from flask.testing import FlaskClient
from label_studio_sdk.converter.brush import decode_rle
from PIL import Image

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks, Tracker
from ls_backend.app import create_app
from ls_backend.brush_rle import mask_to_rle
from ls_backend.jobs.queue import JobQueue
from ls_backend.media import MediaResolver
from ls_backend.prediction import Predictor
from ls_backend.settings import BackendSettings
from tests.conftest import copy_bedroom
from tests.scripted_tracker import ScriptedTracker

EXAMPLES = Path(__file__).resolve().parents[1] / "ls_backend" / "label_configs"
VERSION = "scripted@0"
IMAGE, FRAMES, VIDEO = (
    (EXAMPLES / name).read_text() for name in ("image_smart.xml", "frame_sequence.xml", "video.xml")
)
VIDEO_W, VIDEO_H, VIDEO_FRAMES = 64, 48, 15
CLIP = "video/clip.mp4"  # Label Studio refuses a local storage on the document root itself


def make_media_root(root: Path) -> Path:
    """Media shared with Label Studio through local-files storage: 6 bedroom frames, a video."""
    copy_bedroom(root, frames=6)
    (root / "video").mkdir()
    writer = imageio_ffmpeg.write_frames(
        str(root / CLIP), (VIDEO_W, VIDEO_H), fps=30, macro_block_size=1
    )
    writer.send(None)
    rng = np.random.default_rng(1)
    for _ in range(VIDEO_FRAMES):
        writer.send(rng.integers(0, 255, (VIDEO_H, VIDEO_W, 3), dtype=np.uint8).tobytes())
    writer.close()
    return root


class Backend:
    def __init__(self, client: FlaskClient, tracker: Any, masks: Path) -> None:
        self.client, self.tracker, self.masks = client, tracker, masks

    def predict(self, config: str, task: dict[str, Any], context: object = None, **kw: Any):
        body = {
            "tasks": [task],
            "label_config": config,
            "project": "3.1700000000",
            "params": {"context": context},
        }
        return self.client.post("/predict", json=body, **kw)


def make_backend(
    tmp_path: Path,
    *,
    tracker: Tracker | None = None,
    job_queue: JobQueue | None = None,
    **settings: Any,
) -> Iterator[Backend]:
    tracker = tracker or ScriptedTracker()
    masks = tmp_path / "masks"
    defaults: dict[str, Any] = {
        "access": None,
        "basic_auth": None,
        "masks_root": masks,
        "media_cache": tmp_path / "cache",
    }
    backend_settings = BackendSettings(**(defaults | settings))
    predictor = Predictor(
        tracker=tracker,
        model_version=VERSION,
        media=MediaResolver(cache_dir=tmp_path / "cache"),
        masks_root=masks,
        limits=backend_settings.media_limits,
    )
    app = create_app(predictor=predictor, settings=backend_settings, jobs=job_queue)
    with app.test_client() as client:
        yield Backend(client, tracker, masks)


def local(path: str) -> str:
    return f"/data/local-files/?d={path}"


def frame_urls(count: int = 6) -> list[str]:
    return [local(f"bedroom/{i:05d}.jpg") for i in range(count)]


def backward_only_task(task_id: int, root: Path, *, pages: int) -> dict[str, Any]:
    """A frame-sequence task of `pages` noise frames (written under `root`, Label Studio's
    document root) whose only prompt is on the last page: SAM 2 tracks every other page
    backward, model step by model step, before the first page comes out."""
    folder = root / f"backward-{pages}"
    if not folder.is_dir():
        folder.mkdir()
        rng = np.random.default_rng(pages)
        for page in range(pages):
            pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{page:05d}.png")
    urls = [local(f"{folder.name}/{page:05d}.png") for page in range(pages)]
    annotation = {"id": 1, "result": [click(50, 50, "car", page=pages - 1)]}
    return {"id": task_id, "data": {"frames": urls}, "annotations": [annotation]}


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


def brush_region(label: str, page: int, mask: np.ndarray) -> dict[str, Any]:
    """A brushed mask on page `page` of a frame sequence, as a person draws it."""
    return {
        "id": f"{label}-brush-{page}",
        "from_name": "mask",
        "to_name": "frames",
        "type": "brushlabels",
        "item_index": page,
        "origin": "manual",
        "value": {"format": "rle", "rle": mask_to_rle(mask), "brushlabels": [label]},
    }


def video_keyframe(
    frame: int, box: tuple[float, float, float, float], *, fps: float
) -> dict[str, Any]:
    """One keyframe of a videorectangle: 1-based frame, percent box (x, y, width, height)."""
    x, y, width, height = box
    return {
        "frame": frame,
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "enabled": True,
        "rotation": 0,
        "time": (frame - 1) / fps,
    }


def video_region(
    label: str, frames: list[int], *, box: tuple[float, float, float, float], fps: float
) -> dict[str, Any]:
    """A videorectangle region as Label Studio saves it: one keyframe per 1-based frame, the
    same percent box (x, y, width, height) on each."""
    sequence = [video_keyframe(f, box, fps=fps) for f in frames]
    return {
        "id": f"{label}-{frames[0]}",
        "from_name": "box",
        "to_name": "video",
        "type": "videorectangle",
        "origin": "manual",
        "value": {"sequence": sequence, "labels": [label]},
    }


class CollectMasks:
    """A frame writer that keeps every frame's masks, to compare with."""

    def __init__(self) -> None:
        self.masks: dict[int, dict[ObjectKey, np.ndarray]] = {}

    def write(self, result: FrameMasks) -> None:
        self.masks[result.frame_index] = result.masks

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass
