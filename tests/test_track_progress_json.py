"""`track --progress json` as the LabelMe desktop app runs it: a subprocess whose stderr is one
JSON object per line, that a signal cancels after the current frame (exit code 130)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from labelme_sam2.cli.cancel_signals import cancel_on_signals
from labelme_sam2.cli.main import main
from labelme_sam2.cli.progress_json import JsonEvents, ProgressEvents, json_events_on_stderr
from tests.conftest import REPO, copy_bedroom

RANDOM_TINY = [
    "--model", "sam2.1_hiera_tiny", "--checkpoint", "random", "--image-size", "256",
    "--device", "cpu",
]  # fmt: skip
ENV = {**os.environ, "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS": "1"}
FRAMES = 12
FIELDS = {
    "progress": {"event", "done", "total", "frames_per_second", "seconds_left"},
    "warning": {"event", "message"},
    "error": {"event", "message"},
    "done": {
        "event", "cancelled", "frames", "frames_written", "labelme_files_written",
        "labelme_files_changed", "recomputed_frames", "not_updated", "outputs", "summary",
    },
}  # fmt: skip


def command(folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "labelme_sam2", "track", str(folder), *RANDOM_TINY, *extra]


def events_of(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr as an event with exactly its documented fields."""
    events = [json.loads(line) for line in stderr.splitlines()]
    for event in events:
        assert set(event) == FIELDS[event["event"]], event
    return events


def of_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == kind]


def frames_with_our_masks(folder: Path) -> int:
    """LabelMe files beside frames that hold our masks; every LabelMe file must parse."""
    count = 0
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text())  # old or complete, never half-written
        ours = [s for s in document["shapes"] if s.get("flags", {}).get("labelme_sam2") is True]
        if ours:
            assert document["imagePath"] == f"{path.stem}.jpg"
            count += 1
    return count


