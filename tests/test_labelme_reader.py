"""Our LabelMe files through labelme 7.9.1's own reader (Python 3.12, no torch), and the
5.x keys that labelme 5.5.0 reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.core.pipeline import propagate
from labelme_sam2.formats.labelme_json import ShapeFormat
from labelme_sam2.labelme_adapter.chunk import read_folder
from labelme_sam2.labelme_adapter.json_writer import LabelmeJsonWriter
from tests.conftest import REPO
from tests.scripted_tracker import ScriptedTracker, scripted_mask

pytestmark = pytest.mark.labelme_reader

LABELME_PYTHON = REPO / ".venv-labelme312" / "bin" / "python"
SHAPE_KEYS_5X = {"label", "points", "group_id", "description", "shape_type", "flags", "mask"}
FILE_KEYS_5X = {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}


@pytest.mark.parametrize("shape_format", ["mask", "polygon"])
def test_labelme_7_reads_our_files_and_sees_our_masks(
    bedroom: Path, tmp_path: Path, shape_format: ShapeFormat
):
    assert LABELME_PYTHON.exists(), "run scripts/setup_labelme_reader.sh (scripts/test.sh does)"
    folder = read_folder(bedroom, warn=lambda _: None)
    writer = LabelmeJsonWriter(folder, shape_format=shape_format)
    propagate(folder.frames, folder.prompts, tracker=ScriptedTracker(), writers=[writer])
    files = [bedroom / f"{i:05d}.json" for i in (0, 4, 11)]  # the user's file, new files
    out = tmp_path / "rasterised"
    out.mkdir()
    result = subprocess.run(
        [str(LABELME_PYTHON), str(REPO / "tests" / "labelme_reader_check.py"), str(out)]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["00000.json"]["shapes"] == report["00000.json"]["ours"] + 4  # user's 4 kept

    for path in files:
        document = json.loads(path.read_text())
        assert set(document) == FILE_KEYS_5X
        assert all(set(s) == SHAPE_KEYS_5X for s in document["shapes"])
        frame_index = int(path.stem)
        for i, label in enumerate(["boy", "girl"]):
            mask = scripted_mask(i, frame_index, width=960, height=540, hole=shape_format == "mask")
            seen = out / f"{path.stem}_{label}.npy"
            if not mask.any():
                assert not seen.exists()
                continue
            labelme_mask = np.load(seen)
            if shape_format == "mask":
                assert np.array_equal(labelme_mask, mask)
            else:
                iou = (labelme_mask & mask).sum() / (labelme_mask | mask).sum()
                assert iou >= 0.98
