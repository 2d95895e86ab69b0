"""The LabelMe app's tests: Python 3.12's .venv-labelme312 (labelme 7.9.1, PySide6,
pytest-qt, no torch), Qt offscreen. Tracking runs .venv's labelme-sam2 command with SAM 2.1
tiny at 256 px and random weights, as a GUI-only environment drives another one's."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from loguru import logger
from PySide6 import QtCore

from labelme_sam2.app.app_settings import AppSettings
from labelme_sam2.app.engine_run import RunOutcome
from labelme_sam2.app.main_window import Sam2Window
from tests.conftest import REPO, copy_bedroom

ENGINE = REPO / ".venv" / "bin" / "labelme-sam2"  # built by scripts/setup.sh
TRACK_TIMEOUT_MS = 180_000
SLOW_ENGINE = Path(__file__).with_name("slow_engine.py")  # a stand-in command, slow on purpose
HUMMINGBIRD = REPO.parent / "shared" / "data" / "videos" / "02_hummingbird.mp4"

logger.remove()  # labelme logs every step at debug level
logger.add(sys.stderr, level="WARNING")
# labelme keeps its window state in QSettings("labelme", "labelme"): not the user's.
_qt_settings_home = tempfile.mkdtemp(prefix="labelme-sam2-qsettings-")
for _format in (QtCore.QSettings.Format.NativeFormat, QtCore.QSettings.Format.IniFormat):
    QtCore.QSettings.setPath(_format, QtCore.QSettings.Scope.UserScope, _qt_settings_home)


def engine_settings(**changes: object) -> AppSettings:
    values: dict[str, object] = {
        "engine": "command",
        "command": str(ENGINE),
        "model": "sam2.1_hiera_tiny",
        "checkpoint": "random",
        "device": "cpu",
        "image_size": 256,
    }
    values.update(changes)
    return AppSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def random_weights_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine child inherits this; a user's environment never has it."""
    monkeypatch.setenv("LABELME_SAM2_ALLOW_RANDOM_WEIGHTS", "1")


@pytest.fixture
def engine() -> Path:
    assert ENGINE.is_file(), f"{ENGINE} missing: run scripts/setup.sh"
    return ENGINE


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """12 frames of the bedroom sample and its LabelMe files (prompts on frame 0)."""
    folder = copy_bedroom(tmp_path, frames=12)
    for stray in folder.glob("*.json"):  # frame 60's prompts: no frame 60 in this copy
        if not (folder / f"{stray.stem}.jpg").exists():
            stray.unlink()
    return folder


@pytest.fixture
def settings_store(tmp_path: Path) -> QtCore.QSettings:
    return QtCore.QSettings(str(tmp_path / "app.conf"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def make_window(
    qtbot: object, settings_store: QtCore.QSettings, engine: Path
) -> Iterator[Callable[..., Sam2Window]]:
    windows: list[Sam2Window] = []

    def make(folder: Path | None, *, settings: AppSettings | None = None) -> Sam2Window:
        window = Sam2Window(
            folder=folder,
            settings_store=settings_store,
            config_overrides={"auto_save": True},
        )
        window.settings = settings or engine_settings()
        window.resize(1400, 900)
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.tracking.wait_to_close()


def track_and_wait(qtbot: object, window: Sam2Window, action: str = "track") -> RunOutcome:
    """Trigger a SAM 2 menu action that starts tracking; the outcome once it has ended."""
    with qtbot.waitSignal(window.tracking.ended, timeout=TRACK_TIMEOUT_MS) as ended:  # type: ignore[attr-defined]
        getattr(window.sam2, action).trigger()
    outcome = ended.args[0]
    assert isinstance(outcome, RunOutcome)
    return outcome


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
