"""How the app tells the user something went wrong: one window-modal box that does not block
the event loop (a run may still be reporting), and the same line in the status bar."""

from __future__ import annotations

from PySide6 import QtWidgets


def show_problem(window: QtWidgets.QMainWindow, title: str, text: str) -> QtWidgets.QMessageBox:
    window.statusBar().showMessage(f"{title}: {text}", 60_000)
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Icon.Warning,
        title,
        text,
        QtWidgets.QMessageBox.StandardButton.Ok,
        window,
    )
    box.setObjectName("labelme_sam2_problem")
    box.open()
    return box
