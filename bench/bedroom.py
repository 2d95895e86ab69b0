"""The shared bedroom clip, as the benches copy it: the first N frames and its LabelMe files."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEDROOM = REPO.parent / "shared" / "data" / "frames" / "bedroom"


def copy_bedroom(destination: Path, *, frames: int) -> Path:
    """destination/bedroom with the first `frames` frames and every LabelMe file."""
    folder = destination / "bedroom"
    folder.mkdir()
    for path in sorted(BEDROOM.glob("*.jpg"))[:frames]:
        shutil.copyfile(path, folder / path.name)
    for path in BEDROOM.glob("*.json"):
        shutil.copyfile(path, folder / path.name)
    return folder
