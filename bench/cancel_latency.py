"""How soon labelme_sam2.api.track() returns after its cancel event is set, and whether the
files it leaves are each old or new. SAM 2.1 (random weights: the computation of real ones)
on the shared bedroom clip; the cancel comes from another thread, as a GUI's Stop button.

Usage: .venv/bin/python bench/cancel_latency.py [--frames 40] [--cancel-after 8]
       [--model sam2.1_hiera_tiny] [--image-size 256] [--device cpu]
Prints one Markdown table row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bedroom import copy_bedroom  # noqa: E402
from labelme_sam2.api import ModelOptions, OutputOptions, load_model, track  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--cancel-after", type=float, default=8.0, help="seconds into tracking")
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"
    model = load_model(
        ModelOptions(
            model=args.model, checkpoint="random", image_size=args.image_size, device=args.device
        )
    )
    with tempfile.TemporaryDirectory() as temp:
        folder = copy_bedroom(Path(temp), frames=args.frames)
        cancel, written_at, set_at = threading.Event(), [], []

        def stop() -> None:
            set_at.append(time.perf_counter())
            cancel.set()

        timer = threading.Timer(args.cancel_after, stop)

        def on_progress(done: int, total: int) -> None:
            written_at.append(time.perf_counter())
            if done == 1:
                timer.start()  # the clock starts once the first frame is out

        result = track(
            folder, model=model, outputs=OutputOptions(layers=("png",)), on_progress=on_progress,
            cancel=cancel,
        )  # fmt: skip
        returned = time.perf_counter()
        gaps = [b - a for a, b in itertools.pairwise(written_at)]
        # The frame being computed when the cancel came: its whole time is the most a cancel
        # can wait (the run stops after the frame it is on).
        in_progress = next(b - a for a, b in itertools.pairwise(written_at) if b >= set_at[0])
        for path in folder.glob("*.json"):
            json.loads(path.read_text())  # every file parses: old or new
    frame_seconds = sum(gaps) / len(gaps) if gaps else float("nan")
    print(result.line())
    print(
        f"| {time.strftime('%Y-%m-%d')} | {platform.node() or 'host'} ({os.cpu_count()} cores) "
        f"| {args.model} random @{args.image_size} {args.device} | {result.frames_written} of "
        f"{args.frames} | {returned - set_at[0]:.2f} s | {in_progress:.2f} s | "
        f"{frame_seconds:.2f} s |"
    )


if __name__ == "__main__":
    main()
