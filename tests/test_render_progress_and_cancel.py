"""`render --progress json` (what the app's Export reads) and a cancelled render: a signal
stops it after the frame being written, every file old or new."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from labelme_sam2.cli import render as render_command
from labelme_sam2.cli.main import main
from tests.conftest import folder_bytes
from tests.outputs_helpers import track_with_outputs

FLAGS = ["--video", "masked", "--export", "png"]
DONE_FIELDS = {"event", "cancelled", "frames", "frames_written", "outputs", "summary"}


def test_render_progress_json_is_a_line_per_frame_and_a_done_event(bedroom: Path, capsys):
    track_with_outputs(bedroom)
    capsys.readouterr()

    assert main(["render", str(bedroom), *FLAGS, "--progress", "json"]) == 0

    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.err.splitlines()]
    progress = [event for event in events if event["event"] == "progress"]
    assert [event["done"] for event in progress] == list(range(1, 21))
    assert {event["total"] for event in progress} == {20}
    done = events[-1]
    assert set(done) == DONE_FIELDS
    video = bedroom.parent / "bedroom_masked.mp4"
    assert done["cancelled"] is False and done["frames"] == done["frames_written"] == 20
    assert str(video) in done["outputs"] and video.is_file()
    assert done["summary"] == captured.out.strip()
    warnings = [event["message"] for event in events if event["event"] == "warning"]
    assert warnings == [f"{bedroom / '00060.json'}: no frame named 00060.jpg/.png beside it; "
                        "file ignored"]  # fmt: skip
    assert [event["event"] for event in events] == ["warning"] + ["progress"] * 20 + ["done"]


def test_a_signal_stops_render_after_the_frame_being_written(bedroom: Path, monkeypatch, capsys):
    track_with_outputs(bedroom)
    assert main(["render", str(bedroom), *FLAGS]) == 0
    before = folder_bytes(bedroom)
    real_render = render_command.render

    def render_signalled_at_frame_5(*args, on_progress, **kwargs):
        def progress(done: int, total: int) -> None:
            on_progress(done, total)
            if done == 5:  # as Ctrl-C, or the app's Cancel, would
                os.kill(os.getpid(), signal.SIGINT)

        return real_render(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(render_command, "render", render_signalled_at_frame_5)
    capsys.readouterr()

    assert main(["render", str(bedroom), *FLAGS, "--fill", "white", "--progress", "json"]) == 130

    captured = capsys.readouterr()
    done = json.loads(captured.err.splitlines()[-1])
    assert done["cancelled"] is True and done["outputs"] == []
    assert 5 <= done["frames_written"] < 20
    assert captured.out.strip() == done["summary"]
    assert done["summary"].startswith(f"render cancelled after {done['frames_written']} of 20")
    after = folder_bytes(bedroom)
    assert after.keys() == before.keys()  # no temp file left, nothing removed
    # the masked video is the old one: the new fill was never renamed into place
    assert after["bedroom_masked.mp4"] == before["bedroom_masked.mp4"]
