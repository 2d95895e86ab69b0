"""Seconds per frame and peak memory of `labelme-sam2 track` on the shared bedroom clip.

Usage: .venv/bin/python bench/track_speed.py [--frames N] [--model NAME] [--image-size N]
       [--device cpu|cuda] [--checkpoint random|PATH]
Copies the first N frames (and the LabelMe files) into a temp folder, runs the command in a
child process, and prints one Markdown table row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bedroom import copy_bedroom


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--checkpoint", default="random")
    parser.add_argument("--extra", nargs="*", default=["--save-masks", "--video", "masked"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        folder = copy_bedroom(Path(temp), frames=args.frames)
        command = [
            sys.executable, "-m", "labelme_sam2", "track", str(folder),
            "--model", args.model, "--checkpoint", args.checkpoint,
            "--image-size", str(args.image_size), "--device", args.device, *args.extra,
        ]  # fmt: skip
        env = {**os.environ, "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS": "1"}
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(done.stderr)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = done.stdout.strip().splitlines()[-1]
    print(summary)
    print(
        f"| {time.strftime('%Y-%m-%d')} | {platform.node() or 'host'} ({os.cpu_count()} cores) "
        f"| {args.model} {args.checkpoint} @{args.image_size} {args.device} | {args.frames} "
        f"| {seconds:.1f} s | {seconds / args.frames:.2f} s | {peak_mib:.0f} MiB |"
    )


if __name__ == "__main__":
    main()
