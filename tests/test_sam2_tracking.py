"""The real SAM 2.1 tiny architecture with random weights at 256 on CPU.

Random masks mean nothing, so these tests check what is exact: the stream covers every frame
and object, a mask prompt comes back on its own frame, and re-runs are byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from labelme_sam2.cli.main import main
from labelme_sam2.core.pipeline import propagate
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.labelme_json import is_tool_shape
from labelme_sam2.formats.mask_codec import polygon_to_mask
from labelme_sam2.labelme_adapter.chunk import read_folder
from labelme_sam2.labelme_adapter.json_writer import LabelmeJsonWriter
from labelme_sam2.models.registry import choose_model
from tests.conftest import folder_bytes, shape

pytestmark = pytest.mark.sam2

PILLOW = [[600.0, 300.0], [800.0, 290.0], [850.0, 450.0], [700.0, 500.0], [620.0, 480.0]]
TRACK_ARGS = ["--checkpoint", "random", "--image-size", "256", "--device", "cpu"]
TRACK_ARGS += ["--model", "sam2.1_hiera_tiny"]


@pytest.fixture(autouse=True)
def allow_random_weights(monkeypatch):
    monkeypatch.setenv("LABELME_SAM2_ALLOW_RANDOM_WEIGHTS", "1")


class Recorder:
    def __init__(self) -> None:
        self.results: list[FrameMasks] = []

    def write(self, result: FrameMasks) -> None:
        self.results.append(result)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def test_every_frame_gets_every_object_and_a_polygon_prompt_comes_back(bedroom: Path):
    # A third object prompted by a polygon on frame 5 only: frames 0-4 come from the
    # backward pass, 6-19 from the forward pass.
    (bedroom / "00005.json").write_text(
        json.dumps({"shapes": [shape("pillow", "polygon", PILLOW)], "imagePath": "00005.jpg"})
    )
    from labelme_sam2.sam2_tracker.device import select_device
    from labelme_sam2.sam2_tracker.model import build_sam2
    from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

    folder = read_folder(bedroom, warn=lambda _: None)
    choice = choose_model(model="sam2.1_hiera_tiny", checkpoint="random", checkpoints_dir=bedroom)
    sam2_model = build_sam2(choice, device=select_device("cpu"), image_size=256)
    recorder = Recorder()
    json_writer = LabelmeJsonWriter(folder, shape_format="polygon")
    propagate(
        folder.frames,
        folder.prompts,
        tracker=Sam2Tracker(sam2_model),
        writers=[recorder, json_writer],
    )

    keys = [ObjectKey("boy", None), ObjectKey("girl", None), ObjectKey("pillow", None)]
    assert sorted(r.frame_index for r in recorder.results) == list(range(20))
    for result in recorder.results:
        assert list(result.masks) == keys
        for mask in result.masks.values():
            assert mask.dtype == bool and mask.shape == (540, 960)

    prompt = polygon_to_mask([tuple(p) for p in PILLOW], width=960, height=540)
    written = json.loads((bedroom / "00005.json").read_text())["shapes"]
    drawn = np.zeros_like(prompt)
    for s in written:
        if is_tool_shape(s) and s["label"] == "pillow":
            drawn |= polygon_to_mask([tuple(p) for p in s["points"]], width=960, height=540)
    assert (drawn & prompt).sum() / (drawn | prompt).sum() >= 0.95


def test_command_writes_everything_and_a_rerun_changes_no_byte(bedroom: Path, capsys):
    args = ["track", str(bedroom), *TRACK_ARGS, "--save-masks", "--video", "masked"]
    assert main(args) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("tracked 20 frames x 2 objects in ")
    assert len(list(bedroom.glob("*.jpg"))) == len(list(bedroom.glob("000[01]?.json"))) == 20
    masks = bedroom.parent / "bedroom_masks"
    assert len(list(masks.glob("*.png"))) == 20
    assert (
        len(list((masks / "boy").glob("*.png"))) == len(list((masks / "girl").glob("*.png"))) == 20
    )
    reader = imageio_ffmpeg.read_frames(str(bedroom.parent / "bedroom_masked.mp4"))
    assert reader.__next__()["size"] == (960, 540)
    assert sum(1 for _ in reader) == 20

    first = folder_bytes(bedroom)
    assert main(args) == 0
    assert folder_bytes(bedroom) == first
