from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelme_sam2.core.frames import find_frames, natural_key
from labelme_sam2.errors import InputError


def save(path: Path, width: int = 16, height: int = 12) -> None:
    Image.fromarray(np.zeros((height, width, 3), dtype=np.uint8)).save(path)


def test_frames_of_any_name_and_case_sort_naturally(tmp_path: Path):
    for name in ["f10.jpg", "f2.JPEG", "F1.png", "f2b.jpg", "notes.txt", "f9.gif"]:
        save(tmp_path / name) if not name.endswith(".txt") else (tmp_path / name).write_text("x")
    frames = find_frames(tmp_path)
    assert [p.name for p in frames.paths] == ["F1.png", "f2.JPEG", "f2b.jpg", "f10.jpg"]
    assert (frames.width, frames.height) == (16, 12)
    assert sorted(["b10", "b9", "a100"], key=natural_key) == ["a100", "b9", "b10"]


def test_no_frames(tmp_path: Path):
    with pytest.raises(InputError, match="no frames found"):
        find_frames(tmp_path)


def test_frames_of_different_sizes(tmp_path: Path):
    save(tmp_path / "0.jpg")
    save(tmp_path / "1.jpg", width=20)
    with pytest.raises(InputError) as caught:
        find_frames(tmp_path)
    assert caught.value.where.endswith("1.jpg") and "20x12" in caught.value.problem


def test_corrupt_frame(tmp_path: Path):
    save(tmp_path / "0.jpg", 64, 64)
    data = (tmp_path / "0.jpg").read_bytes()
    (tmp_path / "1.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as caught:
        find_frames(tmp_path)
    assert caught.value.where.endswith("1.jpg") and "cannot decode" in caught.value.problem


def test_two_frames_with_one_stem(tmp_path: Path):
    save(tmp_path / "0.jpg")
    save(tmp_path / "0.png")
    with pytest.raises(InputError, match="share the name"):
        find_frames(tmp_path)


def test_exif_orientation_is_applied_as_labelme_and_browsers_do(tmp_path: Path):
    folder = tmp_path / "phone"
    folder.mkdir()
    rng = np.random.default_rng(0)
    stored = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    stored.save(folder / "00000.png", exif=exif)
    frames = find_frames(folder)
    assert (frames.width, frames.height) == (40, 60)
    upright = np.asarray(stored.transpose(Image.Transpose.ROTATE_270))
    assert np.array_equal(frames.read_rgb(0), upright)
