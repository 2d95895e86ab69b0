"""Seconds per frame of each `render` output on the shared bedroom clip (200 frames, 960x540,
2 objects), from masks a scripted tracker stored: render never runs the model, so the masks'
content does not matter, only their size and count.

Usage: .venv/bin/python bench/render_speed.py [--kinds masked overlay ...]
Prints one Markdown row per output kind for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BEDROOM = REPO.parent / "shared" / "data" / "frames" / "bedroom"

KINDS = {
    "masked white": ["--video", "masked"],
    "masked blur": ["--video", "masked", "--fill", "blur"],
    "masked pixelate": ["--video", "masked", "--fill", "pixelate"],
    "overlay": ["--video", "overlay"],
    "overlay side by side": ["--video", "overlay", "--side-by-side"],
    "png": ["--export", "png"],
    "davis": ["--export", "davis"],
    "coco": ["--export", "coco"],
    "yolo": ["--export", "yolo"],
    "contact sheet": ["--contact-sheet"],
    # One decode per frame shared by every writer (core.shared_frames.SharedFrames).
    "overlay + masked + previews + contact sheet + davis": [
        "--video",
        "overlay",
        "--video",
        "masked",
        "--previews",
        "--contact-sheet",
        "--export",
        "davis",
    ],
}


def main() -> None:
    from labelme_sam2.cli.main import main as cli
    from tests.outputs_helpers import track_with_outputs

    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "bedroom"
        shutil.copytree(BEDROOM, folder)
        track_with_outputs(folder)
        frames = len(list(folder.glob("*.jpg")))
        print("| output | s/frame | frames/s |\n| --- | --- | --- |")
        for kind in args.kinds:
            started = time.perf_counter()
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                code = cli(["render", str(folder), *KINDS[kind]])
            seconds = time.perf_counter() - started
            assert code == 0, kind
            print(f"| {kind} | {seconds / frames:.3f} | {frames / seconds:.1f} |")


if __name__ == "__main__":
    main()
