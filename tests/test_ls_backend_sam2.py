"""The backend with the real SAM 2.1 tiny architecture (random weights, 256, CPU): a frame
sequence's prediction is exactly what the core computes for the same prompts, and a brushed
mask comes back unchanged on its page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.core.frames import frames_from_paths
from labelme_sam2.core.pipeline import propagate
from labelme_sam2.core.prompts import Box, Click, ObjectKey, PromptSet
from labelme_sam2.formats.mask_codec import polygon_to_mask
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker
from tests.ls_helpers import (
    FRAMES,
    CollectMasks,
    brush_region,
    click,
    decoded,
    frame_urls,
    make_backend,
)

pytestmark = pytest.mark.sam2
PAGES = 6
PILLOW = [(600.0, 300.0), (800.0, 290.0), (850.0, 450.0), (700.0, 500.0), (620.0, 480.0)]


def test_frame_sequence_equals_the_core_and_keeps_the_brushed_mask(
    tmp_path: Path, document_root: Path, tiny_sam2
) -> None:
    frames = frames_from_paths(
        document_root, [document_root / "bedroom" / f"{i:05d}.jpg" for i in range(PAGES)]
    )
    width, height = frames.width, frames.height
    pillow = polygon_to_mask(PILLOW, width=width, height=height)
    brushed = brush_region("pillow", 1, pillow)
    boxed = {
        "id": "r1",
        "from_name": "box",
        "to_name": "frames",
        "type": "rectanglelabels",
        "item_index": 0,
        "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["bed"]},
    }
    regions = [brushed, click(50, 50, "bed", page=4), click(25, 25, "bed_neg", page=4), boxed]

    tracker = Sam2Tracker(tiny_sam2)
    for backend in make_backend(tmp_path, tracker=tracker):
        response = backend.predict(
            FRAMES, {"id": 1, "data": {"frames": frame_urls(PAGES)}}, {"result": regions}
        )
    assert response.status_code == 200, response.json
    predicted = {
        (r["item_index"], r["value"]["brushlabels"][0]): decoded(r, width, height)
        for r in response.json["results"][0]["result"]
    }
    assert np.array_equal(predicted[1, "pillow"], pillow)

    # The same prompts, given to the core directly.
    prompts = PromptSet()
    pillow_key, bed = ObjectKey("pillow", None), ObjectKey("bed", None)
    prompts.prompt_for(pillow_key, 1, source="test").add_mask(pillow)
    prompts.prompt_for(bed, 4, source="test").clicks.extend(
        [Click(0.5 * width, 0.5 * height, True), Click(0.25 * width, 0.25 * height, False)]
    )
    prompts.prompt_for(bed, 0, source="test").box = Box(
        0.1 * width, 0.2 * height, 0.4 * width, 0.6 * height
    )
    core = CollectMasks()
    propagate(frames, prompts, tracker=tracker, writers=[core])
    empty = np.zeros((height, width), dtype=bool)
    for page in range(PAGES):
        for key in (pillow_key, bed):
            got = predicted.get((page, key.label), empty)
            assert np.array_equal(got, core.masks[page][key]), (page, key)
