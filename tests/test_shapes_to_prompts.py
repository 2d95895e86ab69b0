"""LabelMe shapes -> prompt set, and every bad input the issue lists, table-driven."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from labelme_sam2.core.prompts import Box, Click, ObjectKey
from labelme_sam2.errors import InputError
from labelme_sam2.formats.labelme_json import TOOL_FLAG
from labelme_sam2.labelme_adapter.chunk import read_folder
from tests.conftest import labelme_file, shape

W, H = 120, 80


def page(*shapes: dict[str, Any], image: str = "00000.png") -> dict[str, Any]:
    return labelme_file(list(shapes), image=image, width=W, height=H)


def mask_b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def read(make_folder: Callable[..., Path], files: dict[str, Any]) -> tuple[Any, list[str]]:
    warnings: list[str] = []
    return read_folder(make_folder(files), warn=warnings.append), warnings


def test_rectangle_points_and_negative_points_make_one_object(make_folder):
    folder, _ = read(
        make_folder,
        {
            "00000.json": page(
                shape("girl", "rectangle", [[50, 60], [10, 5]]),
                shape("girl", "point", [[30, 30]]),
                shape("girl_neg", "point", [[5, 70]]),
            )
        },
    )
    prompt = folder.prompts.objects[ObjectKey("girl", None)][0]
    assert prompt.box == Box(10, 5, 50, 60)
    assert prompt.clicks == [Click(30, 30, True), Click(5, 70, False)]
    assert list(folder.prompts.objects) == [ObjectKey("girl", None)]


def test_group_id_separates_objects_and_frames_give_keyframes(make_folder):
    folder, _ = read(
        make_folder,
        {
            "00000.json": page(
                shape("person", "rectangle", [[0, 0], [10, 10]], group_id=1),
                shape("person", "rectangle", [[20, 20], [30, 30]], group_id=2),
            ),
            "00003.json": page(shape("person", "point", [[5, 5]], group_id=1), image="00003.png"),
        },
    )
    objects = folder.prompts.objects
    assert list(objects) == [ObjectKey("person", 1), ObjectKey("person", 2)]
    assert sorted(objects[ObjectKey("person", 1)]) == [0, 3]
    assert sorted(objects[ObjectKey("person", 2)]) == [0]


def test_polygons_of_one_object_on_one_frame_are_one_mask(make_folder):
    folder, _ = read(
        make_folder,
        {
            "00001.json": page(
                shape("cup", "polygon", [[10, 10], [30, 10], [30, 30], [10, 30]]),
                shape("cup", "polygon", [[60, 10], [80, 10], [80, 30]]),
                image="00001.png",
            )
        },
    )
    mask = folder.prompts.objects[ObjectKey("cup", None)][1].mask
    assert mask is not None and mask.shape == (H, W)
    assert mask[20, 20] and mask[12, 78] and not mask[50, 50]
    assert mask[10:31, 10:31].all()  # labelme fills the outline too


def test_mask_shape_is_placed_at_its_inclusive_box(make_folder):
    crop = np.zeros((5, 7), dtype=np.uint8)
    crop[1:4, 2:6] = 1
    folder, _ = read(
        make_folder,
        {"00000.json": page(shape("dog", "mask", [[40, 20], [46, 24]], mask=mask_b64(crop)))},
    )
    mask = folder.prompts.objects[ObjectKey("dog", None)][0].mask
    expected = np.zeros((H, W), dtype=bool)
    expected[20:25, 40:47] = crop.astype(bool)
    assert np.array_equal(mask, expected)


def test_other_shape_types_warn_once_per_type_and_tool_shapes_are_not_prompts(make_folder):
    tool = shape("boy", "rectangle", [[0, 0], [5, 5]], flags={TOOL_FLAG: True})
    folder, warnings = read(
        make_folder,
        {
            "00000.json": page(
                shape("boy", "point", [[3, 3]]),
                shape("ball", "circle", [[3, 3], [5, 5]]),
                shape("ball", "circle", [[30, 30], [35, 35]]),
                shape("line", "line", [[3, 3], [5, 5]]),
                tool,
            ),
            "notes.json": page(),
        },
    )
    assert folder.prompts.objects[ObjectKey("boy", None)][0].box is None  # the tool's box
    assert ObjectKey("ball", None) not in folder.prompts.objects
    assert sum("'circle'" in w for w in warnings) == 1
    assert sum("'line'" in w for w in warnings) == 1
    assert any("notes.json" in w for w in warnings)


BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("invalid JSON", {"00000.json": '{"shapes": [}'}, "00000.json", "invalid JSON at line 1"),
    ("no shapes list", {"00000.json": "{}"}, "00000.json", "no 'shapes' list"),
    (
        "unknown shape type",
        {"00000.json": page(shape("a", "blob", [[1, 1]]))},
        "00000.json",
        "unknown shape_type 'blob'",
    ),
    (
        "rectangle with three points",
        {"00000.json": page(shape("a", "rectangle", [[1, 1], [5, 5], [9, 9]]))},
        "00000.json",
        "needs exactly 2 point(s), has 3",
    ),
    (
        "point with two points",
        {"00000.json": page(shape("a", "point", [[1, 1], [5, 5]]))},
        "00000.json",
        "needs exactly 1 point(s), has 2",
    ),
    (
        "polygon with two points",
        {"00000.json": page(shape("a", "polygon", [[1, 1], [5, 5]]))},
        "00000.json",
        "at least 3 points, has 2",
    ),
    (
        "point that is not a pair",
        {"00000.json": page(shape("a", "point", [[1, "x"]]))},
        "00000.json",
        "is not an [x, y] pair",
    ),
    (
        "zero-area box",
        {"00000.json": page(shape("a", "rectangle", [[10, 10], [10, 40]]))},
        "00000.json",
        "zero area",
    ),
    (
        "box outside the image",
        {"00000.json": page(shape("a", "rectangle", [[10, 10], [130, 40]]))},
        "00000.json",
        "outside the 120x80 image",
    ),
    (
        "point outside the image",
        {"00000.json": page(shape("a", "point", [[-1, 10]]))},
        "00000.json",
        "outside the 120x80 image",
    ),
    (
        "polygon outside the image",
        {"00000.json": page(shape("a", "polygon", [[1, 1], [50, 90], [5, 5]]))},
        "00000.json",
        "outside the 120x80 image",
    ),
    (
        "only negative points",
        {"00003.json": page(shape("car_neg", "point", [[5, 5]]), image="00003.png")},
        "00003.json",
        "only negative points",
    ),
    (
        "two boxes for one object on one frame",
        {
            "00000.json": page(
                shape("a", "rectangle", [[1, 1], [5, 5]]),
                shape("a", "rectangle", [[10, 10], [50, 50]]),
            )
        },
        "00000.json",
        "two boxes",
    ),
    (
        "negative suffix on a rectangle",
        {"00000.json": page(shape("a_neg", "rectangle", [[1, 1], [5, 5]]))},
        "00000.json",
        "marks negative points",
    ),
    (
        "mask and box for one object on one frame",
        {
            "00000.json": page(
                shape("a", "rectangle", [[1, 1], [5, 5]]),
                shape("a", "polygon", [[10, 10], [50, 10], [50, 50]]),
            )
        },
        "00000.json",
        "either a mask or a box",
    ),
    (
        "mask shape that is not a PNG",
        {"00000.json": page(shape("a", "mask", [[1, 1], [5, 5]], mask="bm90IGEgcG5n"))},
        "00000.json",
        "not a base64 PNG",
    ),
    (
        "file drawn on an image of another size",
        {"00000.json": labelme_file([], image="00000.png", width=1920, height=1080)},
        "00000.json",
        "1920x1080 but the frame is 120x80",
    ),
    (
        "no prompts at all",
        {"00000.json": page(shape("ball", "circle", [[3, 3], [5, 5]]))},
        "frames",
        "no prompts found",
    ),
    ("no LabelMe files", {}, "frames", "no prompts found"),
]


@pytest.mark.parametrize(
    ("files", "where", "problem"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_names_the_file_and_the_problem(make_folder, files, where, problem):
    with pytest.raises(InputError) as caught:
        read(make_folder, files)
    assert Path(caught.value.where).name == where
    assert problem in caught.value.problem
    assert "\n" not in str(caught.value)
