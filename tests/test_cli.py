"""The command line on bad input: one line naming the file, exit 2, nothing on disk changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelme_sam2.cli.main import main
from tests.conftest import folder_bytes, shape


def run(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["track", *args])
    return code, capsys.readouterr().err.strip().splitlines()


def break_file(folder: Path, name: str, content: str) -> None:
    (folder / name).write_text(content)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("00000.json", '{"shapes": [', "00000.json: invalid JSON"),
        (
            "00003.json",
            json.dumps({"shapes": [shape("boy", "rectangle", [[5, 5], [5, 90]])]}),
            "00003.json: box for object 'boy' has zero area",
        ),
        ("00004.jpg", "not an image", "00004.jpg: cannot decode image"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(bedroom: Path, capsys, name, content, problem):
    break_file(bedroom, name, content)
    before = folder_bytes(bedroom)
    code, lines = run(capsys, str(bedroom), "--checkpoint", "random", "--save-masks")
    assert code == 2
    errors = [line for line in lines if line.startswith("labelme-sam2: error:")]
    assert len(errors) == 1 and problem in errors[0]
    assert folder_bytes(bedroom) == before


def test_missing_checkpoint_is_one_line(bedroom: Path, tmp_path: Path, capsys):
    before = folder_bytes(bedroom)
    code, lines = run(capsys, str(bedroom), "--checkpoints-dir", str(tmp_path / "none"))
    assert code == 2
    errors = [line for line in lines if "error" in line]
    assert errors == [
        f"labelme-sam2: error: {tmp_path / 'none' / 'sam2.1_hiera_base_plus.pt'}: checkpoint not "
        "found; get it with `labelme-sam2 download sam2.1_hiera_base_plus` (or "
        "checkpoints/download.sh sam2.1_hiera_base_plus), or pass --checkpoint PATH"
    ]
    assert folder_bytes(bedroom) == before


def test_image_size_must_be_a_multiple_of_32(bedroom: Path, capsys):
    code, lines = run(capsys, str(bedroom), "--image-size", "250")
    assert code == 2 and lines == [
        "labelme-sam2: error: --image-size: 250 is not a positive multiple of 32"
    ]
