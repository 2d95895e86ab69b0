from __future__ import annotations

import json
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.media_server import MediaServer

REPO = Path(__file__).resolve().parents[1]
# tests/app needs the LabelMe app's environment (Python 3.12, labelme 7.9.1, PySide6):
# scripts/test.sh runs it there, in .venv-labelme312.
collect_ignore = [] if sys.version_info >= (3, 12) else ["app"]
SHARED_BEDROOM = REPO.parent / "shared" / "data" / "frames" / "bedroom"


def copy_bedroom(destination: Path, *, frames: int = 20) -> Path:
    """The first `frames` frames of the shared bedroom clip and all its LabelMe files."""
    source = SHARED_BEDROOM if SHARED_BEDROOM.is_dir() else REPO / "examples" / "bedroom"
    folder = destination / "bedroom"
    folder.mkdir(parents=True)
    for path in sorted(source.glob("*.jpg"))[:frames]:
        shutil.copyfile(path, folder / path.name)
    for path in sorted(source.glob("*.json")):
        shutil.copyfile(path, folder / path.name)
    return folder


@pytest.fixture
def bedroom(tmp_path: Path) -> Path:
    return copy_bedroom(tmp_path)


def labelme_file(shapes: list[dict[str, Any]], *, image: str, width: int, height: int) -> dict:
    return {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": image,
        "imageData": None,
        "imageHeight": height,
        "imageWidth": width,
    }


def shape(
    label: str,
    shape_type: str,
    points: list[list[float]],
    group_id: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "label": label,
        "points": points,
        "group_id": group_id,
        "description": "",
        "shape_type": shape_type,
        "flags": {},
        "mask": None,
        **extra,
    }


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    """A synthetic frame folder: `frames` noise PNGs of 120x80 plus the given LabelMe files."""

    def make(files: dict[str, Any], *, frames: int = 6, width: int = 120, height: int = 80) -> Path:
        folder = tmp_path / "frames"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(frames):
            pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:05d}.png")
        for name, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content, indent=2)
            (folder / name).write_text(text)
        return folder

    return make


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below the folder's parent, for 'nothing on disk changed' checks."""
    return {
        str(p.relative_to(folder.parent)): p.read_bytes()
        for p in sorted(folder.parent.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def document_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Media as Label Studio's local-files storage shares them with the backend."""
    from label_studio_sdk._extensions.label_studio_tools.core.utils import io as sdk_io

    from tests.ls_helpers import make_media_root

    root = make_media_root(tmp_path / "media")
    # What LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT sets in the SDK when the backend starts.
    monkeypatch.setattr(sdk_io, "LOCAL_FILES_DOCUMENT_ROOT", str(root))
    return root


@pytest.fixture(scope="session")
def tiny_sam2():
    """SAM 2.1 tiny, random weights (fixed seed), at 256 on CPU: built once per test run."""
    import os

    from labelme_sam2.models.registry import choose_model
    from labelme_sam2.sam2_tracker.device import select_device
    from labelme_sam2.sam2_tracker.model import build_sam2

    os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"
    try:
        choice = choose_model(model="sam2.1_hiera_tiny", checkpoint="random", checkpoints_dir=REPO)
    finally:
        del os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"]
    return build_sam2(choice, device=select_device("cpu"), image_size=256)


# Media hosts for the download tests (tests/test_media_download.py, test_media_addresses.py).
@pytest.fixture
def server() -> Iterator[MediaServer]:
    with MediaServer() as running:
        yield running


@pytest.fixture
def other() -> Iterator[MediaServer]:
    """A second host: another port is another origin."""
    with MediaServer() as running:
        yield running


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names ending in .test resolve to the addresses listed here (the rest as usual)."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            if host not in names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port or 0, 0, 0) if ":" in ip else (ip, port or 0),
                )
                for ip in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names
