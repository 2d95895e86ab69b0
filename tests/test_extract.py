"""`labelme-sam2 extract`: files, manifests, selection, chunks and failures, on the shared clips."""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelme_sam2.cli.main import main
from labelme_sam2.errors import InputError
from labelme_sam2.formats import atomic
from labelme_sam2.video.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestFrame,
    ManifestSource,
    read_manifest,
    write_manifest,
)
from labelme_sam2.video.probe import probe_video
from labelme_sam2.video.reader import VideoFrames
from tests.test_video_reader import VIDEOS, make_vfr_clip, needs_videos

DOG = VIDEOS / "01_dog.mp4"
HUMMINGBIRD = VIDEOS / "02_hummingbird.mp4"
DOG_FRAME_TIME = Fraction(1001, 30000)  # 29.97 fps


def extract(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["extract", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("labelme-sam2: error: "), err
    return lines[0].removeprefix("labelme-sam2: error: ")


def dog_frames_between(start: Fraction, end: Fraction) -> list[int]:
    return [k for k in range(289) if start <= k * DOG_FRAME_TIME < end]


def load(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_is_frame(jpg: np.ndarray, frames: VideoFrames, source: int) -> None:
    """A JPEG is closer to its source frame than to the frames either side of it."""
    own = mean_difference(jpg, frames.read_rgb(source))
    assert own < 2.5, (source, own)
    for other in (source - 1, source + 1):
        if 0 <= other < len(frames):
            assert own < mean_difference(jpg, frames.read_rgb(other)), (source, other)


def folder_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


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


@needs_videos
def test_a_start_past_the_end_or_an_end_before_the_start_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dog"
    code, _, err = extract(capsys, DOG, "--out", out, "--start", 20)
    assert code == 2
    assert error_line(err) == (
        f"{DOG}: --start 20.0 s is at or after the end of the video, which is 9.643 s long"
    )
    code, _, err = extract(capsys, DOG, "--out", out, "--start", 3, "--end", 2)
    assert code == 2
    assert error_line(err) == "--end: 2.0 s must be after --start 3.0 s"
    code, _, err = extract(capsys, DOG, "--out", out, "--start", -1)
    assert code == 2
    assert error_line(err) == "--start: must be 0 or more seconds, not -1.0"
    assert not out.exists()
    with pytest.raises(SystemExit) as exited:
        main(["extract", str(DOG), "--every", "2", "--fps", "10"])
    assert exited.value.code == 2


def test_a_file_that_is_no_video_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "notes.mp4"
    video.write_text("shopping list\n")
    code, _, err = extract(capsys, video)
    assert code == 2
    assert error_line(err).startswith(f"{video}: not a video that can be read (")
    assert not (tmp_path / "notes").exists()


def assert_whole_frames_as_listed(folder: Path) -> Manifest:
    """No temp file; every image decodes; the manifest lists exactly the images there."""
    manifest = read_manifest(folder / MANIFEST_NAME)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]
    images = sorted(p.name for p in folder.glob("*.jpg"))
    assert [f["file"] for f in manifest["frames"]] == images
    for name in images:
        with Image.open(folder / name) as image:
            image.load()  # raises on a truncated file
            assert image.size == (1280, 720)
    return manifest


@needs_videos
def test_a_truncated_video_stops_at_the_missing_frame_and_keeps_whole_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "cut.mp4"
    data = DOG.read_bytes()
    video.write_bytes(data[: len(data) // 4])
    out = tmp_path / "out"
    code, _, err = extract(capsys, video, "--out", out)
    assert code == 2
    line = error_line(err)
    found = re.fullmatch(rf"{re.escape(str(video))}: frame (\d+): .*", line)
    assert found, line
    manifest = assert_whole_frames_as_listed(out)
    assert manifest["complete"] is False
    written = [f["source_frame"] for f in manifest["frames"]]
    assert written == list(range(len(written))) and 10 < len(written) <= int(found[1])


@needs_videos
def test_a_copy_cut_between_packets_writes_what_is_there_then_names_the_first_missing_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import av

    with av.open(str(DOG)) as container:
        positions = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    video = tmp_path / "cut.mp4"
    video.write_bytes(DOG.read_bytes()[: positions[100]])
    out = tmp_path / "out"
    code, _, err = extract(capsys, video, "--out", out, "--start", 3)
    assert code == 2
    assert error_line(err) == (
        f"{video}: frame 100: the file ends after 100 frames but its header lists 289 "
        "(truncated copy?)"
    )
    manifest = assert_whole_frames_as_listed(out)
    assert manifest["complete"] is False
    assert [f["source_frame"] for f in manifest["frames"]] == list(range(90, 100))


@needs_videos
def test_a_full_disk_leaves_no_partial_file_and_a_rerun_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file is being synced")
    out = tmp_path / "dog"
    real_fsync = os.fsync
    frame_syncs = 0
    lock = threading.Lock()

    def fsync(fd: int) -> None:
        nonlocal frame_syncs
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if ".jpg." in name:  # write_atomically's temp file .00004.jpg.XXXX.tmp
            with lock:
                frame_syncs += 1
                full = frame_syncs == 5
            if full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    code, _, err = extract(capsys, DOG, "--out", out, "--end", 0.5)
    monkeypatch.undo()
    assert code == 2
    line = error_line(err)
    found = re.fullmatch(
        rf"({re.escape(str(out))}/\d{{5}}\.jpg): cannot write \(No space left on device\)", line
    )
    assert found, line
    assert not Path(found[1]).exists()
    manifest = assert_whole_frames_as_listed(out)
    failed = int(Path(found[1]).stem)
    written = [f["source_frame"] for f in manifest["frames"]]
    # Every frame before the failed one is there; writes already under way when it failed
    # (in other threads) may have finished too.
    assert manifest["complete"] is False and failed not in written
    assert written[:failed] == list(range(failed)) and len(written) < 15

    code, _, err = extract(capsys, DOG, "--out", out, "--end", 0.5)
    assert (code, err) == (0, "")
    manifest = assert_whole_frames_as_listed(out)
    assert manifest["complete"] is True and len(manifest["frames"]) == 15


@needs_videos
def test_a_rerun_rewrites_its_own_folder_and_other_folders_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bird"
    assert extract(capsys, HUMMINGBIRD, "--out", out, "--end", 1)[0] == 0
    assert len(list(out.glob("*.jpg"))) == 24
    (out / "00000.json").write_text("{}")  # a LabelMe file the user made meanwhile

    code, _, err = extract(capsys, HUMMINGBIRD, "--out", out, "--end", 0.5, "--every", 2)
    assert (code, err) == (0, "")
    assert folder_files(out) == sorted(
        [f"{i:05d}.jpg" for i in range(6)] + ["00000.json", MANIFEST_NAME]
    )
    manifest = read_manifest(out / MANIFEST_NAME)
    assert [f["source_frame"] for f in manifest["frames"]] == [0, 2, 4, 6, 8, 10]

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = extract(capsys, DOG, "--out", out, "--end", 0.2)
    assert code == 2
    assert error_line(err) == (
        f"{out}: holds frames extracted from 02_hummingbird.mp4, not 01_dog.mp4; "
        "choose another --out or empty it"
    )
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, err = extract(capsys, DOG, "--out", other, "--end", 0.2)
    assert code == 2
    assert error_line(err) == (
        f"{other}: is not empty and is no extract of 01_dog.mp4 (no manifest.json of it); "
        "choose another --out or empty it"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert folder_files(other) == ["notes.txt"]


def test_read_manifest_checks_what_it_reads(tmp_path: Path) -> None:
    manifest = Manifest(
        format="labelme-sam2-frames",
        version=1,
        complete=True,
        source=ManifestSource(
            path="/v/clip.mp4",
            name="clip.mp4",
            fps=30.0,
            fps_exact="30",
            frame_count=9,
            width=4,
            height=2,
        ),
        chunk=None,
        frames=[
            ManifestFrame(file="00000.jpg", source_frame=3, timestamp=0.1),
            ManifestFrame(file="00001.jpg", source_frame=5, timestamp=1 / 6),
        ],
    )
    path = write_manifest(tmp_path, manifest)
    assert read_manifest(path) == manifest

    text = path.read_text()
    path.write_text(text.replace('"source_frame": 5', '"source_frame": 3'))
    with pytest.raises(InputError) as caught:
        read_manifest(path)
    assert str(caught.value) == (
        f"{path}: not a labelme-sam2-frames manifest: frames[1].source_frame does not increase"
    )
    path.write_text(text.replace('"00001.jpg"', '"../00001.jpg"'))
    with pytest.raises(InputError, match=r"frames\[1\]\.file '\.\./00001\.jpg' is not a plain"):
        read_manifest(path)
    path.write_text(text.replace('"frame_count": 9', '"frame_count": true'))
    with pytest.raises(InputError, match=r"source\.frame_count is missing or not a whole number"):
        read_manifest(path)
    path.write_text(text[:40])
    with pytest.raises(InputError, match="not a readable manifest"):
        read_manifest(path)
