"""Label Studio backend: how long /predict takes, in process, without Label Studio around it.

Usage: .venv/bin/python bench/ls_backend_latency.py [--clicks N] [--pages N] [--image-size N]
       [--device cpu|cuda] [--model NAME] [--checkpoint random|PATH]
- an interactive click on one bedroom frame (960x540), N times: p50 / p95 seconds;
- a frame sequence of N pages with a box on page 0: seconds for the whole /predict, the part of
  it spent encoding brush RLE, and the response size.
Prints Markdown table rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.backend_model import add_model_flags, load_bench_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--pages", type=int, default=30)
    add_model_flags(parser)
    args = parser.parse_args()

    from label_studio_sdk._extensions.label_studio_tools.core.utils import io as sdk_io

    import ls_backend.results as results_module
    from ls_backend.app import create_app
    from ls_backend.media import MediaResolver
    from ls_backend.prediction import Predictor
    from ls_backend.settings import BackendSettings
    from tests.conftest import copy_bedroom
    from tests.ls_helpers import FRAMES, IMAGE, click, local

    model = load_bench_model(args)
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "media"
        copy_bedroom(root, frames=args.pages)
        sdk_io.LOCAL_FILES_DOCUMENT_ROOT = str(root)
        predictor = Predictor(
            tracker=model.tracker,
            model_version=model.version,
            media=MediaResolver(cache_dir=Path(temp) / "cache"),
        )
        settings = BackendSettings(
            access=None, basic_auth=None, masks_root=None, media_cache=Path(temp) / "cache"
        )
        client = create_app(predictor=predictor, settings=settings).test_client()

        def predict(config: str, task: dict, context: object) -> tuple[float, int]:
            body = {
                "tasks": [task],
                "label_config": config,
                "project": "1",
                "params": {"context": context},
            }
            started = time.perf_counter()
            response = client.post("/predict", json=body)
            assert response.status_code == 200, response.json
            return time.perf_counter() - started, len(response.data)

        image_task = {"id": 1, "data": {"image": local("bedroom/00000.jpg")}}
        predict(IMAGE, image_task, {"result": [click(50, 50, "car")]})  # warm-up
        seconds = [
            predict(IMAGE, image_task, {"result": [click(10 + i, 50, "car")]})[0]
            for i in range(args.clicks)
        ]
        rle_seconds = [0.0]
        encode = results_module.mask_to_rle

        def timed_encode(mask):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return encode(mask)
            finally:
                rle_seconds[0] += time.perf_counter() - started

        results_module.mask_to_rle = timed_encode  # type: ignore[assignment]
        urls = [local(f"bedroom/{i:05d}.jpg") for i in range(args.pages)]
        box = {
            "id": "r",
            "from_name": "box",
            "to_name": "frames",
            "type": "rectanglelabels",
            "item_index": 0,
            "value": {"x": 20, "y": 20, "width": 50, "height": 60, "rectanglelabels": ["car"]},
        }
        sequence_seconds, size = predict(
            FRAMES, {"id": 2, "data": {"frames": urls}}, {"result": [box]}
        )

    quantiles = statistics.quantiles(seconds, n=20)
    where = f"{platform.node()} {args.device}, {model.version}"
    print(
        f"| interactive click, 960x540 | {where} | p50 {statistics.median(seconds):.2f} s, "
        f"p95 {quantiles[18]:.2f} s over {args.clicks} |"
    )
    print(
        f"| frame sequence, {args.pages} pages, 1 object | {where} | {sequence_seconds:.1f} s "
        f"({sequence_seconds / args.pages:.2f} s/page; brush RLE {rle_seconds[0]:.2f} s); "
        f"response {size / 1024:.0f} KiB |"
    )


if __name__ == "__main__":
    main()
