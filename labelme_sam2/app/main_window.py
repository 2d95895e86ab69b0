"""labelme's window with a SAM 2 menu and toolbar: the actions, wired to their workers and
dialogs (each in its own module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labelme_sam2.app.app_settings import AppSettings, load_settings, save_settings
from labelme_sam2.app.export_dialog import ExportDialog
from labelme_sam2.app.labelme_hooks import LabelmeWindow
from labelme_sam2.app.messages import show_problem
from labelme_sam2.app.open_video_dialog import OpenVideoDialog
from labelme_sam2.app.predicted_shapes import is_predicted, make_prompts, predicted_style
from labelme_sam2.app.progress_widget import RunProgress
from labelme_sam2.app.settings_dialog import SettingsDialog
from labelme_sam2.app.tracking import Tracking


class Sam2Actions:
    """The SAM 2 menu's actions (tests trigger them as a user would)."""

    def __init__(self, parent: QtCore.QObject) -> None:
        def action(text: str, shortcut: str | None = None, tip: str = "") -> QtGui.QAction:
            made = QtGui.QAction(text, parent)
            if shortcut:
                made.setShortcut(QtGui.QKeySequence(shortcut))
            made.setStatusTip(tip)
            return made

        self.track = action(
            "Track folder",
            "Ctrl+T",
            "save this frame, then propagate every prompt through "
            "every frame of the folder with SAM 2",
        )
        self.retrack = action(
            "Re-track changes",
            "Ctrl+Shift+T",
            "recompute only the frames your corrections since the last run affect",
        )
        self.cancel = action("Cancel tracking", None, "stop after the current frame")
        self.make_prompt = action(
            "Make prompt",
            "Ctrl+Shift+P",
            "the selected predicted shapes become your own: "
            "mask prompts on this frame at the next Track",
        )
        self.show_predicted = action("Show predicted shapes", "Ctrl+Shift+H")
        self.show_predicted.setCheckable(True)
        self.show_predicted.setChecked(True)
        self.open_video = action("Open video…", None, "extract a video into a frame folder")
        self.export = action("Export…", None, "masked video, overlay, mask layers")
        self.settings = action("Settings…", None, "model, device, or a team server")


class Sam2Window(LabelmeWindow):
    def __init__(
        self,
        *,
        folder: Path | None,
        settings_store: QtCore.QSettings,
        config_file: Path | None = None,
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        self._settings_store = settings_store
        self.settings = load_settings(settings_store)
        super().__init__(folder=folder, config_file=config_file, config_overrides=config_overrides)
        self.setWindowTitle(f"{self.windowTitle()} + SAM 2")
        self.progress = RunProgress(self)
        self.statusBar().addPermanentWidget(self.progress)
        self.tracking = Tracking(window=self, progress=self.progress, settings=self._current)
        self.sam2 = Sam2Actions(self)
        self._build_menu()
        self.set_shape_style(predicted_style)
        self.frame_loaded.connect(self._apply_predicted_visibility)
        self.tracking.started.connect(self._sync_actions)
        self.tracking.ended.connect(self._sync_actions)
        self._sync_actions()

    def _current(self) -> AppSettings:
        return self.settings

    def _build_menu(self) -> None:
        actions = self.sam2
        actions.track.triggered.connect(lambda: self.tracking.start("full"))
        actions.retrack.triggered.connect(lambda: self.tracking.start("changes"))
        actions.cancel.triggered.connect(self.tracking.cancel)
        actions.make_prompt.triggered.connect(self.make_prompt)
        actions.show_predicted.toggled.connect(self._apply_predicted_visibility)
        actions.open_video.triggered.connect(self.open_video)
        actions.export.triggered.connect(self.export)
        actions.settings.triggered.connect(self.edit_settings)
        menu = self.menuBar().addMenu("SAM &2")
        for group in (
            (actions.track, actions.retrack, actions.cancel),
            (actions.make_prompt, actions.show_predicted),
            (actions.open_video, actions.export),
            (actions.settings,),
        ):
            menu.addActions(list(group))
            menu.addSeparator()
        toolbar = self.addToolBar("SAM 2")
        toolbar.setObjectName("labelme_sam2_toolbar")
        toolbar.addActions([actions.track, actions.retrack, actions.cancel])
        self.sam2_menu = menu

    def _sync_actions(self) -> None:
        running = self.tracking.is_running()
        self.sam2.track.setEnabled(not running)
        self.sam2.retrack.setEnabled(not running)
        self.sam2.cancel.setEnabled(running)
        self.sam2.settings.setEnabled(not running)

    # -- predicted shapes --

    def make_prompt(self) -> None:
        changed = make_prompts(self.selected_shapes())
        if not changed:
            self.statusBar().showMessage("select predicted shapes (dashed) first", 10_000)
            return
        self.shapes_edited()
        self.statusBar().showMessage(
            f"{changed} shapes are now prompts on this frame: Re-track changes to use them",
            10_000,
        )

    def _apply_predicted_visibility(self) -> None:
        predicted = [shape for shape in self.canvas_shapes() if is_predicted(shape)]
        self.set_shapes_visible(predicted, visible=self.sam2.show_predicted.isChecked())

    # -- dialogs --

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.settings, parent=self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            self.settings = dialog.chosen()
            save_settings(self._settings_store, self.settings)

    def open_video(self) -> None:
        if self.tracking.is_running():
            show_problem(self, "Tracking is running", "wait for it, or Cancel it first")
            return
        dialog = OpenVideoDialog(settings=self.settings, parent=self)
        dialog.extracted.connect(self.open_folder)
        dialog.open()

    def export(self) -> None:
        image = self.current_image()
        if image is None:
            show_problem(self, "No folder open", "open a tracked folder of frames first")
            return
        ExportDialog(folder=image.parent, settings=self.settings, parent=self).open()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.tracking.wait_to_close()
        super().closeEvent(event)
