"""examples/track_with_api.py runs as docs/api.md says, and the doc's runnable code blocks use
only the public API (labelme_sam2.api.__all__)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import labelme_sam2.api
from tests.conftest import REPO, copy_bedroom

EXAMPLE = REPO / "examples" / "track_with_api.py"
API_DOC = REPO / "docs" / "api.md"
RANDOM_TINY = [
    "--model", "sam2.1_hiera_tiny", "--checkpoint", "random", "--image-size", "256",
    "--device", "cpu",
]  # fmt: skip
FRAMES = 4


def run_example(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS": "1"}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), str(folder), *RANDOM_TINY, *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def progress_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.fullmatch(r"\d+/\d+", line)]


def user_shapes(document: dict) -> list[dict]:
    return [s for s in document["shapes"] if s.get("flags", {}).get("labelme_sam2") is not True]


@pytest.mark.sam2
def test_the_example_tracks_every_frame_and_writes_the_outputs(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=FRAMES)
    drawn = json.loads((folder / "00000.json").read_text())

    done = run_example(folder)

    assert done.returncode == 0, done.stderr
    assert progress_lines(done.stdout) == [f"{i}/{FRAMES}" for i in range(1, FRAMES + 1)]
    assert done.stdout.splitlines()[-1].startswith(f"tracked {FRAMES} frames x 2 objects")
    for i in range(FRAMES):
        document = json.loads((folder / f"{i:05d}.json").read_text())
        assert document["imagePath"] == f"{i:05d}.jpg"
        # The user's shapes stay as drawn; every other shape is ours, flagged. Random weights
        # may give an object no pixel on a frame, so the count of ours is not fixed.
        assert user_shapes(document) == (drawn["shapes"] if i == 0 else [])
    assert (folder / ".labelme-sam2" / "run.json").is_file()
    assert (tmp_path / "bedroom_overlay.mp4").stat().st_size > 0
    masks = tmp_path / "bedroom_masks"
    assert sorted(p.name for p in masks.glob("*.png")) == [f"{i:05d}.png" for i in range(FRAMES)]
    assert sorted(p.name for p in masks.iterdir() if p.is_dir()) == ["boy", "girl"]


@pytest.mark.sam2
def test_cancel_after_2_stops_after_frame_2_and_leaves_no_run_record(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=FRAMES)

    done = run_example(folder, "--cancel-after", "2")

    assert done.returncode == 0, done.stderr
    assert progress_lines(done.stdout)[:2] == ["1/4", "2/4"]
    # The model runs ahead of the files: the frame being written when the cancel came is
    # finished, so 2 or 3 frames are in every output, and as many or more LabelMe files.
    line = done.stdout.splitlines()[-1]
    found = re.match(rf"cancelled after ([23]) of {FRAMES} frames; wrote ([23]) LabelMe", line)
    assert found is not None and found[1] <= found[2], line
    # Those frames' files are written; the rest are as they were (no file); the video was
    # never finished, so it is not there; without a run record the next run recomputes all.
    written = [f"{i:05d}.json" for i in range(int(found[2]))]
    assert sorted(p.name for p in folder.glob("0000[0-3].json")) == written
    assert not (tmp_path / "bedroom_overlay.mp4").exists()
    assert not (folder / ".labelme-sam2" / "run.json").exists()


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path: Path):
    done = run_example(tmp_path, "--image-size", "100")  # ModelOptions refuses it: no torch
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: --image-size: 100 is not a positive multiple of 32"]


def runnable_blocks(markdown: str) -> list[str]:
    """The ```python blocks right after a `<!-- runnable -->` line."""
    return re.findall(r"^<!-- runnable -->\n```python\n(.*?)^```", markdown, re.M | re.S)


def labelme_sam2_imports(code: str) -> list[tuple[str, str]]:
    """(module, name) of every import from labelme_sam2 in `code`."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labelme_sam2"):
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("labelme_sam2")]
    return found


def test_the_docs_runnable_code_and_the_example_use_only_the_public_api():
    blocks = runnable_blocks(API_DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 3, "docs/api.md marks its runnable blocks with <!-- runnable -->"
    public = set(labelme_sam2.api.__all__)
    for code in [*blocks, EXAMPLE.read_text(encoding="utf-8")]:
        imports = labelme_sam2_imports(code)
        assert imports, code
        for module, name in imports:
            assert module == "labelme_sam2.api", (module, name)
            assert name in public, name


def test_the_doc_names_every_public_name():
    listed = set(re.findall(r"`(\w+)`", API_DOC.read_text(encoding="utf-8")))
    missing = sorted(set(labelme_sam2.api.__all__) - listed)
    assert not missing, f"docs/api.md does not describe {missing}"