@pytest.mark.sam2
def test_every_frame_is_one_progress_line_and_done_matches_the_files(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=FRAMES)

    run = subprocess.run(
        command(folder, "--progress", "json", "--save-masks"),
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    events = events_of(run.stderr)
    progress = of_kind(events, "progress")
    assert [event["done"] for event in progress] == list(range(1, FRAMES + 1))
    assert {event["total"] for event in progress} == {FRAMES}
    assert progress[0]["frames_per_second"] is None and progress[0]["seconds_left"] is None
    assert all(event["frames_per_second"] > 0 for event in progress[1:])
    assert progress[-1]["seconds_left"] == 0
    warned = [event["message"] for event in of_kind(events, "warning")]
    assert any("random weights" in message for message in warned)  # no text lines
    done = events[-1]
    assert of_kind(events, "done") == [done]
    masks = Path(f"{folder}_masks")
    assert done == {
        "event": "done",
        "cancelled": False,
        "frames": FRAMES,
        "frames_written": FRAMES,
        "labelme_files_written": FRAMES,
        "labelme_files_changed": FRAMES,  # a fresh copy: every file gets our masks
        "recomputed_frames": FRAMES,
        "not_updated": [],
        "outputs": [f"{masks}/"],
        "summary": run.stdout.strip(),  # the stdout line is still the summary
    }
    assert frames_with_our_masks(folder) == FRAMES
    assert len(list(masks.glob("*.png"))) == FRAMES
    assert (folder / ".labelme-sam2" / "run.json").is_file()


def test_a_user_error_is_one_error_event_with_the_text_line_and_exit_2(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=3)
    for path in folder.glob("*.json"):
        path.unlink()  # frames without a single prompt

    as_json = subprocess.run(
        command(folder, "--progress", "json"),
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    as_text = subprocess.run(
        command(folder), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120
    )

    assert as_json.returncode == as_text.returncode == 2
    message = f"{folder}: no prompts found: draw a rectangle, point or polygon on a frame"
    assert events_of(as_json.stderr) == [{"event": "error", "message": message}]
    assert as_text.stderr.splitlines() == [f"labelme-sam2: error: {message}"]
    assert as_json.stdout == ""


@pytest.mark.sam2
def test_sigterm_cancels_after_the_current_frame_and_every_file_is_old_or_new(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=FRAMES)
    drawn = (folder / "00000.json").read_bytes()
    lines: list[str] = []
    process = subprocess.Popen(
        command(folder, "--progress", "json"),
        cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None and process.stdout is not None
        progress_lines = 0
        for line in process.stderr:  # each event flushed as it happens
            lines.append(line)
            if json.loads(line)["event"] == "progress":
                progress_lines += 1
                if progress_lines == 3:
                    process.send_signal(signal.SIGTERM)
        stdout = process.stdout.read()
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert code == 130, lines
    events = events_of("".join(lines))
    done = events[-1]
    assert done["event"] == "done" and done["cancelled"] is True
    written = done["frames_written"]
    assert 3 <= written < FRAMES
    progress = [event["done"] for event in of_kind(events, "progress")]
    assert progress == list(range(1, len(progress) + 1)) and len(progress) <= written
    assert done["frames"] == FRAMES and done["outputs"] == []
    assert stdout.strip() == done["summary"]
    assert done["summary"].startswith(f"cancelled after {written} of {FRAMES} frames")
    # Each LabelMe file is the old one or a complete new one: the JSON writer may have
    # gone past the frame every output has.
    assert written <= frames_with_our_masks(folder) == done["labelme_files_written"]
    assert frames_with_our_masks(folder) < FRAMES
    assert json.loads((folder / "00000.json").read_bytes()) != json.loads(drawn)  # masks added
    assert not list(folder.glob(".*.tmp"))  # no write was left half-done
    assert not (folder / ".labelme-sam2" / "run.json").exists()  # a re-run does everything


def test_first_signal_sets_cancel_a_second_interrupts_and_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), cancel_on_signals() as cancel:
        os.kill(os.getpid(), signal.SIGTERM)
        assert cancel.wait(5)  # graceful: only the event
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler raises at once, cutting this short
        pytest.fail("the second signal did not interrupt")
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_rate_counts_from_the_first_frame_written(capsys):
    times = iter([100.0, 100.5, 101.0, 102.0])
    on_progress = ProgressEvents(JsonEvents(sys.stderr), clock=lambda: next(times))
    for done in range(1, 5):
        on_progress(done, 10)

    events = events_of(capsys.readouterr().err)
    rates = [(event["frames_per_second"], event["seconds_left"]) for event in events]
    assert rates == [(None, None), (2.0, 4.0), (2.0, 3.5), (1.5, 4.0)]


def test_other_stderr_text_and_python_warnings_become_warning_events(capsys, monkeypatch):
    unhandled = logging.getLogger("labelme_sam2.test_stray")
    monkeypatch.setattr(unhandled, "propagate", False)  # to logging's last resort: stderr
    with json_events_on_stderr() as events:
        events.warn("ours")
        print("a library's line\nand its second", file=sys.stderr)
        unhandled.warning("no handler: the last-resort one")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("deprecated thing", UserWarning, stacklevel=1)
        sys.stderr.write("no newline at the end")

    messages = [event["message"] for event in events_of(capsys.readouterr().err)]
    assert messages[:4] == [
        "ours",
        "a library's line",
        "and its second",
        "no handler: the last-resort one",
    ]
    assert messages[4].startswith("UserWarning: deprecated thing (")
    assert messages[5:] == ["no newline at the end"]


def test_a_plugin_that_fails_to_load_is_a_warning_event_too(tmp_path: Path, capsys, monkeypatch):
    class Broken:
        name = "serve"

        def load(self) -> None:
            raise ImportError("No module named 'flask'")

    monkeypatch.setattr("labelme_sam2.cli.main.entry_points", lambda group: [Broken()])
    folder = copy_bedroom(tmp_path, frames=2)
    for path in folder.glob("*.json"):
        path.unlink()

    assert main(["track", str(folder), "--progress", "json"]) == 2

    events = events_of(capsys.readouterr().err)
    assert [event["event"] for event in events] == ["warning", "error"]
    assert events[0]["message"] == "command 'serve' not loaded (No module named 'flask')"
