"""LabelMe stays open while `track` runs: what the user saves meanwhile is never lost, two
runs on one folder never interleave, and links are written through, not replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from labelme_sam2.api import _track
from labelme_sam2.cli.main import main
from labelme_sam2.formats.folder_lock import only_run_in
from labelme_sam2.formats.labelme_json import is_tool_shape
from tests.conftest import REPO, copy_bedroom, folder_bytes, labelme_file, shape
from tests.scripted_tracker import ScriptedTracker, scripted_model

W, H = 960, 540


class EditsMidRun(ScriptedTracker):
    """Runs `edit` (the user saving in LabelMe) once, when the model has computed frame 0 and
    before it is written."""

    def __init__(self, edit: Callable[[], None]) -> None:
        super().__init__()
        self.edit = edit

    def track(self, frames, prompts, *, plan=None, after_step=None):
        for number, result in enumerate(super().track(frames, prompts, plan=plan)):
            if number == 0:
                self.edit()
            yield result


def run_cli(monkeypatch, folder: Path, edit: Callable[[], None], capsys) -> tuple[int, str]:
    model = scripted_model(EditsMidRun(edit))
    monkeypatch.setattr(_track, "load_model", lambda options, **_: model)
    code = main(["track", str(folder)])
    return code, capsys.readouterr().err


def shapes_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["shapes"]


def save(path: Path, shapes: list[dict]) -> None:
    path.write_text(json.dumps(labelme_file(shapes, image=f"{path.stem}.jpg", width=W, height=H)))


def test_a_shape_that_is_no_prompt_saved_meanwhile_is_kept_and_our_masks_merged(
    tmp_path: Path, monkeypatch, capsys
):
    folder = copy_bedroom(tmp_path, frames=8)
    first = folder / "00000.json"
    circle = shape("lamp", "circle", [[100, 100], [120, 120]])

    def add_circle() -> None:
        document = json.loads(first.read_text())
        document["shapes"].append(circle)
        first.write_text(json.dumps(document))

    code, _ = run_cli(monkeypatch, folder, add_circle, capsys)
    assert code == 0
    shapes = shapes_of(first)
    assert circle in shapes  # the user's save survived
    assert {s["label"] for s in shapes if is_tool_shape(s)} == {"boy", "girl"}  # and ours came


def test_new_prompts_saved_meanwhile_are_left_alone_and_reported(
    tmp_path: Path, monkeypatch, capsys
):
    folder = copy_bedroom(tmp_path, frames=8)
    new_file, moved = folder / "00006.json", folder / "00000.json"
    box = shape("cat", "rectangle", [[10, 10], [200, 200]])

    def annotate() -> None:
        save(new_file, [box])  # a new object on a frame that had no file
        document = json.loads(moved.read_text())
        document["shapes"][0]["points"] = [[5.0, 5.0], [300.0, 300.0]]  # a box moved
        moved.write_text(json.dumps(document))

    code, err = run_cli(monkeypatch, folder, annotate, capsys)
    saved_new, saved_moved = new_file.read_bytes(), moved.read_bytes()
    assert code == 3
    warnings = [line for line in err.splitlines() if "not updated" in line]
    assert len(warnings) == 2
    assert all("its prompts changed during the run" in line for line in warnings)
    assert {Path(line.split(": ")[2]).name for line in warnings} == {"00000.json", "00006.json"}
    assert shapes_of(new_file) == [box]  # exactly as the user saved them
    assert new_file.read_bytes() == saved_new and moved.read_bytes() == saved_moved
    assert all(is_tool_shape(s) for s in shapes_of(folder / "00003.json"))  # others written


def test_a_second_run_on_the_folder_is_refused_and_a_killed_run_leaves_no_lock(
    tmp_path: Path, capsys
):
    folder = copy_bedroom(tmp_path, frames=4)
    before = folder_bytes(folder)
    with only_run_in(folder):
        assert main(["track", str(folder), "--checkpoint", "random"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert (
        len(errors) == 1 and "another `labelme-sam2 track` is running on this folder" in errors[0]
    )
    assert folder_bytes(folder) == before

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from pathlib import Path\n"
         "from labelme_sam2.formats.folder_lock import only_run_in\n"
         "with only_run_in(Path(sys.argv[1])):\n"
         "    print('held', flush=True); time.sleep(60)\n", str(folder)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(Exception, match="another `labelme-sam2 track`"), only_run_in(folder):
            pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    with only_run_in(folder):  # the killed run's lock went with it
        pass


def test_a_link_into_the_folder_is_written_through(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=4)
    kept = folder / "annotations" / "first.json"
    kept.parent.mkdir()
    (folder / "00000.json").rename(kept)
    (folder / "00000.json").symlink_to(Path("annotations") / "first.json")
    _track.track(folder, model=scripted_model())
    assert (folder / "00000.json").is_symlink()
    assert {s["label"] for s in shapes_of(kept) if is_tool_shape(s)} == {"boy", "girl"}


def test_a_link_out_of_the_folder_is_one_line(tmp_path: Path, capsys):
    folder = copy_bedroom(tmp_path / "clip", frames=4)
    outside = tmp_path / "elsewhere.json"
    (folder / "00000.json").rename(outside)
    (folder / "00000.json").symlink_to(outside)
    before = folder_bytes(folder) | {"outside": outside.read_bytes()}
    assert main(["track", str(folder), "--checkpoint", "random"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "is a link to" in errors[0] and "outside the folder" in errors[0]
    assert folder_bytes(folder) | {"outside": outside.read_bytes()} == before
