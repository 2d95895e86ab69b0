"""Streaming SAM 2: dropping memory SAM 2 can no longer read changes no mask.

Real SAM 2.1 tiny, random weights, 256 px, CPU. Random masks mean nothing, but they are a
deterministic function of everything SAM 2 reads, so equal masks with and without pruning, and
no read of a dropped frame, show the pruning is exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.labelme_adapter.chunk import read_folder
from labelme_sam2.sam2_tracker import tracker as tracker_module
from labelme_sam2.sam2_tracker.segment_memory import SegmentMemory
from tests.conftest import copy_bedroom, shape

pytestmark = pytest.mark.sam2

PILLOW = [[600.0, 300.0], [800.0, 290.0], [850.0, 450.0], [700.0, 500.0], [620.0, 480.0]]


class ReadSpy(dict):
    """A non-conditioning output dict that notes every read of a frame it once held."""

    misses: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.added: set[int] = set()
        self.misses = []

    def __setitem__(self, frame: int, output: object) -> None:
        self.added.add(frame)
        super().__setitem__(frame, output)

    def get(self, frame, default=None):
        if frame in self.added and frame not in self:
            self.misses.append(frame)
        return super().get(frame, default)


def forty_frames_three_objects(tmp_path: Path) -> Path:
    folder = copy_bedroom(tmp_path, frames=40)
    (folder / "00060.json").unlink()  # beyond the 40 frames
    # A polygon object starting at frame 12 (a backward segment), and a second keyframe for
    # the girl at frame 25 (two forward segments).
    (folder / "00012.json").write_text(
        json.dumps({"shapes": [shape("pillow", "polygon", PILLOW)], "imagePath": "00012.jpg"})
    )
    (folder / "00025.json").write_text(
        json.dumps({"shapes": [shape("girl", "point", [[500.0, 250.0]])], "imagePath": "x"})
    )
    return folder


def test_pruned_memory_gives_identical_masks_and_never_misses_a_read(
    tmp_path: Path, tiny_sam2, monkeypatch
):
    folder = read_folder(forty_frames_three_objects(tmp_path), warn=lambda _: None)
    spies: list[ReadSpy] = []

    class SpiedMemory(SegmentMemory):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            spy = ReadSpy()
            spies.append(spy)
            self.output_dict["non_cond_frame_outputs"] = spy

    monkeypatch.setattr(tracker_module, "SegmentMemory", SpiedMemory)
    pruned_tracker = tracker_module.Sam2Tracker(tiny_sam2)
    pruned = list(pruned_tracker.track(folder.frames, folder.prompts))
    full_tracker = tracker_module.Sam2Tracker(tiny_sam2, prune_memory=False)
    full = list(full_tracker.track(folder.frames, folder.prompts))

    assert [r.frame_index for r in pruned] == [r.frame_index for r in full] == list(range(40))
    keys = [ObjectKey("boy", None), ObjectKey("girl", None), ObjectKey("pillow", None)]
    for a, b in zip(pruned, full, strict=True):
        assert list(a.masks) == list(b.masks) == keys
        for key in keys:
            assert np.array_equal(a.masks[key], b.masks[key]), (a.frame_index, key)
    # The masks are not trivially equal: objects differ and frames differ.
    assert not np.array_equal(full[30].masks[keys[0]], full[30].masks[keys[1]])

    # boy 0->40, girl 0->25 and 25->40, pillow 12->0 and 12->40: five segments.
    assert len(spies) == 2 * 5
    assert all(spy.misses == [] for spy in spies)
    # Pruned: at most 15 frames (SAM 2.1's reach of 14, plus the newest) per segment; the
    # forward segments run side by side, three at a time.
    assert pruned_tracker.peak_held_frames <= 3 * 15
    assert full_tracker.peak_held_frames >= 3 * 24

    # On its own keyframe a mask prompt is the answer, unchanged.
    prompt = folder.prompts.objects[keys[2]][12].mask
    assert prompt is not None and prompt.any()
    assert np.array_equal(pruned[12].masks[keys[2]], prompt)


def test_a_correction_rerun_equals_a_full_run_with_the_new_prompts(tmp_path: Path, tiny_sam2):
    """Segments are independent, so recomputing only the touched span is exact."""
    from labelme_sam2.api import LoadedModel, OutputOptions, track

    folder = copy_bedroom(tmp_path / "edited", frames=24)
    (folder / "00060.json").unlink()
    box = [[300.0, 150.0], [520.0, 500.0]]
    (folder / "00008.json").write_text(json.dumps({"shapes": [shape("boy", "rectangle", box)]}))
    (folder / "00016.json").write_text(json.dumps({"shapes": [shape("boy", "rectangle", box)]}))

    def run(target: Path, *, full: bool) -> str:
        tracker = tracker_module.Sam2Tracker(tiny_sam2)
        model = LoadedModel(tracker=tracker, label="tiny", version="tiny@256", device="cpu",
                            identity="tiny@256")  # fmt: skip
        return track(target, model=model, outputs=OutputOptions(shapes="mask"), full=full).line()

    run(folder, full=False)
    moved = [[320.0, 160.0], [540.0, 510.0]]
    (folder / "00008.json").write_text(json.dumps({"shapes": [shape("boy", "rectangle", moved)]}))
    fresh = copy_bedroom(tmp_path / "fresh", frames=24)
    (fresh / "00060.json").unlink()
    for name in ("00008.json", "00016.json"):
        (fresh / name).write_bytes((folder / name).read_bytes())
    before = {p.name: p.read_bytes() for p in folder.glob("*.json")}

    line = run(folder, full=False)
    assert line.startswith("recomputed 15 of 24 frames")  # boy's frames 1..15
    run(fresh, full=True)
    for path in sorted(folder.glob("*.json")):
        assert path.read_bytes() == (fresh / path.name).read_bytes(), path.name
        if not 1 <= int(path.stem) <= 15:
            assert path.read_bytes() == before[path.name], path.name


def test_tracking_the_mp4_or_its_chunk_folders_equals_tracking_its_frames(
    tmp_path: Path, tiny_sam2
):
    import imageio_ffmpeg

    from labelme_sam2.cli.main import main
    from labelme_sam2.labelme_adapter.chunk import read_video
    from labelme_sam2.labelme_adapter.track_input import open_track_input
    from tests.conftest import REPO, SHARED_BEDROOM

    source = SHARED_BEDROOM if SHARED_BEDROOM.is_dir() else REPO / "examples" / "bedroom"
    video = tmp_path / "bedroom.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (960, 540), fps=25, macro_block_size=1)
    writer.send(None)
    from PIL import Image

    for path in sorted(source.glob("*.jpg"))[:16]:
        writer.send(np.asarray(Image.open(path).convert("RGB")).tobytes())
    writer.close()
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "00003.json").write_text((source / "00000.json").read_text())

    # png: lossless, so both read the very same pixels.
    assert main(["extract", str(video), "--format", "png", "--out", str(tmp_path / "png")]) == 0
    for name in ("00003.json",):
        (tmp_path / "png" / name).write_bytes((prompts / name).read_bytes())

    # The same frames again as two chunk folders of 8, prompted in the first only.
    chunks = tmp_path / "chunks"
    extract = ["extract", str(video), "--format", "png", "--chunk-seconds", "0.32"]
    assert main([*extract, "--out", str(chunks)]) == 0
    first_chunk = chunks / "001_f000000-000007"
    assert sorted(p.name for p in chunks.iterdir()) == [first_chunk.name, "002_f000008-000015"]
    (first_chunk / "00003.json").write_bytes((prompts / "00003.json").read_bytes())

    from_video = read_video(video, prompts_folder=prompts, warn=lambda _: None)
    from_folder = read_folder(tmp_path / "png", warn=lambda _: None)
    from_chunks = open_track_input(chunks, prompts_folder=None, warn=lambda _: None)
    assert len(from_video.frames) == len(from_folder.frames) == len(from_chunks.frames) == 16
    tracker = tracker_module.Sam2Tracker(tiny_sam2)
    expected = list(tracker.track(from_folder.frames, from_folder.prompts))
    assert [r.frame_index for r in expected] == list(range(16))
    for frames, prompts_set in (
        (from_video.frames, from_video.prompts),
        (from_chunks.frames, from_chunks.prompts),
    ):
        got = list(tracker.track(frames, prompts_set))
        assert [r.frame_index for r in got] == list(range(16))
        for x, y in zip(got, expected, strict=True):
            assert list(x.masks) == list(y.masks) == list(from_folder.prompts.objects)
            for key in x.masks:
                assert np.array_equal(x.masks[key], y.masks[key]), (x.frame_index, key)
