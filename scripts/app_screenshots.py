"""Screenshots of the LabelMe app for docs/labelme-app.md, taken from the real window under
offscreen Qt. Run it in the app's environment (scripts/setup_labelme_reader.sh makes it):

    .venv-labelme312/bin/python scripts/app_screenshots.py docs/images/labelme-app

No SAM 2 weights can be downloaded where these pictures are made, so the masks in them are
the GrabCut STAND-IN of scripts/docs_standin_tracking.py (run by this script through .venv),
loaded by the app as a finished `track` run would leave them; docs/labelme-app.md says so
under each picture. The progress bar is a real `track` run of .venv's labelme-sam2 (SAM 2.1
tiny at 256 px, random weights, on the CPU): only its bar is shown, and it is cancelled.
It also prints how long Track folder takes on the 40-frame examples/bedroom sample with that
engine: from the click until the open frame shows its masks (it reloads once the run has
written it), and until the run has ended and the frame reloaded again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"  # the progress run only

from loguru import logger
from PySide6 import QtCore, QtGui, QtWidgets

from labelme_sam2.app.app_settings import AppSettings
from labelme_sam2.app.export_dialog import ExportDialog
from labelme_sam2.app.main_window import Sam2Window
from labelme_sam2.app.predicted_shapes import is_predicted

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / ".venv" / "bin" / "labelme-sam2"
WINDOW_SIZE = (1440, 860)
SHOWN_FRAME = "00000.jpg"  # the user's boxes and clicks, and the masks beside them


def wait_until(app: QtWidgets.QApplication, done: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        app.processEvents()
        time.sleep(0.02)
    if not done():  # type: ignore[operator]
        raise SystemExit(f"timed out after {seconds} s")


def save(pixmap: QtGui.QPixmap, path: Path) -> None:
    """Windows as JPEG (a photo fills most of them: a fifth of the PNG's bytes)."""
    if not pixmap.save(str(path), quality=90 if path.suffix == ".jpg" else -1):
        raise SystemExit(f"{path}: could not save")
    print(f"wrote {path}")


def with_menu(window: QtWidgets.QMainWindow, menu: QtWidgets.QMenu) -> QtGui.QPixmap:
    """The window with its open menu painted where it pops up (offscreen, a menu is a window
    of its own, so the window's grab alone does not show it)."""
    shot = window.grab()
    painter = QtGui.QPainter(shot)
    painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())
    painter.end()
    return shot


def standin_folder(work: Path) -> Path:
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "python"),
            str(REPO / "scripts" / "docs_standin_tracking.py"),
            "bedroom",
            str(work),
        ],
        check=True,
    )
    return work / "bedroom"


def copy_sample(folder: Path) -> Path:
    shutil.copytree(REPO / "examples" / "bedroom", folder)
    return folder


def engine_settings() -> AppSettings:
    return AppSettings(
        engine="command",
        command=str(ENGINE),
        model="sam2.1_hiera_tiny",
        checkpoint="random",
        device="cpu",
        image_size=256,
    )


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    app = QtWidgets.QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="app-screenshots-") as temp:
        work = Path(temp)
        QtCore.QSettings.setPath(
            QtCore.QSettings.Format.NativeFormat, QtCore.QSettings.Scope.UserScope, temp
        )
        store = QtCore.QSettings(str(work / "app.conf"), QtCore.QSettings.Format.IniFormat)
        tracked = standin_folder(work)

        window = Sam2Window(folder=tracked, settings_store=store)
        window.settings = engine_settings()
        window.resize(*WINDOW_SIZE)
        window.show()
        window.go_to_image(tracked / SHOWN_FRAME)
        app.processEvents()
        save(window.grab(), out / "predicted-masks.jpg")

        window.sam2_menu.popup(
            window.mapToGlobal(
                window.menuBar().actionGeometry(window.sam2_menu.menuAction()).bottomLeft()
            )
        )
        app.processEvents()
        save(with_menu(window, window.sam2_menu), out / "sam2-menu.jpg")
        window.sam2_menu.hide()

        dialog = ExportDialog(folder=tracked, settings=window.settings, parent=window)
        dialog.layers["png"].setChecked(True)
        dialog.contact_sheet.setChecked(True)
        dialog.show()
        app.processEvents()
        save(dialog.grab(), out / "export-dialog.png")
        dialog.close()

        # The progress bar (on a fresh copy: only the user's prompts are on screen)...
        ended: list[object] = []
        window.tracking.ended.connect(ended.append)
        window.open_folder(copy_sample(work / "progress"))
        window.sam2.track.trigger()
        run = window.tracking.run
        assert run is not None
        frames: list[int] = []
        run.progress.connect(lambda done, *_: frames.append(done))
        wait_until(app, lambda: len(frames) >= 12, 600)
        app.processEvents()
        save(window.grab(), out / "progress.jpg")
        window.tracking.cancel()
        wait_until(app, lambda: ended, 120)

        # ... and the time from Track folder to the masks on the open frame, on another.
        ended.clear()
        window.open_folder(copy_sample(work / "timed"))
        masks_shown: list[float] = []

        def note_masks_shown() -> None:
            shapes = window.canvas_shapes()
            if window.tracking.is_running() and any(is_predicted(s) for s in shapes):
                masks_shown.append(time.perf_counter())

        window.frame_loaded.connect(note_masks_shown)
        clicked = time.perf_counter()
        window.sam2.track.trigger()
        wait_until(app, lambda: ended, 600)
        seconds = time.perf_counter() - clicked
        first = f"{masks_shown[0] - clicked:.1f} s" if masks_shown else "not before the end"
        print(
            f"Track folder -> open frame shows its masks: {first}; -> run ended, frame "
            f"reloaded: {seconds:.1f} s; {window.tracking.last_outcome}"
        )
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
