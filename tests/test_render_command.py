"""`render`: the outputs `track` writes, from the stored masks, without the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from labelme_sam2.api import _track
from labelme_sam2.cli.main import main
from labelme_sam2.core.frames import FrameSequence
from labelme_sam2.render.fills import Fill
from tests.conftest import folder_bytes, shape
from tests.outputs_helpers import track_with_outputs

FLAGS = ["--video", "masked", "--fill", "avg", "--video", "overlay", "--export",
         "png,davis,coco,yolo", "--previews", "--contact-sheet", "4"]  # fmt: skip


def outputs(parent: Path) -> dict[str, bytes]:
    return {k: v for k, v in folder_bytes(parent / "bedroom").items() if "/" not in k or
            not k.startswith("bedroom/")}  # fmt: skip


def test_render_writes_what_track_wrote_without_the_model(bedroom: Path, monkeypatch, capsys):
    track_with_outputs(bedroom, videos=("masked", "overlay"), fill=Fill("avg"),
                       layers=("png", "davis", "coco", "yolo"), previews=True,
                       contact_sheet=4)  # fmt: skip
    from_track = outputs(bedroom.parent)
    assert any(name.endswith("_overlay.mp4") for name in from_track)
    for name in list(bedroom.parent.iterdir()):
        if name != bedroom:
            shutil.rmtree(name) if name.is_dir() else name.unlink()

    def no_model(*args, **kwargs):
        raise AssertionError("render loaded the model")

    monkeypatch.setattr(_track, "load_model", no_model)
    assert main(["render", str(bedroom), *FLAGS]) == 0
    assert outputs(bedroom.parent) == from_track  # byte for byte, videos included
    assert "rendered 20 frames x 2 objects" in capsys.readouterr().out


def one_error(capsys) -> str:
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    return errors[0]


def test_render_needs_a_finished_run_with_the_same_prompts(bedroom: Path, capsys):
    assert main(["render", str(bedroom), "--video", "overlay"]) == 2
    assert "no finished tracking run here" in one_error(capsys)

    track_with_outputs(bedroom)
    before = folder_bytes(bedroom)
    document = json.loads((bedroom / "00000.json").read_text())
    document["shapes"].append(shape("cat", "rectangle", [[10, 10], [50, 50]]))
    (bedroom / "00000.json").write_text(json.dumps(document))
    assert main(["render", str(bedroom), "--video", "overlay"]) == 2
    assert "the prompts changed since the last `labelme-sam2 track`" in one_error(capsys)
    assert not (bedroom.parent / "bedroom_overlay.mp4").exists()
    assert main(["render", str(bedroom)]) == 2
    assert "nothing to render" in one_error(capsys)
    after = folder_bytes(bedroom)
    assert {k: v for k, v in after.items() if not k.endswith("00000.json")} == {
        k: v for k, v in before.items() if not k.endswith("00000.json")
    }


def test_render_after_frames_changed_asks_for_track(bedroom: Path, capsys):
    track_with_outputs(bedroom)
    (bedroom / "00019.jpg").unlink()
    (bedroom / "00019.json").unlink()
    assert main(["render", str(bedroom), "--export", "davis"]) == 2
    assert "the frames changed" in one_error(capsys)


@pytest.mark.parametrize("kind", ["davis,cvat", ""])
def test_unknown_export_kind_is_one_argparse_line(bedroom: Path, capsys, kind):
    with pytest.raises(SystemExit):
        main(["render", str(bedroom), "--export", kind])
    assert "use png, davis, coco, yolo" in capsys.readouterr().err


def test_unreadable_stored_masks_are_one_line(bedroom: Path, capsys):
    track_with_outputs(bedroom)
    damaged = bedroom / ".labelme-sam2" / "masks" / "000005.bin"
    damaged.write_bytes(damaged.read_bytes()[:-40])
    assert main(["render", str(bedroom), "--export", "davis"]) == 2
    assert "cannot read the masks of frame 5" in one_error(capsys)
    assert not (bedroom.parent / "bedroom_davis" / "00005.png").exists()


def test_writers_of_one_frame_decode_it_once(bedroom: Path, monkeypatch):
    track_with_outputs(bedroom)
    reads: list[int] = []
    decode = FrameSequence.read_rgb

    def counted(self, index):
        reads.append(index)
        return decode(self, index)

    monkeypatch.setattr(FrameSequence, "read_rgb", counted)
    flags = ["--video", "masked", "--video", "overlay", "--previews", "--contact-sheet", "20"]
    assert main(["render", str(bedroom), *flags]) == 0
    assert reads == list(range(20))  # four writers draw on every frame
