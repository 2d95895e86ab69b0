"""Writers against a scripted tracker: every value checked exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from labelme_sam2.core.pipeline import FrameWriter, propagate
from labelme_sam2.core.prompts import ObjectKey, file_safe_names
from labelme_sam2.formats import atomic
from labelme_sam2.formats.labelme_json import TOOL_FLAG, ShapeFormat, is_tool_shape
from labelme_sam2.formats.mask_codec import BoundingBox, decode_mask_crop, polygon_to_mask
from labelme_sam2.labelme_adapter.chunk import LabelmeChunk, read_folder
from labelme_sam2.labelme_adapter.json_writer import LabelmeJsonWriter
from labelme_sam2.render.fills import Fill, fill_masks
from labelme_sam2.writers.mask_pngs import MaskPngWriter
from labelme_sam2.writers.videos import RenderedVideoWriter, masked_drawer
from tests.conftest import folder_bytes
from tests.scripted_tracker import ScriptedTracker, scripted_mask


def track(folder_path: Path, *, shape_format: ShapeFormat = "polygon", extra: bool = False):
    folder = read_folder(folder_path, warn=lambda _: None)
    writers: list[FrameWriter] = [LabelmeJsonWriter(folder, shape_format=shape_format)]
    if extra:
        base = folder.output_base
        writers.append(
            MaskPngWriter(
                folder.frames, list(folder.prompts.objects), folder=base.with_name("bedroom_masks")
            )
        )
        writers.append(
            RenderedVideoWriter(
                folder.frames,
                path=base.with_name("bedroom_masked.mp4"),
                draw=masked_drawer(Fill("white")),
                fps=12,
            )
        )
    propagate(folder.frames, folder.prompts, tracker=ScriptedTracker(), writers=writers)
    return folder


def expected(
    folder: LabelmeChunk, key: ObjectKey, frame_index: int, *, hole: bool = True
) -> np.ndarray:
    i = list(folder.prompts.objects).index(key)
    frames = folder.frames
    return scripted_mask(i, frame_index, width=frames.width, height=frames.height, hole=hole)


def tool_shapes(path: Path) -> list[dict]:
    return [s for s in json.loads(path.read_text())["shapes"] if is_tool_shape(s)]


def test_mask_shapes_hold_the_exact_masks(bedroom: Path):
    folder = track(bedroom, shape_format="mask")
    for frame_index, image in enumerate(folder.source_files):
        shapes = tool_shapes(image.with_suffix(".json"))
        for key in folder.prompts.objects:
            mask = expected(folder, key, frame_index)
            mine = [s for s in shapes if s["label"] == key.label]
            if not mask.any():
                assert mine == []  # hidden: no shape
                continue
            (x0, y0), (x1, y1) = mine[0]["points"]
            box = BoundingBox(int(x0), int(y0), int(x1), int(y1))
            decoded = decode_mask_crop(mine[0]["mask"], box, width=960, height=540)
            assert np.array_equal(decoded, mask)


def test_polygons_outline_the_masks(bedroom: Path):
    folder = track(bedroom)
    for frame_index in (0, 9, 19):
        shapes = tool_shapes(folder.source_files[frame_index].with_suffix(".json"))
        for key in folder.prompts.objects:
            mask = expected(folder, key, frame_index, hole=False)  # polygons have no holes
            drawn = np.zeros_like(mask)
            for s in shapes:
                if s["label"] == key.label and s["group_id"] == key.group_id:
                    assert s["shape_type"] == "polygon" and s["flags"] == {TOOL_FLAG: True}
                    points = [tuple(p) for p in s["points"]]
                    drawn |= polygon_to_mask(points, width=960, height=540)
            if not mask.any():
                assert not drawn.any()
                continue
            assert (drawn & mask).sum() / (drawn | mask).sum() >= 0.98


def test_user_shapes_kept_new_files_made_and_rerun_replaces(bedroom: Path):
    before = json.loads((bedroom / "00000.json").read_text())
    track(bedroom, extra=True)
    after = json.loads((bedroom / "00000.json").read_text())
    assert [s for s in after["shapes"] if not is_tool_shape(s)] == before["shapes"]
    assert {k: v for k, v in after.items() if k != "shapes"} == {
        k: v for k, v in before.items() if k != "shapes"
    }
    new = json.loads((bedroom / "00007.json").read_text())
    assert new["imagePath"] == "00007.jpg" and new["imageData"] is None
    assert (new["imageWidth"], new["imageHeight"]) == (960, 540)
    first = folder_bytes(bedroom)
    track(bedroom, extra=True)
    assert folder_bytes(bedroom) == first  # byte-identical, no shapes added twice


def test_mask_pngs_are_exact(bedroom: Path):
    folder = track(bedroom, extra=True)
    names = file_safe_names(list(folder.prompts.objects))
    root = bedroom.parent / "bedroom_masks"
    for frame_index in (0, 4, 19):
        union = np.zeros((540, 960), dtype=bool)
        for key, name in names.items():
            mask = expected(folder, key, frame_index)
            union |= mask
            png = np.asarray(Image.open(root / name / f"{frame_index:05d}.png"))
            assert png.dtype == np.uint8 and set(np.unique(png)) <= {0, 255}
            assert np.array_equal(png == 255, mask)
        combined = np.asarray(Image.open(root / f"{frame_index:05d}.png"))
        assert np.array_equal(combined == 255, union)


def test_masked_video_reads_back(bedroom: Path):
    folder = track(bedroom, extra=True)
    video = bedroom.parent / "bedroom_masked.mp4"
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = reader.__next__()
    assert meta["size"] == (960, 540) and meta["fps"] == 12 and "h264" in meta["codec"]
    frames = [np.frombuffer(f, np.uint8).reshape(540, 960, 3) for f in reader]
    assert len(frames) == 20
    inside = expected(folder, ObjectKey("boy", None), 3)
    inner = np.zeros_like(inside)
    inner[inside] = True
    inner[1:-1, 1:-1] &= inside[:-2, 1:-1] & inside[2:, 1:-1]  # away from edges (chroma blur)
    assert frames[3][inner].mean() > 250
    assert not list(bedroom.parent.glob(".bedroom_masked*"))  # no temp file left


def test_avg_fill_is_each_regions_mean_colour():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    a = np.zeros((10, 12), dtype=bool)
    a[2:5, 3:9] = True
    filled = fill_masks(rgb, [a, np.zeros_like(a)], fill=Fill("avg"))
    assert np.array_equal(filled[a], np.tile(rgb[a].mean(axis=0).round().astype(np.uint8), (18, 1)))
    assert np.array_equal(filled[~a], rgb[~a])


def test_crash_between_two_writes_leaves_no_torn_file(bedroom: Path, monkeypatch):
    track(bedroom)  # every frame has our file now
    old = folder_bytes(bedroom)
    calls = {"n": 0}
    real_replace = os.replace

    def replace_then_die(src, dst):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # killed half-way through the run
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        track(bedroom, shape_format="mask")
    monkeypatch.undo()
    new_style = 0
    for name, data in folder_bytes(bedroom).items():
        assert not Path(name).name.startswith(".")  # no temp file left behind
        if name.endswith(".json"):
            json.loads(data)  # never torn
            assert data == old[name] or b'"shape_type": "mask"' in data
            new_style += data != old[name]
    assert new_style == 3


def test_per_frame_layers_skip_fsync_and_one_sync_comes_before_the_record(
    bedroom: Path, monkeypatch
):
    """Issue 15: files a run recomputes are not synced one by one; LabelMe files (the user's)
    and one-off files are; the run record comes last, after one sync(2) of everything."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file is being synced")
    from tests.outputs_helpers import track_scripted

    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "sync", lambda: events.append("sync(2)"))
    track_scripted(bedroom, layers=("png", "davis", "yolo"))
    monkeypatch.undo()
    synced = {".".join(name.split(".")[1:3]) for name in events[:-2]}  # .NAME.EXT.XXXX.tmp
    assert synced == {"objects.csv", "data.yaml", *(f"{i:05d}.json" for i in range(20))}
    assert events[-2] == "sync(2)" and events[-1].startswith(".run.json.")
    per_frame = [*(bedroom.parent / "bedroom_masks").rglob("*.png")]
    per_frame += [*(bedroom.parent / "bedroom_davis").glob("*.png")]
    per_frame += [*(bedroom / ".labelme-sam2" / "masks").glob("*.bin")]
    assert len(per_frame) == 20 * 5  # written, whole, none of them synced on its own


