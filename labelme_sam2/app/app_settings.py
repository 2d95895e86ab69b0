"""What the SAM 2 menu remembers between runs of the app (Qt's QSettings: the registry on
Windows, ~/.config/labelme-sam2/app.conf on Linux)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

from PySide6 import QtCore

from labelme_sam2.cli.server_client import SERVER_AUTH_ENV  # user:password, off the argv
from labelme_sam2.models.registry import DEFAULT_MODEL

Engine = Literal["local", "command", "server"]
ENGINES: tuple[Engine, ...] = get_args(Engine)
ENGINE_NAMES: dict[Engine, str] = {
    "local": "This Python environment (a worker process)",
    "command": "The labelme-sam2 command of another environment",
    "server": "A team server (labelme-sam2 serve)",
}
NOT_SAVED = ("server_password",)  # asked once per run of the app, never written to disk


@dataclass(frozen=True)
class AppSettings:
    engine: Engine = "local"
    command: str = ""  # for "command": the other environment's labelme-sam2 (a path)
    server_url: str = ""
    server_user: str = ""
    server_password: str = ""
    model: str = DEFAULT_MODEL
    checkpoint: str = ""  # "" = the model's file in the checkpoints folder
    device: str = "auto"
    image_size: int = 0  # 0 = the model's own (1024)

    def engine_command(self) -> list[str]:
        """The command line that runs `labelme-sam2` for this engine. "local" and "server"
        run ours in this environment (a worker process: a crash there is a message here)."""
        if self.engine == "command":
            return shlex.split(self.command)
        return [sys.executable, "-m", "labelme_sam2"]

    def model_flags(self) -> list[str]:
        if self.engine == "server":
            return ["--server", self.server_url]  # the server's admin chose its model
        flags = ["--model", self.model, "--device", self.device]
        if self.checkpoint:
            flags += ["--checkpoint", self.checkpoint]
        if self.image_size:
            flags += ["--image-size", str(self.image_size)]
        return flags

    def engine_environment(self) -> dict[str, str]:
        if self.engine == "server" and self.server_user:
            return {SERVER_AUTH_ENV: f"{self.server_user}:{self.server_password}"}
        return {}


def load_settings(store: QtCore.QSettings) -> AppSettings:
    """The saved settings; a value that is missing or of the wrong kind keeps its default."""
    defaults = AppSettings()
    values: dict[str, object] = {}
    for field in fields(AppSettings):
        if field.name in NOT_SAVED:
            continue
        default = getattr(defaults, field.name)
        value = store.value(field.name, default)
        try:
            values[field.name] = type(default)(value)
        except (TypeError, ValueError):
            values[field.name] = default
    if values["engine"] not in ENGINES:
        values["engine"] = defaults.engine
    return AppSettings(**values)  # type: ignore[arg-type]


def save_settings(store: QtCore.QSettings, settings: AppSettings) -> None:
    for name, value in asdict(settings).items():
        if name not in NOT_SAVED:
            store.setValue(name, value)
    store.sync()


def settings_store() -> QtCore.QSettings:
    return QtCore.QSettings("labelme-sam2", "app")
