"""Start the app: a QApplication as labelme's own `main` makes one, and our window."""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger
from PySide6 import QtWidgets

from labelme_sam2.app.app_settings import settings_store
from labelme_sam2.app.labelme_hooks import user_config_file
from labelme_sam2.app.main_window import Sam2Window


def run_app(folder: Path | None) -> int:
    logger.remove()  # labelme logs every step at debug level to stderr
    logger.add(sys.stderr, level="WARNING")
    app = QtWidgets.QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setApplicationName("labelme-sam2")
    window = Sam2Window(
        folder=folder, settings_store=settings_store(), config_file=user_config_file()
    )
    window.show()
    window.raise_()
    return int(app.exec())
