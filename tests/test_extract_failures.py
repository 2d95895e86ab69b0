"""`labelme-sam2 extract` on bad input: one clear line, whole frames only, no partial file."""

from __future__ import annotations

import errno
import os
import re
import threading
from pathlib import Path

import pytest
from PIL import Image

from labelme_sam2.cli.main import main
from labelme_sam2.errors import InputError
from labelme_sam2.formats import atomic
from labelme_sam2.video import extract as extract_module
from labelme_sam2.video.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestFrame,
    ManifestSource,
    read_manifest,
    write_manifest,
)
from tests.extract_helpers import (
    DOG,
    HUMMINGBIRD,
    error_line,
    extract,
    folder_files,
)
from tests.test_video_reader import needs_videos


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
        pytest.skip("needs /proc to tell which file is being written")
    out = tmp_path / "dog"
    real_fdopen = os.fdopen
    frame_writes = 0
    lock = threading.Lock()

    def fdopen(fd: int, *args, **kwargs):
        nonlocal frame_writes
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if ".jpg." in name:  # write_atomically's temp file .00004.jpg.XXXX.tmp
            with lock:
                frame_writes += 1
                full = frame_writes == 5
            if full:
                os.close(fd)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
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
def test_frames_are_synced_once_before_the_manifest_that_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No disk flush per frame (milliseconds each), yet every frame a manifest lists is on
    disk before it: one sync(2) comes between a folder's last frame and its manifest."""
    if not hasattr(os, "sync"):
        pytest.skip("no sync(2) here: each file is synced instead")
    events: list[str] = []
    lock = threading.Lock()
    real_sync, real_fsync, real_write_frame = os.sync, os.fsync, extract_module._write_frame
    real_write_manifest = extract_module.write_manifest

    def note(event: str) -> None:
        with lock:
            events.append(event)

    def sync() -> None:
        note("sync")
        real_sync()

    def fsync(fd: int) -> None:
        note("fsync")
        real_fsync(fd)

    def write_frame(*args, **kwargs) -> None:
        real_write_frame(*args, **kwargs)
        note("frame")

    def write_manifest(folder: Path, manifest) -> None:
        note(f"manifest {len(manifest['frames'])}")
        real_write_manifest(folder, manifest)

    monkeypatch.setattr(atomic.os, "sync", sync)
    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(extract_module, "_write_frame", write_frame)
    monkeypatch.setattr(extract_module, "write_manifest", write_manifest)
    code, _, err = extract(
        capsys, DOG, "--out", tmp_path / "dog", "--end", 1, "--chunk-seconds", 0.5
    )
    assert (code, err) == (0, "")

    frames = events.count("frame")
    manifests = [i for i, event in enumerate(events) if event.startswith("manifest")]
    assert frames >= 20 and len(manifests) == 4  # 2 folders: a claim, then the list
    for i in manifests:
        listed = int(events[i].split()[1])
        before = [event for event in events[:i] if event in ("frame", "sync")]
        if listed:  # the last thing before a manifest that lists frames is a sync
            assert before[-1] == "sync", events
    # write_manifest's own durable write flushes the manifest: one fsync per manifest only.
    assert events.count("fsync") == len(manifests)


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
