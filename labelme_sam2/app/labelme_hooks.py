"""Everything we touch of labelme 7.9.1's private API, in one place.

labelme has no plugin API, so the app subclasses `labelme._app.MainWindow`. Each private
attribute or method used here has its own test in tests/app/test_labelme_hooks.py, so a
labelme upgrade that renames one fails there, loudly, and nowhere else. The rest of
labelme_sam2.app uses only `LabelmeWindow`'s public methods below and public Qt API.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from labelme import _config
from labelme._app import MainWindow
from labelme._shape import Shape
from PySide6 import QtCore
from PySide6.QtCore import Qt

LABELME_VERSION = "7.9.1"  # the version these hooks are tested against (pyproject pins it)


class LabelmeWindow(MainWindow):  # type: ignore[misc,unused-ignore]  # labelme has no stubs
    """labelme's window with a small typed surface for our menu: the open folder and frame,
    saving, reloading, the shapes on the canvas, and a signal after each frame loads."""

    frame_loaded = QtCore.Signal()

    def __init__(
        self,
        *,
        folder: Path | None,
        config_file: Path | None = None,
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        self._shape_style: Any = None  # set before labelme loads the first file
        super().__init__(
            file_or_dir=None if folder is None else str(folder),
            config_file=config_file,
            config_overrides=config_overrides or {},
        )
        canvas = self._canvas_widgets.canvas
        labelme_context = canvas._render_context

        def render_context(*, shape: Shape, highlighted: bool) -> Any:
            context = labelme_context(shape=shape, highlighted=highlighted)
            if self._shape_style is None:
                return context
            changes = self._shape_style(shape)
            return context if not changes else dataclasses.replace(context, **changes)

        canvas._render_context = render_context

    # -- hooks into labelme's flow --

    def _load_file(self, *, image_or_label_path: str) -> bool:
        loaded: bool = super()._load_file(image_or_label_path=image_or_label_path)
        if loaded:
            self.frame_loaded.emit()
        return loaded

    # -- the folder and the frame --

    def current_image(self) -> Path | None:
        return None if self._image_path is None else Path(self._image_path)

    def image_paths(self) -> list[Path]:
        return [Path(path) for path in self.image_list]

    def annotation_folder(self) -> Path | None:
        """labelme's separate annotation folder (its --output), if the user chose one."""
        return self._output_dir

    def has_unsaved_changes(self) -> bool:
        return bool(self._is_changed)

    def is_mid_edit(self) -> bool:
        """A shape being drawn or dragged on the canvas, not yet a change labelme knows of:
        no moment to reload the frame under the user's hand."""
        canvas = self._canvas_widgets.canvas
        return bool(canvas.is_drawing or canvas._is_moving_shape)

    def save_current(self) -> bool:
        """Write the open frame's LabelMe file now, if it has changes, and wait for any
        auto-save in flight; False when labelme could not save (it has shown why)."""
        if self._image_path is None:
            return True
        if self._is_changed:
            return bool(self.save_labels(label_path=self.current_label_file_path()))
        self._wait_for_save()
        return True

    def reload_current(self) -> None:
        """Read the open frame's LabelMe file again (the tracker wrote it)."""
        if self._image_path is not None:
            self._load_file(image_or_label_path=self._image_path)

    def open_folder(self, folder: Path) -> None:
        self._load_from_file_or_dir(file_or_dir=str(folder))

    def go_to_image(self, path: Path) -> None:
        self._load_file(image_or_label_path=str(path))

    # -- shapes on the canvas --

    def canvas_shapes(self) -> list[Shape]:
        return list(self._canvas_widgets.canvas.shapes)

    def selected_shapes(self) -> list[Shape]:
        return list(self._canvas_widgets.canvas.selected_shapes)

    def select_shapes(self, shapes: list[Shape]) -> None:
        self._canvas_widgets.canvas.select_shapes(shapes=shapes)

    def set_shapes_visible(self, shapes: list[Shape], *, visible: bool) -> None:
        """As ticking the shapes' boxes in the label list does."""
        state = Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
        label_list = self._docks.label_list
        with QtCore.QSignalBlocker(label_list._model):
            for shape in shapes:
                label_list.find_item_by_shape(shape=shape).setCheckState(state)
                self._canvas_widgets.canvas.set_shape_visible(shape=shape, value=visible)

    def set_shape_style(self, style: Any) -> None:
        """`style(shape)` -> changes to labelme's ShapeRenderContext for that shape (e.g.
        a dashed line), or {} for labelme's own look; only the drawing changes."""
        self._shape_style = style
        self._canvas_widgets.canvas.update()

    def shapes_edited(self) -> None:
        """After changing shapes in place: repaint, and mark the file changed (labelme then
        auto-saves it, or asks before leaving the frame)."""
        self._canvas_widgets.canvas.update()
        self.mark_dirty()


def user_config_file() -> Path | None:
    """labelme's own settings file (~/.labelmerc), so the app opens as the user's labelme."""
    path = Path(_config.get_user_config_file(create_if_missing=False))
    return path if path.is_file() else None
