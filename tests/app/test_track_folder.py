"""Track folder, Cancel, Re-track changes and Make prompt from the SAM 2 menu, end to end:
the real window, the real `labelme-sam2 track` child (SAM 2.1 tiny, random weights, 256 px)."""

from __future__ import annotations

import json
import shutil
import subprocess

from PIL import Image

from labelme_sam2.app.predicted_shapes import is_predicted
from labelme_sam2.formats.labelme_json import TOOL_FLAG
from tests.app.conftest import HUMMINGBIRD, TRACK_TIMEOUT_MS, track_and_wait
from tests.conftest import labelme_file, shape


def predicted_labels(shapes: list[dict]) -> set[str]:
    return {shape["label"] for shape in shapes if shape.get("flags", {}).get(TOOL_FLAG)}


def test_track_folder_fills_every_frame_and_keeps_the_users_shapes(qtbot, make_window, folder):
    prompts_before = json.loads((folder / "00000.json").read_text())["shapes"]
    window = make_window(folder)

    outcome = track_and_wait(qtbot, window)

    assert outcome.error is None and outcome.finished, outcome
    assert outcome.done is not None and outcome.done["frames_written"] == 12
    assert "tracked 12 frames x 2 objects" in outcome.summary
    assert "tracked 12 frames" in window.statusBar().currentMessage()
    # the open frame was reloaded with its masks
    assert {shape.label for shape in window.canvas_shapes() if is_predicted(shape)} == {
        "boy",
        "girl",
    }
    # labelme's own Next, as a user steps through the folder
    for _ in range(7):
        window._actions.open_next_img.trigger()
    assert window.current_image() == folder / "00007.jpg"
    on_screen = window.canvas_shapes()
    assert {shape.label for shape in on_screen if is_predicted(shape)} == {"boy", "girl"}
    on_disk = json.loads((folder / "00007.json").read_text())["shapes"]
    assert predicted_labels(on_disk) == {"boy", "girl"}
    saved = json.loads((folder / "00000.json").read_text())["shapes"]
    assert [shape for shape in saved if not shape.get("flags", {}).get(TOOL_FLAG)] == (
        prompts_before
    )


def test_the_open_frame_shows_its_masks_once_written_not_at_the_end(qtbot, make_window, folder):
    window = make_window(folder)
    loads: list[tuple[bool, set[str]]] = []  # (run still going, predicted labels shown)
    window.frame_loaded.connect(
        lambda: loads.append(
            (
                window.tracking.is_running(),
                {shape.label for shape in window.canvas_shapes() if is_predicted(shape)},
            )
        )
    )

    outcome = track_and_wait(qtbot, window)

    assert outcome.finished, outcome
    assert window.current_image() == folder / "00000.jpg"
    # frame 0 is written first: it reloaded with its masks while 11 frames were still to come
    assert (True, {"boy", "girl"}) in loads, loads


def test_progress_shows_frames_speed_and_time_left_while_the_user_steps_frames(
    qtbot, make_window, folder
):
    window = make_window(folder)
    seen: list[str] = []
    window.sam2.track.trigger()
    assert window.progress.isVisible() and not window.sam2.track.isEnabled()
    window.tracking.run.progress.connect(lambda *_: seen.append(window.progress.text.text()))
    # the window stays responsive: step through frames the tracker is writing
    window.tracking.run.progress.connect(lambda *_: window._actions.open_next_img.trigger())
    qtbot.waitUntil(lambda: not window.tracking.is_running(), timeout=TRACK_TIMEOUT_MS)
    assert any("/12 frames" in text and "frames/s" in text and "left" in text for text in seen)
    assert seen[-1].startswith("Tracking: 12/12 frames")
    assert not window.progress.isVisible() and window.sam2.track.isEnabled()


def test_cancel_leaves_every_file_old_or_complete_and_retrack_finishes(qtbot, make_window, folder):
    before = {path.name: path.read_bytes() for path in folder.glob("*.json")}
    window = make_window(folder)
    window.sam2.track.trigger()
    run = window.tracking.run
    run.progress.connect(lambda done, *_: done == 5 and window.progress.cancel_button.click())
    with qtbot.waitSignal(window.tracking.ended, timeout=TRACK_TIMEOUT_MS) as ended:
        pass
    outcome = ended.args[0]

    assert outcome.error is None and outcome.cancelled, outcome
    assert 5 <= outcome.done["frames_written"] < 12
    complete = 0
    for frame in range(12):
        path = folder / f"{frame:05d}.json"
        if not path.exists():
            continue
        document = json.loads(path.read_text())  # every file parses
        if predicted_labels(document["shapes"]) == {"boy", "girl"}:
            complete += 1
        else:
            assert path.read_bytes() == before[path.name]  # or is exactly the old one
    assert complete == outcome.done["frames_written"]
    assert "Re-track changes finishes the rest" in window.statusBar().currentMessage()

    rest = track_and_wait(qtbot, window, "retrack")

    assert rest.finished, rest
    for frame in range(12):
        shapes = json.loads((folder / f"{frame:05d}.json").read_text())["shapes"]
        assert predicted_labels(shapes) == {"boy", "girl"}, frame


