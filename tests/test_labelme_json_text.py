"""formats.labelme_json.dumps writes its points itself, for speed: its bytes must be exactly
json.dumps(document, ensure_ascii=False, indent=2)'s, for every document."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.formats.labelme_json import dumps, tool_shape
from tests.conftest import SHARED_BEDROOM, labelme_file, shape


def reference(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def random_points(rng: np.random.Generator) -> list:
    count = int(rng.integers(0, 40))
    kind = rng.integers(0, 4)
    if kind == 0:
        return [[float(x), float(y)] for x, y in rng.uniform(-5, 5000, (count, 2))]
    if kind == 1:
        return [[int(x), int(y)] for x, y in rng.integers(-3, 4000, (count, 2))]
    if kind == 2:  # floats that repr long, tiny and huge
        return [[float(x) / 3, float(y) * 1e17] for x, y in rng.uniform(0, 1, (count, 2))]
    return [[float(np.float64(x)), 7] for x in rng.uniform(0, 9, count)]


def test_the_same_bytes_as_json_for_random_documents():
    rng = np.random.default_rng(5)
    for _ in range(300):
        shapes = []
        for index in range(int(rng.integers(0, 6))):
            shapes.append(shape(f"obj{index} ünï", "polygon", random_points(rng)))
            shapes.append(
                tool_shape(
                    label="car",
                    group_id=int(index),
                    shape_type="polygon",
                    points=random_points(rng),
                )
            )
        document = labelme_file(shapes, image="00000.jpg", width=960, height=540)
        assert dumps(document) == reference(document)


@pytest.mark.parametrize(
    "points",
    [
        [[1.0, 2.0, 3.0]],  # not a pair
        [[True, 2.0]],  # a bool is no number here: json writes true
        [["1", 2.0]],
        [[np.float64(1.5), 2.0]],  # numpy floats: json writes them as floats
        [[1.0, 2.0], "x"],
        "not a list",
        None,
    ],
)
def test_the_same_bytes_for_unusual_points(points):
    document = labelme_file([shape("a", "polygon", points)], image="a.jpg", width=9, height=9)
    assert dumps(document) == reference(document)


def test_a_label_holding_the_placeholder_text_changes_nothing():
    trap = "\x00labelme-sam2 points 0"
    shapes = [
        shape(trap, "polygon", [[1.0, 2.0], [3.0, 4.0], [5.0, 6.5]]),
        shape("b", "point", [[1, 2]]),
    ]
    document = labelme_file(shapes, image="a.jpg", width=9, height=9)
    assert dumps(document) == reference(document)


def test_the_same_bytes_for_the_sample_files_and_numpy_masks():
    for path in sorted(Path(SHARED_BEDROOM).glob("*.json")):
        document = json.loads(path.read_text())
        assert dumps(document) == reference(document)
    polygon = np.array([[10, 20], [30, 20], [30, 45]], dtype=np.int32).astype(np.float64).tolist()
    document = labelme_file(
        [tool_shape(label="m", group_id=None, shape_type="polygon", points=polygon)],
        image="a.jpg",
        width=99,
        height=99,
    )
    assert dumps(document) == reference(document)


def test_documents_without_shapes_or_with_odd_ones():
    assert dumps({"shapes": []}) == reference({"shapes": []})
    assert dumps({"shapes": "none"}) == reference({"shapes": "none"})
    assert dumps({"shapes": [1, 2]}) == reference({"shapes": [1, 2]})
    assert dumps({"a": 1}) == reference({"a": 1})
