"""STAND-IN masks for the documentation pictures only: GrabCut, not SAM 2.

A development helper, not part of the installed package (nothing under `labelme_sam2/`
imports it). Where no SAM 2 weights are at hand, it still leaves a folder exactly as
`labelme-sam2 track` would (the LabelMe files with the masks, and the mask store in
`.labelme-sam2/`), so that `render`, `strobe` and the other commands that read a finished run
can draw the README pictures on real footage. The masks come from OpenCV's GrabCut,
re-initialised on every frame from the previous frame's mask moved along the optical flow;
they are plausible, not SAM 2's, and must never be presented as SAM 2 results or benchmarks.
The run's model identity is "docs-standin-grabcut", so a later real `track` run on the same
folder recomputes everything.

The tracker is in docs_standin/ beside this file: grabcut_tracker.py (the `Tracker`) and
mask_steps.py (what it does on each frame); this file makes the two folders.

    python scripts/docs_standin_tracking.py bedroom OUT_DIR   # OUT_DIR/bedroom, 200 frames
    python scripts/docs_standin_tracking.py strobe OUT_DIR    # OUT_DIR/dog, 51 frames

`bedroom` copies the shared bedroom frames and their two LabelMe files; `strobe` extracts
frames 114-164 of the shared 01_dog.mp4 (the dog walks from the right edge to the woman over a
still background) and prompts a box around the dog on the first. An OUT_DIR/NAME left by an
earlier run is replaced; any other existing folder there is refused. The tracked folder must
stay where it was made: the mask store records the frames' paths and times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from docs_standin.grabcut_tracker import GrabCutStandIn, Hint, Hints

from labelme_sam2.api import LoadedModel, track
from labelme_sam2.reruns import STORE_DIR

IDENTITY = "docs-standin-grabcut"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# The strobe clip: source frames 114..164 of 01_dog.mp4 (29.97 fps), and the dog on the first.
DOG_VIDEO = "videos/01_dog.mp4"
DOG_START_S = 3.79  # frame 114 is at 3.804 s, frame 113 at 3.770 s
DOG_END_S = 5.49  # frame 164 is at 5.472 s, frame 165 at 5.506 s
DOG_BOX = (998.0, 380.0, 1268.0, 562.0)  # x0, y0, x1, y1 on the clip's first frame

# The folders -----------------------------------------------------------------------------------


# Placed by eye on the frames (see Hint). Frame 0: the girl's blurred arm, and the grey and
# striped pillows around her legs, which match her skirt. From frame 112: the boy, back from
# behind her, in front of a white curtain as white as his shirt.
BEDROOM_HINTS: Hints = {
    "girl": {
        0: Hint(
            fg=(((442, 148), (470, 180), (500, 210)),),
            bg=(
                ((440, 320), (480, 335)),
                ((440, 362), (470, 370)),
                ((345, 290), (348, 340)),
                ((418, 352), (428, 378)),
            ),
        ),
        180: Hint(box=(305, 10, 515, 365)),
        193: Hint(
            box=(298, 0, 495, 445),
            bg=(((470, 350), (530, 360)), ((398, 330), (412, 370)), ((395, 398), (418, 410))),
        ),
    },
    "boy": {
        106: Hint(box=(85, 225, 215, 465)),
        112: Hint(box=(90, 235, 212, 465)),
        124: Hint(box=(0, 225, 172, 470), fg=(((115, 335), (165, 365)), ((90, 415), (140, 425)))),
        135: Hint(box=(0, 135, 135, 430)),
        145: Hint(box=(0, 290, 105, 540)),
        160: Hint(box=(0, 0, 170, 445), bg=(((78, 310), (75, 420)), ((8, 320), (8, 430)))),
        175: Hint(box=(45, 0, 195, 475), bg=(((118, 370), (118, 430)),)),
        190: Hint(
            box=(25, 95, 215, 540),
            bg=(((40, 150), (60, 290)), ((30, 380), (60, 520)), ((75, 365), (80, 455))),
        ),
        197: Hint(
            box=(88, 0, 252, 430), fg=(((130, 60), (140, 180)),), bg=(((212, 250), (215, 400)),)
        ),
    },
}
DOG_HINTS: Hints = {}  # the still camera's empty scene does what strokes would


def _fresh_folder(folder: Path) -> None:
    """Make `folder` empty: one this script left before is replaced, anything else refused."""
    if folder.exists():
        if not (folder / STORE_DIR).is_dir():
            sys.exit(f"{folder} exists and is not a tracked folder; choose another OUT_DIR")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def prepare_bedroom(out_dir: Path, data: Path) -> Path:
    source = data / "frames" / "bedroom"
    folder = out_dir / "bedroom"
    _fresh_folder(folder)
    for path in sorted(source.glob("*.jpg")) + sorted(source.glob("*.json")):
        shutil.copyfile(path, folder / path.name)
    return folder


def prepare_strobe(out_dir: Path, data: Path) -> Path:
    folder = out_dir / "dog"
    _fresh_folder(folder)
    folder.rmdir()  # extract wants to make it
    subprocess.run(
        [
            sys.executable,
            "-m",
            "labelme_sam2",
            "extract",
            str(data / DOG_VIDEO),
            "--out",
            str(folder),
            "--start",
            str(DOG_START_S),
            "--end",
            str(DOG_END_S),
        ],
        check=True,
    )
    x0, y0, x1, y1 = DOG_BOX
    document = {
        "version": "5.5.0",
        "flags": {},
        "shapes": [
            {
                "label": "dog",
                "points": [[x0, y0], [x1, y1]],
                "group_id": None,
                "description": "",
                "shape_type": "rectangle",
                "flags": {},
                "mask": None,
            }
        ],
        "imagePath": "00000.jpg",
        "imageData": None,
        "imageHeight": 720,
        "imageWidth": 1280,
    }
    (folder / "00000.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return folder


def track_folder(folder: Path, hints: Hints) -> str:
    model = LoadedModel(
        tracker=GrabCutStandIn(hints=hints),
        label="GrabCut stand-in",
        version=IDENTITY,
        device="cpu",
        identity=IDENTITY,
    )
    return track(folder, model=model, warn=print).line()


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Stand-in tracking (GrabCut, NOT SAM 2) for the documentation pictures."
    )
    parser.add_argument("clip", choices=["bedroom", "strobe"])
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument(
        "--data", type=Path, default=SHARED_DATA, help=f"the shared data (default: {SHARED_DATA})"
    )
    args = parser.parse_args()
    prepare = prepare_bedroom if args.clip == "bedroom" else prepare_strobe
    folder = prepare(args.out_dir.resolve(), args.data)
    started = time.perf_counter()
    line = track_folder(folder, BEDROOM_HINTS if args.clip == "bedroom" else DOG_HINTS)
    print(f"{folder}: {line} (GrabCut stand-in, {time.perf_counter() - started:.1f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
