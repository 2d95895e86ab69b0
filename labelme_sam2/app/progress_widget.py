"""The status bar's progress for a run: frames done of all, frames per second, time left,
and a Cancel button."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets


class RunProgress(QtWidgets.QWidget):
    cancel_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QtWidgets.QProgressBar(self)
        self.bar.setMinimumWidth(200)
        self.text = QtWidgets.QLabel(self)
        self.cancel_button = QtWidgets.QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self._on_cancel)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()

    def begin(self, what: str) -> None:
        self.bar.setRange(0, 0)  # busy until the first frame: the model is loading
        self.text.setText(f"{what}: starting…")
        self._what = what
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def update_frames(self, done: int, total: int, fps: float, seconds_left: float) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        parts = [f"{self._what}: {done}/{total} frames"]
        if not math.isnan(fps):
            parts.append(f"{fps:.1f} frames/s")
        if not math.isnan(seconds_left):
            parts.append(f"{_duration(seconds_left)} left")
        self.text.setText(", ".join(parts))

    def end(self) -> None:
        self.hide()

    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancel_requested.emit()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
