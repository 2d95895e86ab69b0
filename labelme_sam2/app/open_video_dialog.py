"""SAM 2 > Open video…: `labelme-sam2 extract` a video into a frame folder (optionally every
Nth frame, or chunk folders) with a bar per frame written, then open the folder (the first
chunk folder) in the window."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from labelme_sam2.app.app_settings import AppSettings
from labelme_sam2.app.engine_run import EngineRun, RunOutcome

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.avi *.webm *.m4v);;All files (*)"


class OpenVideoDialog(QtWidgets.QDialog):
    extracted = QtCore.Signal(Path)  # the frame folder to open

    def __init__(self, *, settings: AppSettings, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open video")
        self._settings = settings
        self.run: EngineRun | None = None
        self._cancelled = False
        self.video = QtWidgets.QLineEdit(self)
        browse = QtWidgets.QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        self.output = QtWidgets.QLineEdit(self)
        self.output.setPlaceholderText("default: beside the video, named like it")
        self.every = QtWidgets.QSpinBox(self)
        self.every.setRange(1, 1000)
        self.every.setPrefix("every ")
        self.every.setSuffix(" frame(s)")
        self.chunk_seconds = QtWidgets.QDoubleSpinBox(self)
        self.chunk_seconds.setRange(0, 24 * 3600)
        self.chunk_seconds.setSpecialValueText("one folder")
        self.chunk_seconds.setSuffix(" s a folder")
        self.status = QtWidgets.QLabel(self)
        self.status.setWordWrap(True)
        self.busy = QtWidgets.QProgressBar(self)
        self.busy.setRange(0, 0)  # until the first frame is written
        self.busy.hide()
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self._cancel)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.video)
        row.addWidget(browse)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Video", row)
        form.addRow("Frame folder", self.output)
        form.addRow("Keep", self.every)
        form.addRow("Split into", self.chunk_seconds)
        form.addRow(self.busy)
        form.addRow(self.status)
        form.addRow(self.buttons)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Video", "", VIDEO_FILTER)
        if path:
            self.video.setText(path)

    def arguments(self) -> list[str]:
        video = Path(self.video.text().strip())
        arguments = ["extract", str(video)]
        if self.output.text().strip():
            arguments.append(self.output.text().strip())
        if self.every.value() > 1:
            arguments += ["--every", str(self.every.value())]
        if self.chunk_seconds.value() > 0:
            arguments += ["--chunk-seconds", f"{self.chunk_seconds.value():g}"]
        return arguments

    def start(self) -> None:
        if not self.video.text().strip():
            self.status.setText("choose a video first")
            return
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.status.setText("extracting…")
        self.busy.setRange(0, 0)
        self.busy.show()
        self._cancelled = False
        self.run = EngineRun(
            command=self._settings.engine_command(),
            arguments=[*self.arguments(), "--progress", "json"],
            parent=self,
        )
        self.run.progress.connect(self._on_progress)
        self.run.ended.connect(self._on_ended)
        self.run.start()

    def _on_progress(self, done: int, total: int, rate: float, seconds_left: float) -> None:
        self.busy.setRange(0, total)
        self.busy.setValue(done)

    def _cancel(self) -> None:
        if self.run is not None and self.run.is_running():
            self._cancelled = True
            self.run.cancel()
            return
        self.reject()

    def _on_ended(self, outcome: RunOutcome) -> None:
        self.run = None
        self.busy.hide()
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setEnabled(True)
        if outcome.finished and outcome.done is not None:
            # Chunk folders: open the first (Track folder there tracks them all, as one video).
            self.extracted.emit(Path(outcome.done["folders"][0]))
            self.accept()
        elif self._cancelled:
            self.status.setText(
                "cancelled: the frames written so far are whole and listed in the folder's "
                "manifest.json; OK extracts again and finishes"
            )
        else:
            self.status.setText(outcome.error or "the extract did not finish")
