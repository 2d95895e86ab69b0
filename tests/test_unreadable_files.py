"""Files that cannot be read or written: one error line naming the file, exit 2, and every file
already on disk left whole (old or new, never torn)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from labelme_sam2.cli.main import main
from labelme_sam2.core.frames import find_frames
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.errors import OutputError
from labelme_sam2.formats import atomic
from labelme_sam2.formats.atomic import replace_atomically, write_atomically
from labelme_sam2.formats.labelme_json import read_document
from labelme_sam2.writers.h264_file import H264File
from labelme_sam2.writers.mask_pngs import MaskPngWriter
from tests.conftest import folder_bytes
from tests.scripted_tracker import use_scripted_model

DENIED = PermissionError(13, "Permission denied")


def track(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["track", *args])
    lines = capsys.readouterr().err.strip().splitlines()
    return code, [line for line in lines if line.startswith("labelme-sam2: error:")]


def fail_for(monkeypatch, owner: object, name: str, path: Path) -> None:
    """Make `owner.name(self_or_path, ...)` raise PermissionError for `path` only."""
    original = getattr(owner, name)

    def failing(target, *args, **kwargs):
        if Path(target) == path:
            raise PermissionError(13, "Permission denied", str(target))
        return original(target, *args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


# --- reading LabelMe files ---------------------------------------------------------------


def _folder_named_json(path: Path) -> None:
    path.mkdir()


def _dangling_symlink(path: Path) -> None:
    os.symlink(path.parent / "nowhere" / "00003.json", path)


def _symlink_loop(path: Path) -> None:
    os.symlink(path.name, path)  # points at itself


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_folder_named_json, "00003.json: a folder, not a LabelMe file"),
        (_dangling_symlink, "00003.json: cannot read (a symbolic link to"),
        (_symlink_loop, "00003.json: cannot read (Too many levels of symbolic links)"),
    ],
    ids=["folder", "dangling-symlink", "symlink-loop"],
)
def test_labelme_path_that_is_no_readable_file(bedroom: Path, capsys, make, problem):
    make(bedroom / "00003.json")
    before = folder_bytes(bedroom)
    code, errors = track(capsys, str(bedroom), "--checkpoint", "random", "--save-masks")
    assert code == 2
    assert len(errors) == 1 and problem in errors[0], errors
    assert folder_bytes(bedroom) == before


def test_unreadable_labelme_file(bedroom: Path, capsys, monkeypatch):
    path = bedroom / "00000.json"
    fail_for(monkeypatch, Path, "read_text", path)
    before = folder_bytes(bedroom)
    code, errors = track(capsys, str(bedroom), "--checkpoint", "random", "--save-masks")
    assert code == 2
    assert errors == [f"labelme-sam2: error: {path}: cannot read (Permission denied)"]
    assert folder_bytes(bedroom) == before


# --- writing -----------------------------------------------------------------------------


def test_write_over_a_folder_is_an_output_error(tmp_path: Path):
    target = tmp_path / "00000.json"
    target.mkdir()
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(OutputError, match=r"00000\.json: cannot write: a folder is in the way"):
        write_atomically(target, b"{}")
    assert (target / "inside").read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.json"]


def test_unreadable_old_file_is_an_output_error(tmp_path: Path, monkeypatch):
    target = tmp_path / "00000.json"
    target.write_bytes(b"old")
    fail_for(monkeypatch, Path, "read_bytes", target)
    with pytest.raises(OutputError, match=r"00000.json: cannot write \(Permission denied\)"):
        write_atomically(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"


def test_folder_turned_read_only_after_the_temp_file(tmp_path: Path, monkeypatch):
    """The rename fails, and so does removing the temp file: still one OutputError."""
    target = tmp_path / "00000.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(atomic.os, "replace", _raise_denied)
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if Path(path).parent == tmp_path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "unlink", unlink)
    with pytest.raises(OutputError, match=r"00000.json: cannot write \(Permission denied\)"):
        write_atomically(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"


def _raise_denied(*args, **kwargs):
    raise PermissionError(13, "Permission denied")


def test_replace_atomically_failure_is_an_output_error(tmp_path: Path, monkeypatch):
    target, temp = tmp_path / "video.mp4", tmp_path / ".video.tmp.mp4"
    target.write_bytes(b"old video")
    temp.write_bytes(b"new video")
    monkeypatch.setattr(atomic.os, "replace", _raise_denied)
    with pytest.raises(OutputError, match=r"video.mp4: cannot write \(Permission denied\)"):
        replace_atomically(temp, target)
    monkeypatch.undo()
    assert target.read_bytes() == b"old video"
    assert not temp.exists()


def test_h264_file_into_read_only_folder(tmp_path: Path, monkeypatch):
    target = tmp_path / "overlay.mp4"
    target.write_bytes(b"old video")
    video = H264File(target, fps=10.0)
    for i in range(3):
        video.add(np.full((32, 48, 3), 40 * i, dtype=np.uint8))
    monkeypatch.setattr(atomic.os, "replace", _raise_denied)
    with pytest.raises(OutputError, match=r"overlay.mp4: cannot write \(Permission denied\)"):
        video.finish()
    monkeypatch.undo()
    assert target.read_bytes() == b"old video"
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]


def test_mask_folder_that_cannot_be_made(tmp_path: Path, monkeypatch):
    frames = find_frames(_tiny_frames(tmp_path))
    blocked = tmp_path / "blocked_masks"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == blocked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(OutputError, match=r"blocked_masks: cannot make the folder"):
        MaskPngWriter(frames, [ObjectKey("boy", None)], folder=blocked)


def _tiny_frames(tmp_path: Path) -> Path:
    from PIL import Image

    folder = tmp_path / "tiny"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return folder


# --- writing, end to end -----------------------------------------------------------------


def test_file_in_the_way_of_the_mask_folder(bedroom: Path, capsys, monkeypatch):
    use_scripted_model(monkeypatch)
    in_the_way = bedroom.parent / "bedroom_masks"
    in_the_way.write_bytes(b"not a folder")
    before = folder_bytes(bedroom)
    code, errors = track(capsys, str(bedroom), "--save-masks")
    assert code == 2
    assert len(errors) == 1 and f"{in_the_way}: cannot make the folder" in errors[0], errors
    assert folder_bytes(bedroom) == before


def test_write_that_fails_mid_run_leaves_each_file_old_or_new(bedroom: Path, capsys, monkeypatch):
    use_scripted_model(monkeypatch)
    assert main(["track", str(bedroom), "--save-masks"]) == 0  # every frame has a LabelMe file
    old = folder_bytes(bedroom)
    failing = bedroom / "00010.json"
    with monkeypatch.context() as patch:
        fail_for(patch, Path, "read_bytes", failing)  # only write_atomically reads bytes
        code, errors = track(capsys, str(bedroom), "--save-masks", "--as", "mask")
    assert code == 2
    assert errors == [f"labelme-sam2: error: {failing}: cannot write (Permission denied)"]
    labelme_files = sorted(bedroom.glob("*.json"))
    assert len(labelme_files) == 21  # 20 frames, and 00060.json beyond them
    for path in labelme_files:
        read_document(path)
    after_failure = folder_bytes(bedroom)
    assert main(["track", str(bedroom), "--save-masks", "--as", "mask"]) == 0
    new = folder_bytes(bedroom)
    # Every LabelMe file and mask PNG is the old one or the new one; the store (.labelme-sam2)
    # is not compared: a failed run leaves it without a record, so the next run redoes it all.
    outputs = [key for key in after_failure if "/.labelme-sam2/" not in key]
    assert all(after_failure[key] in (old.get(key), new.get(key)) for key in outputs)
    assert not [key for key in after_failure if key.endswith(".tmp")]
    names = [str(path.relative_to(bedroom.parent)) for path in labelme_files]
    assert after_failure[names[10]] == old[names[10]] != new[names[10]]
    written = [name for name in names if after_failure[name] != old[name]]
    assert 0 < len(written) < 20  # the run did stop midway


def test_h264_file_that_cannot_start_in_its_folder(tmp_path: Path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", _raise_denied)
    video = H264File(tmp_path / "overlay.mp4", fps=10.0)
    with pytest.raises(OutputError, match=r"overlay.mp4: cannot write \(Permission denied\)"):
        video.add(np.zeros((32, 48, 3), dtype=np.uint8))


def test_a_file_where_the_mask_store_goes_is_one_line(bedroom: Path, capsys, monkeypatch):
    use_scripted_model(monkeypatch)
    (bedroom / ".labelme-sam2").write_text("not a folder")
    before = folder_bytes(bedroom)
    code, errors = track(capsys, str(bedroom))
    assert code == 2 and len(errors) == 1
    assert ".labelme-sam2/masks: cannot make the folder" in errors[0]
    assert folder_bytes(bedroom) == before