def test_without_sync2_each_file_is_fsynced(tmp_path: Path, monkeypatch):
    paths = [tmp_path / "a.bin", tmp_path / "b.bin"]
    synced: list[int] = []
    monkeypatch.setattr(atomic.os, "fsync", synced.append)
    for path in paths:
        assert atomic.write_atomically(path, b"mask bits", durable=False)
    assert synced == []
    monkeypatch.delattr(atomic.os, "sync")  # Windows
    atomic.sync_to_disk([*paths, tmp_path / "gone.bin"])
    assert len(synced) == 2


def test_per_frame_files_are_encoded_on_the_pool_and_written_in_order(bedroom: Path, monkeypatch):
    """Issue 15: LabelMe files, mask PNGs, DAVIS and YOLO are encoded several frames at once on
    the pipeline's pool (threads named prepare*), the video on its lane's thread only; each
    kind's files are written in frame order."""
    import threading

    from labelme_sam2.writers import mask_pngs, videos
    from tests.outputs_helpers import track_scripted

    encoded_on: set[str] = set()
    drawn_on: set[str] = set()
    written: list[str] = []
    real_png, real_write = mask_pngs.png_bytes, atomic.write_atomically

    def png_bytes(mask):
        encoded_on.add(threading.current_thread().name)
        return real_png(mask)

    def write_atomically(path: Path, data: bytes, **kwargs) -> bool:
        written.append(path.name if path.suffix == ".json" else "")
        return real_write(path, data, **kwargs)

    real_masked = videos.masked_drawer

    def masked_drawer(fill):
        draw = real_masked(fill)

        def recorded(rgb, result):
            drawn_on.add(threading.current_thread().name)
            return draw(rgb, result)

        return recorded

    monkeypatch.setattr(mask_pngs, "png_bytes", png_bytes)
    monkeypatch.setattr(
        "labelme_sam2.labelme_adapter.json_writer.write_atomically", write_atomically
    )
    monkeypatch.setattr("labelme_sam2.outputs.masked_drawer", masked_drawer)
    track_scripted(bedroom, layers=("png", "davis", "yolo"), videos=("masked",))
    assert encoded_on and all(name.startswith("prepare") for name in encoded_on)
    assert drawn_on and not any(name.startswith("prepare") for name in drawn_on)
    assert [name for name in written if name] == [f"{i:05d}.json" for i in range(20)]
