"""Our SAM 2 inference state is built by hand from SAM 2's private keys (inference_state.py's
new_inference_state), so that frames are decoded on demand; SAM 2's own code then reads it.
Compared here with what the pinned sam2's init_state makes for the same frames, so that a sam2
upgrade that adds, drops or changes a key fails this test, not a tracking run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from labelme_sam2.core.frames import frames_from_paths
from labelme_sam2.sam2_tracker.inference_state import new_inference_state

pytestmark = [pytest.mark.sam2]
# Ours holds a frame source, init_state the decoded frames; init_state also computes frame 0's
# features up front, ours when SAM 2 first asks.
NOT_COMPARED = {"images", "cached_features"}


def jpeg_folder(folder: Path, *, frames: int = 3, width: int = 64, height: int = 48) -> Path:
    """Integer-named JPEGs: the folder form sam2's load_video_frames reads."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(frames):
        pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg")
    return folder


def test_our_inference_state_is_the_one_init_state_makes(tiny_sam2: Any, tmp_path: Path) -> None:
    folder = jpeg_folder(tmp_path / "clip")
    frames = frames_from_paths(folder, sorted(folder.glob("*.jpg")))
    ours = new_inference_state(tiny_sam2, frames)
    theirs = tiny_sam2.init_state(str(folder), offload_video_to_cpu=True)

    assert set(ours) == set(theirs)
    for key in sorted(set(theirs) - NOT_COMPARED):
        assert type(ours[key]) is type(theirs[key]), key
        assert ours[key] == theirs[key], key
    assert len(ours["images"]) == len(theirs["images"]) == 3
    assert ours["images"][0].shape == theirs["images"][0].shape
    assert ours["images"][0].dtype == theirs["images"][0].dtype
    assert ours["cached_features"] == {} and list(theirs["cached_features"]) == [0]
