"""SAM 2 > Settings: where the model runs (this environment, another one's labelme-sam2
command, or a team server) and which model, device and image size."""

from __future__ import annotations

from dataclasses import replace

from PySide6 import QtWidgets

from labelme_sam2.app.app_settings import ENGINE_NAMES, ENGINES, AppSettings
from labelme_sam2.models.registry import MODELS
from labelme_sam2.options import DEVICES


class SettingsDialog(QtWidgets.QDialog):
    def __init__(self, settings: AppSettings, *, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("SAM 2 settings")
        self._settings = settings
        self.engine = QtWidgets.QComboBox(self)
        for engine in ENGINES:
            self.engine.addItem(ENGINE_NAMES[engine], engine)
        self.engine.setCurrentIndex(ENGINES.index(settings.engine))
        self.command = QtWidgets.QLineEdit(settings.command, self)
        self.command.setPlaceholderText("/path/to/other-env/bin/labelme-sam2")
        self.server_url = QtWidgets.QLineEdit(settings.server_url, self)
        self.server_url.setPlaceholderText("http://sam2.internal:9090")
        self.server_user = QtWidgets.QLineEdit(settings.server_user, self)
        self.server_password = QtWidgets.QLineEdit(settings.server_password, self)
        self.server_password.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.model = QtWidgets.QComboBox(self)
        self.model.addItems(list(MODELS))
        self.model.setCurrentText(settings.model)
        self.checkpoint = QtWidgets.QLineEdit(settings.checkpoint, self)
        self.checkpoint.setPlaceholderText("default: checkpoints/<model>.pt")
        self.device = QtWidgets.QComboBox(self)
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(settings.device)
        self.image_size = QtWidgets.QSpinBox(self)
        self.image_size.setRange(0, 4096)
        self.image_size.setSingleStep(32)
        self.image_size.setSpecialValueText("the model's (1024)")
        self.image_size.setValue(settings.image_size)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Run the model with", self.engine)
        form.addRow("labelme-sam2 command", self.command)
        form.addRow("Server URL", self.server_url)
        form.addRow("Server user", self.server_user)
        form.addRow("Server password (not saved)", self.server_password)
        form.addRow("Model", self.model)
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Device", self.device)
        form.addRow("Image size", self.image_size)
        form.addRow(buttons)

    def chosen(self) -> AppSettings:
        return replace(
            self._settings,
            engine=self.engine.currentData(),
            command=self.command.text().strip(),
            server_url=self.server_url.text().strip(),
            server_user=self.server_user.text().strip(),
            server_password=self.server_password.text(),
            model=self.model.currentText(),
            checkpoint=self.checkpoint.text().strip(),
            device=self.device.currentText(),
            image_size=self.image_size.value(),
        )

    def accept(self) -> None:
        chosen = self.chosen()
        problem = None
        if chosen.engine == "command" and not chosen.command:
            problem = "give the path of the other environment's labelme-sam2 command"
        elif chosen.engine == "server" and not chosen.server_url.startswith(
            ("http://", "https://")
        ):
            problem = "give the server's URL, starting with http:// or https://"
        elif chosen.image_size % 32:
            problem = "the image size must be a multiple of 32"
        if problem:
            QtWidgets.QMessageBox.warning(self, "SAM 2 settings", problem)
            return
        super().accept()
