"""Shared by the extract tests: the shared clips, running `extract`, its one error line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelme_sam2.cli.main import main
from labelme_sam2.video.reader import VideoFrames
from tests.test_video_reader import VIDEOS

DOG = VIDEOS / "01_dog.mp4"
HUMMINGBIRD = VIDEOS / "02_hummingbird.mp4"
DOG_FRAME_TIME = Fraction(1001, 30000)  # 29.97 fps


def extract(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["extract", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("labelme-sam2: error: "), err
    return lines[0].removeprefix("labelme-sam2: error: ")


def dog_frames_between(start: Fraction, end: Fraction) -> list[int]:
    return [k for k in range(289) if start <= k * DOG_FRAME_TIME < end]


def load(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_is_frame(jpg: np.ndarray, frames: VideoFrames, source: int) -> None:
    """A JPEG is closer to its source frame than to the frames either side of it."""
    own = mean_difference(jpg, frames.read_rgb(source))
    assert own < 2.5, (source, own)
    for other in (source - 1, source + 1):
        if 0 <= other < len(frames):
            assert own < mean_difference(jpg, frames.read_rgb(other)), (source, other)


def folder_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())
