"""Interactive clicks while a long job runs, through the backend in process (embedded queue).

Usage: .venv/bin/python bench/clicks_during_job.py [--clicks N] [--pages N] [--image-size N]
       [--device cpu|cuda] [--model NAME] [--checkpoint random|PATH] [--cache-mb N]
Click latency p50 / p95 on one 960x540 bedroom frame: with the model idle, then while a job
tracks an N-page frame sequence; and how long that job took (alone is --pages x the idle
per-page time). Clicks move over the same image, so the feature cache serves all but the first
(--cache-mb 0 turns it off). Prints Markdown table rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.backend_model import add_model_flags, load_bench_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--pages", type=int, default=60)
    add_model_flags(parser)
    parser.add_argument("--cache-mb", type=int, default=1024)
    args = parser.parse_args()

    from label_studio_sdk._extensions.label_studio_tools.core.utils import io as sdk_io

    from ls_backend.app import create_app
    from ls_backend.jobs.embedded import EmbeddedJobs
    from ls_backend.jobs.runner import run_job
    from ls_backend.media import LabelStudioAccess, MediaResolver
    from ls_backend.prediction import Predictor
    from ls_backend.settings import BackendSettings
    from tests.conftest import copy_bedroom
    from tests.ls_helpers import FRAMES, IMAGE, click, local

    model = load_bench_model(args, feature_cache_bytes=args.cache_mb * 2**20)

    class DiscardingSink:
        def replace_prediction(self, *, task_id: int, prediction: Any) -> int:
            return task_id

    access = LabelStudioAccess(url="http://unused.invalid", api_key="unused")
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "media"
        copy_bedroom(root, frames=args.pages)
        sdk_io.LOCAL_FILES_DOCUMENT_ROOT = str(root)
        predictor = Predictor(
            tracker=model.tracker,
            model_version=model.version,
            media=MediaResolver(cache_dir=Path(temp) / "cache"),
        )
        jobs = EmbeddedJobs(
            execute=lambda spec, control, current: run_job(
                spec,
                predictor=predictor,
                control=control,
                access=access,
                sink=DiscardingSink(),
                still_current=current,
            )
        )
        settings = BackendSettings(
            access=access, basic_auth=None, masks_root=None, media_cache=Path(temp) / "cache"
        )
        client = create_app(predictor=predictor, settings=settings, jobs=jobs).test_client()
        image_task = {"id": 1, "data": {"image": local("bedroom/00000.jpg")}}

        def one_click(i: int) -> float:
            body = {
                "tasks": [image_task],
                "label_config": IMAGE,
                "project": "1",
                "params": {"context": {"result": [click(10 + i % 80, 50, "car")]}},
            }
            started = time.perf_counter()
            response = client.post("/predict", json=body)
            assert response.status_code == 200, response.json
            return time.perf_counter() - started

        one_click(0)  # warm-up (and the image's features into the cache)
        idle = [one_click(i) for i in range(args.clicks)]
        annotation = {"id": 1, "result": [click(50, 50, "car", page=0)]}
        task = {
            "id": 2,
            "data": {"frames": [local(f"bedroom/{i:05d}.jpg") for i in range(args.pages)]},
            "annotations": [annotation],
        }
        body = {"tasks": [task], "label_config": FRAMES, "project": "1", "params": {}}
        (job_id,) = client.post("/predict", json=body).json["jobs"]
        while client.get(f"/jobs/{job_id}").json["frames_done"] < 2:
            time.sleep(0.05)
        busy = []
        while len(busy) < args.clicks and client.get(f"/jobs/{job_id}").json["state"] == "running":
            busy.append(one_click(len(busy)))
        jobs.wait_idle(3600)
        job = client.get(f"/jobs/{job_id}").json
        jobs.close()

    where = f"{platform.node()} {args.device}, {model.version}, cache {args.cache_mb} MB"
    for name, seconds in (("idle model", idle), ("during a job", busy)):
        quantiles = statistics.quantiles(seconds, n=20) if len(seconds) > 1 else seconds * 19
        print(
            f"| click, 960x540, {name} | {where} | p50 {statistics.median(seconds):.2f} s, "
            f"p95 {quantiles[18]:.2f} s over {len(seconds)} |"
        )
    took = job["finished_at"] - job["started_at"]
    print(
        f"| job: {args.pages}-page frame sequence, {len(busy)} clicks during it | {where} | "
        f"{took:.1f} s ({job['state']}) |"
    )


if __name__ == "__main__":
    main()
