"""`labelme-sam2 extract`: files, manifests, selection and chunks, on the shared clips."""

from __future__ import annotations

import math
import re
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.video.manifest import (
    MANIFEST_NAME,
    ManifestSource,
    read_manifest,
)
from labelme_sam2.video.probe import probe_video
from labelme_sam2.video.reader import VideoFrames
from tests.extract_helpers import (
    DOG,
    DOG_FRAME_TIME,
    HUMMINGBIRD,
    assert_is_frame,
    dog_frames_between,
    extract,
    folder_files,
    load,
)
from tests.test_video_reader import make_vfr_clip, needs_videos


@needs_videos
def test_all_frames_go_beside_the_video_with_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "clip.mp4"
    shutil.copyfile(HUMMINGBIRD, video)
    code, out, err = extract(capsys, video)
    assert (code, err) == (0, "")
    folder = tmp_path / "clip"  # the video's path without its suffix
    assert re.fullmatch(rf"extracted 176 frames into 1 folder in \d+\.\d s: {folder}\n", out)
    assert folder_files(folder) == [f"{i:05d}.jpg" for i in range(176)] + [MANIFEST_NAME]

    manifest = read_manifest(folder / MANIFEST_NAME)
    info = probe_video(video)
    assert manifest["complete"] is True and manifest["chunk"] is None
    assert manifest["source"] == ManifestSource(
        path=str(video.resolve()),
        name="clip.mp4",
        fps=24.0,
        fps_exact="24",
        frame_count=176,
        width=1280,
        height=720,
    )
    assert [f["file"] for f in manifest["frames"]] == [f"{i:05d}.jpg" for i in range(176)]
    assert [f["source_frame"] for f in manifest["frames"]] == list(range(176))
    timestamps = [f["timestamp"] for f in manifest["frames"]]
    assert timestamps == list(info.timestamps) == [i / 24 for i in range(176)]
    with VideoFrames(video, info=info) as frames:
        for source in (0, 1, 175):
            assert_is_frame(load(folder / f"{source:05d}.jpg"), frames, source)


@needs_videos
def test_three_second_chunks_split_the_dog_clip_without_losing_or_repeating_a_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dog"
    code, stdout, err = extract(capsys, DOG, "--out", out, "--chunk-seconds", 3)
    assert (code, err) == (0, "")
    assert stdout.startswith("extracted 289 frames into 4 folders in ")

    groups: dict[int, list[int]] = {}
    for k in range(289):
        groups.setdefault(math.floor(k * DOG_FRAME_TIME / 3), []).append(k)
    expected = [f"{n:03d}_f{g[0]:06d}-{g[-1]:06d}" for n, g in enumerate(groups.values(), 1)]
    assert expected == [
        "001_f000000-000089",
        "002_f000090-000179",
        "003_f000180-000269",
        "004_f000270-000288",
    ]
    assert folder_files(out) == expected

    sources: list[int] = []
    firsts_and_lasts: list[tuple[Path, int]] = []
    for number, (name, group) in enumerate(zip(expected, groups.values(), strict=True), 1):
        manifest = read_manifest(out / name / MANIFEST_NAME)
        chunk = manifest["chunk"]
        assert chunk is not None and (chunk["number"], chunk["count"]) == (number, 4)
        assert (chunk["start_seconds"], chunk["end_seconds"]) == (3.0 * (number - 1), 3.0 * number)
        assert [f["source_frame"] for f in manifest["frames"]] == group
        files = [f"{i:05d}.jpg" for i in range(len(group))]
        assert [f["file"] for f in manifest["frames"]] == files
        assert folder_files(out / name) == [*files, MANIFEST_NAME]
        assert all(
            chunk["start_seconds"] <= f["timestamp"] < chunk["end_seconds"]
            for f in manifest["frames"]
        )
        sources += group
        firsts_and_lasts += [(out / name / files[0], group[0]), (out / name / files[-1], group[-1])]
    assert sources == list(range(289))

    with VideoFrames(DOG) as frames:
        for path, source in firsts_and_lasts:
            assert_is_frame(load(path), frames, source)


@needs_videos
def test_png_frames_at_chunk_edges_are_the_source_frames_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dog"
    options = ["--start", 2.8, "--end", 3.2, "--chunk-seconds", 0.2, "--format", "png"]
    code, _, err = extract(capsys, DOG, "--out", out, *options)
    assert (code, err) == (0, "")
    # Frame k is at k * 1001/30000 s: [2.8, 3.0) holds frames 84-89 and [3.0, 3.2) 90-95.
    assert folder_files(out) == ["001_f000084-000089", "002_f000090-000095"]
    sources: list[int] = []
    with VideoFrames(DOG) as frames:
        for folder in sorted(out.iterdir()):
            manifest = read_manifest(folder / MANIFEST_NAME)
            for entry in manifest["frames"]:
                png = load(folder / entry["file"])
                assert np.array_equal(png, frames.read_rgb(entry["source_frame"])), entry
                sources.append(entry["source_frame"])
        # The edge frames differ from their neighbours, so a shift by one would show.
        assert not np.array_equal(frames.read_rgb(89), frames.read_rgb(90))
    assert sources == list(range(84, 96))


@needs_videos
@pytest.mark.parametrize(
    ("options", "sources"),
    [
        (["--start", 1, "--end", 2], dog_frames_between(Fraction(1), Fraction(2))),
        (
            ["--start", 1, "--end", 2, "--every", 4],
            dog_frames_between(Fraction(1), Fraction(2))[::4],
        ),
        # 10 of 29.97 frames a second: every third frame, the first at or after each 0.1 s step.
        (["--start", 1, "--end", 3, "--fps", 10], list(range(30, 90, 3))),
        (
            ["--start", 0.2, "--end", 0.5, "--fps", 100],
            dog_frames_between(Fraction(1, 5), Fraction(1, 2)),
        ),
    ],
)
def test_start_end_every_and_fps_choose_the_source_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[object], sources: list[int]
) -> None:
    out = tmp_path / "dog"
    code, _, err = extract(capsys, DOG, "--out", out, *options)
    assert code == 0
    if "--fps" in options and 100 in options:
        assert err == (
            "labelme-sam2: warning: --fps 100.0 is above the video's 29.970 fps; "
            "keeping every frame\n"
        )
    else:
        assert err == ""
    manifest = read_manifest(out / MANIFEST_NAME)
    assert [f["source_frame"] for f in manifest["frames"]] == sources
    info = probe_video(DOG)
    assert [f["timestamp"] for f in manifest["frames"]] == [info.timestamps[s] for s in sources]
    assert folder_files(out) == [f"{i:05d}.jpg" for i in range(len(sources))] + [MANIFEST_NAME]
    if "--every" in options:
        with VideoFrames(DOG, info=info) as frames:
            for entry in manifest["frames"]:
                assert_is_frame(load(out / entry["file"]), frames, entry["source_frame"])


def test_variable_frame_rate_manifest_follows_the_pts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "vfr.mp4"
    pts_ms = make_vfr_clip(video)
    code, _, err = extract(capsys, video, "--format", "png")
    assert (code, err) == (0, "")
    manifest = read_manifest(tmp_path / "vfr" / MANIFEST_NAME)
    assert [f["timestamp"] for f in manifest["frames"]] == [
        float(Fraction(ms, 1000)) for ms in pts_ms
    ]
    for entry in manifest["frames"]:
        level = load(tmp_path / "vfr" / entry["file"]).astype(float).mean()
        assert abs(level - 8 * entry["source_frame"]) < 3
