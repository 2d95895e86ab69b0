"""labelme_sam2.api as a Python caller uses it: progress after each written frame,
cancellation that leaves every file old or new, one model for many folders."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from labelme_sam2.api import OutputOptions, track
from labelme_sam2.formats.labelme_json import is_tool_shape
from tests.conftest import copy_bedroom
from tests.scripted_tracker import ScriptedTracker, scripted_model


def labelme_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


def test_cancel_at_frame_5_leaves_each_file_old_or_complete_and_a_second_run_finishes(
    tmp_path: Path,
):
    folder = copy_bedroom(tmp_path / "cancelled", frames=12)
    reference = copy_bedroom(tmp_path / "reference", frames=12)
    model = scripted_model()  # loaded once, used for every folder below
    track(reference, model=model, outputs=OutputOptions(layers=("png",)))
    complete = labelme_files(reference)
    before = labelme_files(folder)

    cancel = threading.Event()
    progress: list[tuple[int, int]] = []

    def on_progress(done: int, total: int) -> None:
        progress.append((done, total))
        # Called after the frame is written: frame done-1's file is already complete.
        name = f"{done - 1:05d}.json"
        assert (folder / name).read_bytes() == complete[name]
        if done == 5:
            cancel.set()

    result = track(
        folder,
        model=model,
        outputs=OutputOptions(layers=("png",)),
        on_progress=on_progress,
        cancel=cancel,
    )
    # The tracker runs ahead of the writers, and each kind of output writes on its own
    # thread: a cancel stops each after the frame it is writing, not all at frame 5.
    assert result.cancelled and 5 <= result.frames_written < 12 and result.outputs == ()
    labelme_written = result.labelme_files_written
    assert labelme_written is not None and result.frames_written <= labelme_written <= 12
    assert result.line().startswith(
        f"cancelled after {result.frames_written} of 12 frames; "
        f"wrote {labelme_written} LabelMe files"
    )
    done = [d for d, _ in progress]
    assert done == list(range(1, done[-1] + 1)) and {t for _, t in progress} == {12}
    assert done[-1] <= result.frames_written
    now = labelme_files(folder)
    for data in now.values():
        json.loads(data)  # every file parses
    for name in complete:  # complete, or as it was (absent, for frames without a file)
        assert now.get(name) in (complete[name], before.get(name)), name
    changed = [name for name in complete if complete[name] != before.get(name)]
    assert sum(now.get(name) == complete[name] for name in changed) == labelme_written
    assert not (folder / ".labelme-sam2" / "run.json").exists()  # no record of a partial run

    finished = track(folder, model=model, outputs=OutputOptions(layers=("png",)))
    assert not finished.cancelled and finished.frames_written == 12
    assert labelme_files(folder) == complete
    assert (folder / ".labelme-sam2" / "run.json").is_file()


def test_a_cancel_during_the_last_frame_finishes_the_run(tmp_path: Path):
    folder = copy_bedroom(tmp_path, frames=4)
    cancel = threading.Event()

    def on_progress(done: int, total: int) -> None:
        if done == total:
            cancel.set()

    result = track(folder, model=scripted_model(), on_progress=on_progress, cancel=cancel)
    assert not result.cancelled and result.frames_written == 4
    assert (folder / ".labelme-sam2" / "run.json").is_file()


def test_the_tracker_runs_ahead_of_a_slow_writer_and_progress_follows_the_files(
    tmp_path: Path,
):
    folder = copy_bedroom(tmp_path, frames=6)
    events: list[str] = []
    all_computed = threading.Event()

    class Logged(ScriptedTracker):
        def track(self, frames, prompts, *, plan=None, after_step=None):
            for result in super().track(frames, prompts, plan=plan):
                events.append(f"computed {result.frame_index}")
                yield result
            all_computed.set()

    def on_progress(done: int, total: int) -> None:
        # The slow part (writing) of frame 0 waits until the model has done every frame.
        assert all_computed.wait(10)
        events.append(f"written {done - 1}")

    track(folder, model=scripted_model(Logged()), on_progress=on_progress)
    assert events == [f"computed {i}" for i in range(6)] + [f"written {i}" for i in range(6)]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: json.dumps({**json.loads(text), "model_identity": None}),
        lambda text: json.dumps({"version": json.loads(text)["version"], "keys": []}),
        lambda text: "[]",
    ],
)
def test_a_damaged_run_record_means_a_full_recompute_with_one_warning(tmp_path: Path, damage):
    folder = copy_bedroom(tmp_path, frames=6)
    track(folder, model=scripted_model())
    record = folder / ".labelme-sam2" / "run.json"
    record.write_text(damage(record.read_text()))
    tracker, warnings = ScriptedTracker(), []
    result = track(folder, model=scripted_model(tracker), warn=warnings.append)
    assert tracker.object_frames == 12 and result.summary.recomputed_frames == 6
    about_record = [w for w in warnings if "run.json" in w]
    assert len(about_record) == 1 and "run.json: not a usable run record" in about_record[0]
    again = ScriptedTracker()
    track(folder, model=scripted_model(again))  # the new record is whole again
    assert again.object_frames == 0


def test_one_loaded_model_tracks_many_folders(tmp_path: Path):
    tracker = ScriptedTracker()
    model = scripted_model(tracker)
    for name in ("a", "b"):
        folder = copy_bedroom(tmp_path / name, frames=4)
        result = track(folder, model=model)
        assert result.summary.frames == 4 and not result.cancelled
        shapes = json.loads((folder / "00003.json").read_text())["shapes"]
        assert [s["label"] for s in shapes if is_tool_shape(s)] == ["boy", "girl"]
    assert tracker.calls == 2


def test_strobe_refuses_a_negative_frame_and_a_damaged_mask_header_is_one_line(tmp_path: Path):
    from labelme_sam2.api import InputError, strobe

    folder = copy_bedroom(tmp_path, frames=4)
    track(folder, model=scripted_model())
    with pytest.raises(InputError, match="frame -1: frame numbers are 0 or more"):
        strobe(folder, frames=[-1, 2])
    (folder / ".labelme-sam2" / "masks" / "000002.bin").write_bytes(b'{"keys": 3}\n')
    with pytest.raises(InputError, match="cannot read the masks of frame 2"):
        strobe(folder, frames=[2])
