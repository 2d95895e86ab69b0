"""One test per piece of labelme 7.9.1's private API that labelme_sam2.app.labelme_hooks
uses: a labelme upgrade that changes one fails here, by name."""

from __future__ import annotations

import json
from pathlib import Path

import labelme
from PySide6.QtCore import QPointF, Qt

from labelme_sam2.app.labelme_hooks import LABELME_VERSION, user_config_file
from labelme_sam2.formats.labelme_json import TOOL_FLAG


def test_the_labelme_these_hooks_were_tested_against():
    assert labelme.__version__ == LABELME_VERSION


def test_image_path_and_image_list_give_the_open_frame_and_folder(make_window, folder):
    window = make_window(folder)
    assert window.current_image() == folder / "00000.jpg"  # _image_path
    assert window.image_paths() == sorted(folder.glob("*.jpg"))  # image_list


def test_load_file_override_signals_each_frame_loaded(make_window, folder):
    window = make_window(folder)
    loaded: list[Path | None] = []
    window.frame_loaded.connect(lambda: loaded.append(window.current_image()))
    window.go_to_image(folder / "00004.jpg")  # _load_file
    assert loaded == [folder / "00004.jpg"]


def test_load_from_file_or_dir_opens_a_folder(make_window, folder, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "00000.jpg").write_bytes((folder / "00003.jpg").read_bytes())
    window = make_window(folder)
    window.open_folder(other)  # _load_from_file_or_dir
    assert window.current_image() == other / "00000.jpg"


def test_output_dir_is_the_annotation_folder(make_window, folder):
    window = make_window(folder)
    assert window.annotation_folder() is None  # _output_dir


def test_save_labels_writes_the_changed_frame_now(make_window, folder):
    window = make_window(folder)
    box = window.canvas_shapes()[0]
    box.label = "renamed"
    window._actions.save_auto.setChecked(False)  # so only save_current writes
    window.shapes_edited()  # mark_dirty
    assert window.has_unsaved_changes()  # _is_changed
    assert window.save_current()  # save_labels, current_label_file_path, _wait_for_save
    assert not window.has_unsaved_changes()
    labels = [s["label"] for s in json.loads((folder / "00000.json").read_text())["shapes"]]
    assert labels[0] == "renamed"


def test_is_mid_edit_while_a_shape_is_being_drawn(qtbot, make_window, folder):
    window = make_window(folder)
    canvas = window._canvas_widgets.canvas
    assert not window.is_mid_edit()  # is_drawing, _is_moving_shape
    canvas.set_editing(value=False, create_mode="polygon")
    corner = canvas.transform_image_point_to_widget(QPointF(100, 100))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=corner.toPoint())
    assert window.is_mid_edit() and canvas.is_drawing  # a polygon's first corner is down
    canvas._current = None  # the draft dropped: the drag flag alone counts too
    assert not window.is_mid_edit()
    canvas._is_moving_shape = True  # as labelme sets it while a shape is dragged
    assert window.is_mid_edit()
    canvas._is_moving_shape = False


def test_canvas_shapes_selection_and_visibility(make_window, folder):
    window = make_window(folder)
    shapes = window.canvas_shapes()  # _canvas_widgets.canvas.shapes
    window.select_shapes(shapes[:1])  # canvas.select_shapes
    assert window.selected_shapes() == shapes[:1]  # canvas.selected_shapes
    window.set_shapes_visible(shapes[:2], visible=False)  # label list items + set_shape_visible
    label_list = window._docks.label_list
    states = [label_list.find_item_by_shape(shape=s).checkState() for s in shapes]
    assert states[:2] == [Qt.CheckState.Unchecked] * 2
    assert all(state == Qt.CheckState.Checked for state in states[2:])
    assert [s.visible for s in shapes[:3]] == [False, False, True]


def test_render_context_wrap_draws_predicted_shapes_dashed(make_window, folder):
    window = make_window(folder)
    user, other = window.canvas_shapes()[:2]
    other.flags = {**(other.flags or {}), TOOL_FLAG: True}
    canvas = window._canvas_widgets.canvas
    # canvas._render_context(shape=, highlighted=) -> ShapeRenderContext(line_style=...)
    assert canvas._render_context(shape=user, highlighted=False).line_style == (
        Qt.PenStyle.SolidLine
    )
    assert canvas._render_context(shape=other, highlighted=False).line_style == (
        Qt.PenStyle.DashLine
    )
    window.grab()  # and labelme paints with it


def test_user_config_file_is_labelmes_own(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_config_file() is None  # get_user_config_file(create_if_missing=)
    (tmp_path / ".labelmerc").write_text("auto_save: false\n")
    assert user_config_file() == tmp_path / ".labelmerc"
