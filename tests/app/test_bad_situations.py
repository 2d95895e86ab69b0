"""What goes wrong is a message in the window naming the file and what to do, never a crash,
and the folder's files stay as they were."""

from __future__ import annotations

import json
import shutil
import stat

from PySide6 import QtWidgets

from tests.app.conftest import TRACK_TIMEOUT_MS, engine_settings, file_bytes, track_and_wait


def problem_text(window: QtWidgets.QMainWindow) -> str:
    boxes = [
        box
        for box in window.findChildren(QtWidgets.QMessageBox, "labelme_sam2_problem")
        if box.isVisible()
    ]
    assert len(boxes) == 1, "expected one message"
    return boxes[0].text()


def test_a_folder_without_prompts(qtbot, make_window, folder):
    for path in folder.glob("*.json"):
        path.unlink()
    before = file_bytes(folder)
    window = make_window(folder)
    outcome = track_and_wait(qtbot, window)
    assert outcome.error is not None and outcome.exit_code == 2
    assert "prompt" in problem_text(window)
    assert str(folder) in problem_text(window)
    assert file_bytes(folder) == before


def test_a_missing_checkpoint(qtbot, make_window, folder, tmp_path):
    before = file_bytes(folder)
    missing = tmp_path / "sam2.1_hiera_tiny.pt"
    window = make_window(folder, settings=engine_settings(checkpoint=str(missing)))
    track_and_wait(qtbot, window)
    assert str(missing) in problem_text(window)
    assert "download" in problem_text(window)
    assert file_bytes(folder) == before


def test_an_engine_command_that_does_not_exist(qtbot, make_window, folder, tmp_path):
    before = file_bytes(folder)
    window = make_window(folder, settings=engine_settings(command=str(tmp_path / "nope")))
    track_and_wait(qtbot, window)
    assert f"cannot start {tmp_path / 'nope'}" in problem_text(window)
    assert "Settings" in problem_text(window)
    assert file_bytes(folder) == before


def test_an_engine_command_that_is_not_ours(qtbot, make_window, folder):
    before = file_bytes(folder)
    window = make_window(folder, settings=engine_settings(command=shutil.which("true")))
    track_and_wait(qtbot, window)
    assert "printed no progress: it is not labelme-sam2" in problem_text(window)
    assert file_bytes(folder) == before


def test_an_engine_that_dies_mid_run(qtbot, make_window, folder, tmp_path):
    """As an out-of-memory kill or a CUDA crash ends the child: the window stays."""
    dying = tmp_path / "dying-engine"
    dying.write_text(
        "#!/bin/sh\n"
        'echo \'{"event": "progress", "done": 1, "total": 12}\' >&2\n'
        "echo 'RuntimeError: CUDA error: out of memory' >&2\n"
        "kill -9 $$\n"
    )
    dying.chmod(dying.stat().st_mode | stat.S_IXUSR)
    window = make_window(folder, settings=engine_settings(command=str(dying)))
    outcome = track_and_wait(qtbot, window)
    assert outcome.exit_code == -1
    text = problem_text(window)
    assert "CUDA error: out of memory" in text and "stopped by a signal" in text
    assert window.isVisible() and window.sam2.track.isEnabled()


def test_a_frame_that_cannot_be_read(qtbot, make_window, folder):
    (folder / "00004.jpg").write_bytes(b"not a jpeg")
    before = file_bytes(folder)
    window = make_window(folder)
    track_and_wait(qtbot, window)
    assert "00004.jpg" in problem_text(window)
    assert file_bytes(folder) == before


def test_a_labelme_file_saved_by_another_program_during_the_run(qtbot, make_window, folder):
    """Another labelme window (or a script) saves frame 10 while we track: it keeps what
    was saved, and the message says so."""
    elsewhere = {
        "version": "5.5.0",
        "flags": {},
        "imagePath": "00010.jpg",
        "imageData": None,
        "imageHeight": 540,
        "imageWidth": 960,
        "shapes": [
            {
                "label": "girl_neg",
                "points": [[700.0, 300.0]],
                "group_id": None,
                "description": "",
                "shape_type": "point",
                "flags": {},
                "mask": None,
            }
        ],
    }
    window = make_window(folder)

    def save_elsewhere(done: int, *_: object) -> None:
        if done == 2:
            (folder / "00010.json").write_text(json.dumps(elsewhere, indent=2))

    window.sam2.track.trigger()
    window.tracking.run.progress.connect(save_elsewhere)
    with qtbot.waitSignal(window.tracking.ended, timeout=TRACK_TIMEOUT_MS) as ended:
        pass
    assert ended.args[0].error is None
    assert "00010.json" in problem_text(window)
    assert json.loads((folder / "00010.json").read_text()) == elsewhere


def test_a_separate_annotation_folder_is_refused(qtbot, make_window, folder, tmp_path):
    window = make_window(folder)
    window._output_dir = tmp_path / "annotations"
    assert not window.tracking.start("full")
    assert "beside the frames" in problem_text(window)


def test_tracking_twice_at_once_is_refused(qtbot, make_window, folder):
    window = make_window(folder)
    assert window.tracking.start("full")
    assert not window.tracking.start("changes")
    assert "Tracking is running" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.tracking.is_running(), timeout=TRACK_TIMEOUT_MS)
