"""Issue 15's failure case under the concurrent pipeline: on a 300-frame folder, the mask PNG
layer cannot write frame 150 (a folder stands where its file goes). The run stops with one
line naming that file, the tracker stops soon after (it runs at most 64 frames ahead), and
nothing is half-written: every file is old or whole, no temporary file is left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from labelme_sam2.cli.main import main
from labelme_sam2.core.stages import FRAMES_AHEAD
from tests.conftest import labelme_file, shape
from tests.scripted_tracker import use_scripted_model

FRAMES = 300
FAILS_AT = 150


def frame_folder(root: Path) -> Path:
    folder = root / "clip"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(FRAMES):
        pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:05d}.jpg")
    box = shape("car", "rectangle", [[8.0, 8.0], [40.0, 36.0]])
    document = labelme_file([box], image="00000.jpg", width=64, height=48)
    (folder / "00000.json").write_text(json.dumps(document, indent=2))
    return folder


def test_a_writer_failing_on_frame_150_of_300(tmp_path, monkeypatch, capsys):
    tracker = use_scripted_model(monkeypatch)
    folder = frame_folder(tmp_path)
    masks = tmp_path / "clip_masks"
    (masks / f"{FAILS_AT:05d}.png").mkdir(parents=True)  # where the union mask would go
    prompts_before = (folder / "00000.json").read_bytes()

    code = main(["track", str(folder), "--export", "png"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and f"{FAILS_AT:05d}.png" in err[0], err
    # the model stopped: it ran at most FRAMES_AHEAD frames (and the one in hand) past it
    assert FAILS_AT <= tracker.object_frames <= FAILS_AT + FRAMES_AHEAD + 2 < FRAMES
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in everything if p.name.startswith(".")], "a temporary file was left"
    for path in everything:  # old or whole
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
        elif path.suffix == ".json":
            document = json.loads(path.read_text())
            assert isinstance(document["shapes"], list)
    assert not (folder / ".labelme-sam2" / "run.json").exists()  # no record of a run
    user_shapes = [
        s
        for s in json.loads((folder / "00000.json").read_text())["shapes"]
        if not s["flags"].get("labelme_sam2")
    ]
    assert user_shapes == json.loads(prompts_before)["shapes"]
