"""SAM 2 > Export…: `labelme-sam2 render` the tracked folder's masks into videos (masked with
a fill, overlay, side by side), mask layers (PNG, DAVIS, COCO, YOLO) and a contact sheet,
beside the folder, with a bar per frame written and Cancel (every file old or new); a button
opens where they went."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from labelme_sam2.app.app_settings import AppSettings
from labelme_sam2.app.engine_run import EngineRun, RunOutcome
from labelme_sam2.options import LAYER_KINDS, VIDEO_KINDS

FILLS = ("white", "avg", "blur", "pixelate")  # the --fill choices without a colour


class ExportDialog(QtWidgets.QDialog):
    def __init__(
        self, *, folder: Path, settings: AppSettings, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export {folder.name}")
        self._folder = folder
        self._settings = settings
        self.run: EngineRun | None = None
        self.outcome: RunOutcome | None = None
        self.videos = {kind: QtWidgets.QCheckBox(f"{kind} video", self) for kind in VIDEO_KINDS}
        self.videos["masked"].setChecked(True)
        self.fill = QtWidgets.QComboBox(self)
        self.fill.addItems(list(FILLS))
        self.side_by_side = QtWidgets.QCheckBox("original frame on the left", self)
        self.layers = {kind: QtWidgets.QCheckBox(kind, self) for kind in LAYER_KINDS}
        self.contact_sheet = QtWidgets.QCheckBox("contact sheet (12 frames)", self)
        self.status = QtWidgets.QLabel(self)
        self.status.setWordWrap(True)
        self.busy = QtWidgets.QProgressBar(self)
        self.busy.setRange(0, 0)  # until the first frame is written
        self.busy.hide()
        self.buttons = QtWidgets.QDialogButtonBox(self)
        self.export_button = self.buttons.addButton(
            "Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.open_button = self.buttons.addButton(
            "Open result", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self._export_or_cancel)
        self.open_button.clicked.connect(self.open_result)
        self.close_button.clicked.connect(self._close)
        layers = QtWidgets.QHBoxLayout()
        for box in self.layers.values():
            layers.addWidget(box)
        videos = QtWidgets.QHBoxLayout()
        for box in self.videos.values():
            videos.addWidget(box)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Videos", videos)
        form.addRow("Fill (masked)", self.fill)
        form.addRow("", self.side_by_side)
        form.addRow("Mask layers", layers)
        form.addRow("", self.contact_sheet)
        form.addRow(self.busy)
        form.addRow(self.status)
        form.addRow(self.buttons)

    def arguments(self) -> list[str]:
        arguments = ["render", str(self._folder)]
        for kind, box in self.videos.items():
            if box.isChecked():
                arguments += ["--video", kind]
        if self.videos["masked"].isChecked():
            arguments += ["--fill", self.fill.currentText()]
        if self.side_by_side.isChecked():
            arguments.append("--side-by-side")
        layers = [kind for kind, box in self.layers.items() if box.isChecked()]
        if layers:
            arguments += ["--export", ",".join(layers)]
        if self.contact_sheet.isChecked():
            arguments.append("--contact-sheet")
        return arguments

    def _export_or_cancel(self) -> None:
        if self.run is None:
            self.start()
        else:
            self.cancel()

    def start(self) -> None:
        arguments = self.arguments()
        if arguments == ["render", str(self._folder)]:
            self.status.setText("choose at least one video, layer or the contact sheet")
            return
        self.outcome = None
        self.open_button.setEnabled(False)
        self.export_button.setText("Cancel")
        self.busy.setRange(0, 0)
        self.busy.show()
        self.status.setText("exporting…")
        self.run = EngineRun(
            command=self._settings.engine_command(),
            arguments=[*arguments, "--progress", "json"],
            parent=self,
        )
        self.run.progress.connect(self._on_progress)
        self.run.ended.connect(self._on_ended)
        self.run.start()

    def cancel(self) -> None:
        if self.run is not None and self.run.is_running():
            self.run.cancel()
            self.export_button.setEnabled(False)
            self.status.setText("cancelling after the frame being written…")

    def _on_progress(self, done: int, total: int, rate: float, seconds_left: float) -> None:
        self.busy.setRange(0, total)
        self.busy.setValue(done)

    def _on_ended(self, outcome: RunOutcome) -> None:
        self.run = None
        self.outcome = outcome
        self.busy.hide()
        self.export_button.setText("Export")
        self.export_button.setEnabled(True)
        self.status.setText(outcome.error if outcome.error is not None else outcome.summary)
        self.open_button.setEnabled(outcome.finished)

    def open_result(self) -> None:
        QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self._folder.parent)))

    def _close(self) -> None:
        self.cancel()
        self.reject()
