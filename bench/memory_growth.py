"""Peak memory as the video grows: our streaming tracker next to the stock SAM 2 way.

Usage: .venv/bin/python bench/memory_growth.py [--frames 200 2000] [--ways ours stock]
       [--model NAME] [--image-size 256] [--device cpu|cuda] [--clip FOLDER]
Each measurement runs in its own child process (peak RSS is per process). The clip is the
shared bedroom clip (or --clip: a folder of JPEGs and LabelMe files, as bench/gpu_prepare.sh
copies it for a machine without shared/) played back and forth to the length asked for, with
its two LabelMe files as prompts (2 objects). Random weights: memory and speed do not depend
on the weights.

- ours: read_folder + Sam2Tracker (lazy frames, pruned memory), masks consumed frame by frame.
- stock: SAM 2's init_state (loads every frame) + add_new_points_or_box + propagate_in_video
  forward then backward, as SAM 2's video notebook does, masks consumed frame by frame.
Prints one Markdown row per measurement for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BEDROOM = REPO.parent / "shared" / "data" / "frames" / "bedroom"


def make_clip(folder: Path, frames: int, source: Path = BEDROOM) -> None:
    """`frames` frames of the clip, back and forth (symlinks), plus its prompts."""
    sources = sorted(source.resolve().glob("*.jpg"))
    if not sources:
        sys.exit(f"{source}: no JPEG frames")
    cycle = sources + sources[-2:0:-1]
    folder.mkdir()
    for i in range(frames):
        (folder / f"{i:05d}.jpg").symlink_to(cycle[i % len(cycle)])
    for path in source.glob("*.json"):
        (folder / path.name).write_bytes(path.read_bytes())


def child(way: str, folder: Path, args: argparse.Namespace) -> None:
    import torch

    from bench.stock_sam2 import add_stock_prompts
    from labelme_sam2.labelme_adapter.chunk import read_folder
    from labelme_sam2.models.registry import choose_model
    from labelme_sam2.sam2_tracker.device import inference_context, select_device
    from labelme_sam2.sam2_tracker.model import build_sam2
    from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

    device = select_device(args.device)
    choice = choose_model(model=args.model, checkpoint="random", checkpoints_dir=REPO)
    sam2_model = build_sam2(choice, device=device, image_size=args.image_size)
    labelme = read_folder(folder, warn=lambda _: None)
    started = time.perf_counter()
    frames_done = 0
    if way == "ours":
        for result in Sam2Tracker(sam2_model).track(labelme.frames, labelme.prompts):
            frames_done += bool(result.masks)
    else:
        with inference_context(device):
            state = sam2_model.init_state(str(folder))
            add_stock_prompts(sam2_model, state, labelme.prompts)
            for reverse in (False, True):
                for _, _, logits in sam2_model.propagate_in_video(state, reverse=reverse):
                    _ = (logits > 0).cpu().numpy()
                    frames_done += 1
    seconds = time.perf_counter() - started
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "steps": frames_done, "rss": rss_peak, "gpu": gpu_peak}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--ways", nargs="+", choices=["ours", "stock"], default=["ours", "stock"])
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clip", type=Path, default=BEDROOM, help="default: the shared clip")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args)
        return

    os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"
    machine = f"{platform.node() or 'host'} ({os.cpu_count()} cores)"
    print("| date | machine | way | model | frames | wall | frames/s | peak RSS | peak GPU |")
    for frames in args.frames:
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp) / "clip"
            make_clip(folder, frames, args.clip)
            for way in args.ways:
                command = [sys.executable, __file__, "--child", way, str(folder)]
                command += ["--model", args.model, "--image-size", str(args.image_size)]
                command += ["--device", args.device]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(done.stderr)
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                gpu = "-" if figures["gpu"] is None else f"{figures['gpu']:.0f} MiB"
                print(
                    f"| {time.strftime('%Y-%m-%d')} | {machine} | {way} "
                    f"| {args.model} @{args.image_size} {args.device} | {frames} "
                    f"| {figures['seconds']:.0f} s | {frames / figures['seconds']:.2f} "
                    f"| {figures['rss']:.0f} MiB | {gpu} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
