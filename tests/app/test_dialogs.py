"""Open video… extracts frames and opens them; Export… renders the tracked masks; both run
.venv's labelme-sam2 as the engine."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest
from PySide6 import QtWidgets

from labelme_sam2.app.export_dialog import ExportDialog
from labelme_sam2.app.open_video_dialog import OpenVideoDialog
from tests.app.conftest import (
    HUMMINGBIRD,
    SLOW_ENGINE,
    TRACK_TIMEOUT_MS,
    engine_settings,
    track_and_wait,
)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    copy = tmp_path / "videos" / "bird.mp4"
    copy.parent.mkdir()
    shutil.copyfile(HUMMINGBIRD, copy)
    return copy


def test_open_video_extracts_every_nth_frame_and_opens_the_folder(qtbot, make_window, video):
    window = make_window(None)
    window.sam2.open_video.trigger()
    dialog = window.findChild(OpenVideoDialog)
    dialog.video.setText(str(video))
    dialog.every.setValue(40)
    shown: list[tuple[int, int]] = []
    dialog.busy.valueChanged.connect(lambda value: shown.append((value, dialog.busy.maximum())))
    with qtbot.waitSignal(dialog.extracted, timeout=TRACK_TIMEOUT_MS):
        dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()
    folder = video.with_suffix("")
    images = sorted(folder.glob("*.jpg"))
    assert len(images) == 5  # 176 frames: 0, 40, 80, 120, 160
    assert window.current_image() == images[0]
    assert window.image_paths() == images
    assert [pair for pair in shown if pair[0] > 0] == [(done, 5) for done in range(1, 6)]


def test_open_video_in_chunks_opens_the_first_chunk_folder(qtbot, make_window, video):
    window = make_window(None)
    window.sam2.open_video.trigger()
    dialog = window.findChild(OpenVideoDialog)
    dialog.video.setText(str(video))
    dialog.every.setValue(20)
    dialog.chunk_seconds.setValue(2)
    with qtbot.waitSignal(dialog.extracted, timeout=TRACK_TIMEOUT_MS) as extracted:
        dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()
    chunks = sorted(path for path in video.with_suffix("").iterdir() if path.is_dir())
    assert len(chunks) >= 2 and extracted.args[0] == chunks[0]
    assert window.current_image() == sorted(chunks[0].glob("*.jpg"))[0]


def test_open_video_cancel_says_what_is_kept(qtbot, make_window, video):
    slow = f"{shlex.quote(sys.executable)} {shlex.quote(str(SLOW_ENGINE))}"
    window = make_window(None, settings=engine_settings(command=slow))
    window.sam2.open_video.trigger()
    dialog = window.findChild(OpenVideoDialog)
    dialog.video.setText(str(video))
    dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: dialog.busy.value() >= 2, timeout=20_000)
    dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: dialog.run is None, timeout=20_000)
    assert dialog.isVisible() and dialog.status.text().startswith("cancelled: the frames")
    assert window.current_image() is None  # nothing opened


def test_open_video_shows_the_commands_error(qtbot, make_window, tmp_path):
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("hello")
    window = make_window(None)
    window.sam2.open_video.trigger()
    dialog = window.findChild(OpenVideoDialog)
    dialog.video.setText(str(not_a_video))
    dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: dialog.run is None, timeout=60_000)
    assert str(not_a_video) in dialog.status.text()
    assert dialog.isVisible() and not (tmp_path / "notes").exists()


def test_export_renders_the_tracked_masks_beside_the_folder(qtbot, make_window, folder):
    window = make_window(folder)
    assert track_and_wait(qtbot, window).finished
    window.sam2.export.trigger()
    dialog = window.findChild(ExportDialog)
    dialog.layers["png"].setChecked(True)
    dialog.fill.setCurrentText("blur")
    assert dialog.arguments() == [
        "render",
        str(folder),
        "--video",
        "masked",
        "--fill",
        "blur",
        "--export",
        "png",
    ]
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=TRACK_TIMEOUT_MS)
    assert dialog.outcome.error is None, dialog.outcome
    made = sorted(path.name for path in folder.parent.iterdir() if path != folder)
    assert made and all(name.startswith("bedroom_") for name in made), made
    assert any(name.endswith(".mp4") for name in made)
    assert dialog.open_button.isEnabled()
    assert str(folder.parent) in dialog.status.text() or "bedroom_" in dialog.status.text()


def test_export_with_nothing_chosen_says_so(qtbot, make_window, folder):
    window = make_window(folder)
    window.sam2.export.trigger()
    dialog = window.findChild(ExportDialog)
    dialog.videos["masked"].setChecked(False)
    dialog.export_button.click()
    assert dialog.run is None and "choose at least one" in dialog.status.text()


def test_export_shows_each_frame_and_cancel_stops_it(qtbot, make_window, folder):
    slow = f"{shlex.quote(sys.executable)} {shlex.quote(str(SLOW_ENGINE))}"
    window = make_window(folder, settings=engine_settings(command=slow))
    window.sam2.export.trigger()
    dialog = window.findChild(ExportDialog)
    shown: list[tuple[int, int]] = []
    dialog.busy.valueChanged.connect(lambda value: shown.append((value, dialog.busy.maximum())))
    dialog.export_button.click()
    assert dialog.export_button.text() == "Cancel"
    qtbot.waitUntil(lambda: len(shown) >= 3, timeout=20_000)
    dialog.export_button.click()  # now Cancel
    assert "cancelling" in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=20_000)
    assert dialog.outcome.cancelled
    values = [value for value, _ in shown if value > 0]
    assert values == list(range(1, len(values) + 1)) and len(values) < 200
    assert {maximum for value, maximum in shown if value > 0} == {200}
    assert dialog.status.text().startswith("render stopped by SIGINT")
    assert dialog.export_button.text() == "Export" and dialog.export_button.isEnabled()
    assert not dialog.open_button.isEnabled()  # nothing to open after a cancel
