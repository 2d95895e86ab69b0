"""`track` on its three inputs (frame folder, video + prompts folder, chunk folders) and
correction re-runs, checked exactly against the scripted tracker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from labelme_sam2.errors import InputError
from labelme_sam2.formats.labelme_json import is_tool_shape
from labelme_sam2.labelme_adapter.track_input import open_track_input
from tests.conftest import labelme_file, shape
from tests.outputs_helpers import track_scripted
from tests.scripted_tracker import ScriptedTracker

W, H = 120, 80


def run_track(path: Path, tracker: ScriptedTracker | None = None, **options) -> str:
    """labelme_sam2.api.track with the scripted tracker, masks as LabelMe mask shapes and
    PNGs unless `options` say otherwise; the summary line."""
    defaults = {"shapes": "mask", "layers": ("png",)}
    return track_scripted(path, tracker=tracker, **(defaults | options)).line()


def box_file(label: str, x: float, *, image: str) -> str:
    shapes = [shape(label, "rectangle", [[x, 10.0], [x + 30.0, 60.0]])]
    return json.dumps(labelme_file(shapes, image=image, width=W, height=H))


def tool_labels(path: Path) -> list[str]:
    return [s["label"] for s in json.loads(path.read_text())["shapes"] if is_tool_shape(s)]


def noise_frames(folder: Path, count: int, *, seed: int = 0) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(
            folder / f"{i:05d}.png"
        )


def test_chunk_folders_track_as_one_video_and_write_per_chunk(tmp_path: Path):
    parent = tmp_path / "clip"
    first, second = parent / "001_f000000-000004", parent / "002_f000005-000009"
    noise_frames(first, 5)
    noise_frames(second, 5, seed=1)
    (first / "00002.json").write_text(box_file("car", 20, image="00002.png"))

    track_input = open_track_input(parent, prompts_folder=None, warn=lambda _: None)
    assert len(track_input.frames) == 10 and track_input.offsets == (0, 5)
    tracker = ScriptedTracker()
    line = run_track(parent, tracker)

    assert tracker.calls == 1 and tracker.object_frames == 10  # straight through, one pass
    for folder in (first, second):
        assert sorted(p.name for p in folder.glob("*.json")) == [f"{i:05d}.json" for i in range(5)]
        assert all(tool_labels(p) == ["car"] for p in folder.glob("*.json"))
        assert len(list((folder.parent / f"{folder.name}_masks" / "car").glob("*.png"))) == 5
    assert "in 2 chunk folders" in line
    assert (parent / ".labelme-sam2" / "run.json").is_file()


def test_a_video_with_a_prompts_folder(tmp_path: Path):
    video = tmp_path / "walk.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (W, H), fps=10, macro_block_size=1)
    writer.send(None)
    rng = np.random.default_rng(3)
    for _ in range(12):
        writer.send(rng.integers(0, 255, (H, W, 3), dtype=np.uint8).tobytes())
    writer.close()
    prompts = tmp_path / "walk_prompts"
    prompts.mkdir()
    (prompts / "4.json").write_text(box_file("dog", 40, image="whatever.jpg"))

    run_track(video, prompts=prompts, videos=("masked",))

    written = sorted(p.name for p in prompts.glob("*.json"))
    assert written == sorted(["4.json", *(f"{i:05d}.json" for i in range(12) if i != 4)])
    assert json.loads((prompts / "00007.json").read_text())["imagePath"] == "00007.jpg"
    assert json.loads((prompts / "4.json").read_text())["imagePath"] == "whatever.jpg"
    assert len(list((tmp_path / "walk_masks" / "dog").glob("*.png"))) == 12
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "walk_masked.mp4"))
    meta = next(reader)
    assert meta["fps"] == 10 and sum(1 for _ in reader) == 12

    with pytest.raises(InputError, match="needs --prompts"):
        open_track_input(video, prompts_folder=None, warn=lambda _: None)
    (prompts / "00099.json").write_text(box_file("dog", 40, image="x.jpg"))
    warnings: list[str] = []
    open_track_input(video, prompts_folder=prompts, warn=warnings.append)
    assert any("00099.json: not a frame number of walk.mp4 (0..11)" in w for w in warnings)


def test_a_correction_recomputes_only_the_touched_span(tmp_path: Path):
    folder = tmp_path / "frames"
    noise_frames(folder, 30)
    for frame in (0, 10, 20):
        (folder / f"{frame:05d}.json").write_text(box_file("car", 20, image=f"{frame:05d}.png"))
    (folder / "00005.json").write_text(box_file("bus", 60, image="00005.png"))

    def run(identity: str = "s", **options) -> tuple[ScriptedTracker, str]:
        tracker = ScriptedTracker()
        return tracker, run_track(folder, tracker, identity=identity, **options)

    tracker, line = run()
    assert tracker.object_frames == 60 and line.startswith("tracked 30 frames x 2 objects")
    tracker, line = run()
    assert tracker.object_frames == 0
    assert line.startswith("recomputed 0 of 30 frames") and "(0 changed)" in line

    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}
    (folder / "00010.json").write_text(box_file("car", 25, image="00010.png"))  # moved box
    tracker, line = run()
    # car's segments 0->10 and 10->20 plus keyframe 10: frames 1..19, car only.
    assert tracker.object_frames == 19
    assert line.startswith("recomputed 19 of 30 frames")
    after = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}
    untouched = [name for name in before if name not in ("00010.json",)]
    outside = [n for n in untouched if not 1 <= int(n[:5]) <= 19]
    assert outside and all(after[n] == before[n] for n in outside)

    (folder / "00010.json").unlink()  # a keyframe deleted: car runs 0 -> 20 in one segment
    tracker, line = run()
    assert tracker.object_frames == 19
    assert tool_labels(folder / "00010.json") == ["car", "bus"]  # made again, car from 0 -> 20

    tracker, line = run(full=True)
    assert tracker.object_frames == 60
    tracker, line = run(identity="another model")  # other masks: nothing can be kept
    assert tracker.object_frames == 60
    tracker, line = run(identity="another model")
    assert tracker.object_frames == 0


def test_a_failed_run_leaves_no_record_to_trust(tmp_path: Path):
    folder = tmp_path / "frames"
    noise_frames(folder, 6)
    (folder / "00000.json").write_text(box_file("car", 20, image="00000.png"))
    run_track(folder)

    class Failing(ScriptedTracker):
        def track(self, frames, prompts, *, plan=None, after_step=None):
            yield from list(super().track(frames, prompts, plan=plan))[:2]
            raise RuntimeError("out of memory")

    (folder / "00003.json").write_text(box_file("car", 30, image="00003.png"))
    with pytest.raises(RuntimeError):
        run_track(folder, Failing())
    assert not (folder / ".labelme-sam2" / "run.json").exists()
    tracker = ScriptedTracker()
    run_track(folder, tracker)
    assert tracker.object_frames == 6  # everything again
    assert sorted(os.listdir(folder / ".labelme-sam2" / "masks")) == [
        f"{i:06d}.bin" for i in range(6)
    ]


def test_a_full_disk_is_one_error_and_leaves_no_torn_file(tmp_path: Path, monkeypatch):
    import errno

    from labelme_sam2.errors import OutputError

    folder = tmp_path / "frames"
    noise_frames(folder, 8)
    (folder / "00000.json").write_text(box_file("car", 20, image="00000.png"))
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 9:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OutputError, match=r"cannot write \(No space left on device\)"):
        run_track(folder)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for path in folder.glob("*.json"):
        json.loads(path.read_text())  # each file old or new, never half
    assert not (folder / ".labelme-sam2" / "run.json").exists()


def test_replaced_frames_or_a_damaged_store_recompute_everything(tmp_path: Path):
    folder = tmp_path / "frames"
    noise_frames(folder, 6)
    (folder / "00000.json").write_text(box_file("car", 20, image="00000.png"))

    def object_frames() -> int:
        tracker = ScriptedTracker()
        run_track(folder, tracker)
        return tracker.object_frames

    assert object_frames() == 6
    assert object_frames() == 0
    (folder / "00003.png").write_bytes((folder / "00004.png").read_bytes())  # new pixels
    assert object_frames() == 6
    (folder / ".labelme-sam2" / "masks" / "000002.bin").unlink()
    assert object_frames() == 6
    assert object_frames() == 0