def test_make_prompt_then_retrack_recomputes_only_the_affected_frames(qtbot, make_window, folder):
    window = make_window(folder)
    assert track_and_wait(qtbot, window).finished
    frame_0 = (folder / "00000.json").read_bytes()
    window.go_to_image(folder / "00006.jpg")
    boy = [shape for shape in window.canvas_shapes() if shape.label == "boy"]
    window.select_shapes(boy)

    window.sam2.make_prompt.trigger()

    assert not any(is_predicted(shape) for shape in boy)
    qtbot.waitUntil(lambda: not window.has_unsaved_changes(), timeout=10_000)  # auto-save
    on_disk = json.loads((folder / "00006.json").read_text())["shapes"]
    users = [shape["label"] for shape in on_disk if not shape.get("flags", {}).get(TOOL_FLAG)]
    assert users == ["boy"] * len(boy)

    outcome = track_and_wait(qtbot, window, "retrack")

    assert outcome.finished, outcome
    recomputed = outcome.done["recomputed_frames"]
    assert 0 < recomputed < 12
    assert f"recomputed {recomputed} of 12 frames" in outcome.summary
    # The boy now has keyframes on frames 0 and 6: his masks on frames 1-11 depend on both
    # (SAM 2 conditions on every keyframe); frame 0's comes from its box alone and is kept.
    assert recomputed == 11
    assert (folder / "00000.json").read_bytes() == frame_0
    shapes_6 = json.loads((folder / "00006.json").read_text())["shapes"]
    assert predicted_labels(shapes_6) == {"boy", "girl"}
    assert sum(not s.get("flags", {}).get(TOOL_FLAG) for s in shapes_6) == len(boy)


def test_show_predicted_shapes_hides_them_on_every_frame(qtbot, make_window, folder):
    window = make_window(folder)
    assert track_and_wait(qtbot, window).finished
    window.sam2.show_predicted.setChecked(False)
    for name in ("00003.jpg", "00000.jpg"):
        window.go_to_image(folder / name)
        shapes = window.canvas_shapes()
        assert all(not shape.visible for shape in shapes if is_predicted(shape))
        assert all(shape.visible for shape in shapes if not is_predicted(shape))
    window.sam2.show_predicted.setChecked(True)
    assert all(shape.visible for shape in window.canvas_shapes())


def test_track_folder_saves_the_open_frame_first(qtbot, make_window, folder):
    window = make_window(folder)
    window._actions.save_auto.setChecked(False)
    boy = next(shape for shape in window.canvas_shapes() if shape.label == "boy")
    boy.label = "kid"
    window.shapes_edited()
    assert window.has_unsaved_changes()

    assert track_and_wait(qtbot, window).finished

    shapes_7 = json.loads((folder / "00007.json").read_text())["shapes"]
    assert predicted_labels(shapes_7) == {"kid", "girl"}


def test_a_chunk_folder_tracks_with_its_siblings_as_one_video(qtbot, make_window, engine, tmp_path):
    video = tmp_path / "bird.mp4"
    shutil.copyfile(HUMMINGBIRD, video)
    subprocess.run(
        [str(engine), "extract", str(video), "--end", "2", "--every", "5", "--chunk-seconds", "1"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    chunks = sorted(path for path in (tmp_path / "bird").iterdir() if path.is_dir())
    first = sorted(chunks[0].glob("*.jpg"))[0]
    with Image.open(first) as image:
        width, height = image.size
    box = shape("bird", "rectangle", [[width * 0.3, height * 0.3], [width * 0.6, height * 0.7]])
    (chunks[0] / f"{first.stem}.json").write_text(
        json.dumps(labelme_file([box], image=first.name, width=width, height=height))
    )
    frames = sorted(tmp_path.glob("bird/*/*.jpg"))
    assert len(chunks) >= 2 and len(frames) > len(list(chunks[0].glob("*.jpg")))
    window = make_window(chunks[0])

    outcome = track_and_wait(qtbot, window)

    assert outcome.finished, outcome
    assert window.tracking.tracked == tmp_path / "bird"
    assert outcome.done is not None and outcome.done["frames_written"] == len(frames)
    for frame in frames:  # the prompt in chunk 1 reached every chunk's frames
        on_disk = json.loads(frame.with_suffix(".json").read_text())["shapes"]
        assert predicted_labels(on_disk) == {"bird"}, frame
