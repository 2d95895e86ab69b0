"""`extract --progress json` (what the app's Open video reads): a progress event per frame file
written, then a done event naming the folders; a bad video is one error event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.extract_helpers import HUMMINGBIRD, extract
from tests.test_video_reader import needs_videos


def events_of(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines()]


@needs_videos
def test_a_progress_event_per_frame_then_done_with_the_chunk_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bird"
    code, printed, err = extract(
        capsys, HUMMINGBIRD, "--out", out, "--end", 1, "--chunk-seconds", 0.5, "--progress", "json"
    )

    assert code == 0
    events = events_of(err)
    progress, done = events[:-1], events[-1]
    frames = len(list(out.rglob("*.jpg")))
    assert [event["event"] for event in progress] == ["progress"] * frames
    assert [event["done"] for event in progress] == list(range(1, frames + 1))
    assert {event["total"] for event in progress} == {frames}
    folders = sorted(str(path) for path in out.iterdir() if path.is_dir())
    assert len(folders) == 2
    assert done == {
        "event": "done",
        "cancelled": False,
        "frames": frames,
        "folders": folders,
        "summary": printed.strip(),
    }


def test_a_file_that_is_no_video_is_one_error_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("hello")
    code, printed, err = extract(capsys, notes, "--progress", "json")
    assert code == 2 and printed == ""
    [event] = events_of(err)
    assert event["event"] == "error" and event["message"].startswith(f"{notes}: ")
    assert not (tmp_path / "notes").exists()
