"""Prompt previews, contact sheets and the strobe picture: pixels where the rules are exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelme_sam2.cli.main import main
from labelme_sam2.render.contact_sheet import CAPTION_HEIGHT, GAP, evenly_spaced
from labelme_sam2.render.prompt_preview import NEGATIVE, POSITIVE
from labelme_sam2.render.strobe import TINT_STRENGTH, StrobeLayer, clean_plate, compose_strobe
from tests.conftest import labelme_file, shape
from tests.outputs_helpers import track_with_outputs


def test_prompt_previews_only_for_prompted_frames_with_the_clicks_coloured(bedroom: Path):
    clicks = [shape("girl", "point", [[600, 200]]), shape("girl_neg", "point", [[250, 300]])]
    box = shape("girl", "rectangle", [[500, 100], [700, 450]])
    document = labelme_file([box, *clicks], image="00012.jpg", width=960, height=540)
    (bedroom / "00012.json").write_text(json.dumps(document))
    track_with_outputs(bedroom, previews=True)
    folder = bedroom.parent / "bedroom_prompts"
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png", "00012.png"]
    preview = np.asarray(Image.open(folder / "00012.png"))
    assert preview.shape == (540, 960, 3)
    assert tuple(preview[200, 600]) == POSITIVE and tuple(preview[300, 250]) == NEGATIVE
    source = np.asarray(Image.open(bedroom / "00012.jpg").convert("RGB"))
    assert not np.array_equal(preview[100, 500:700], source[100, 500:700])  # the box's edge


def test_contact_sheet_has_evenly_spaced_tiles(bedroom: Path):
    assert evenly_spaced(4, frame_count=20) == [0, 6, 13, 19]
    assert evenly_spaced(12, frame_count=5) == [0, 1, 2, 3, 4]
    assert evenly_spaced(1, frame_count=5) == [0]
    track_with_outputs(bedroom, contact_sheet=6)
    sheet = np.asarray(Image.open(bedroom.parent / "bedroom_contact.png"))
    tile_w, tile_h = 480, 270  # 960x540 halved
    rows, columns = 2, 4  # 6 tiles in rows of 4
    assert sheet.shape == (
        GAP + rows * (tile_h + CAPTION_HEIGHT + GAP),
        GAP + columns * (tile_w + GAP),
        3,
    )


def layer(rgb_value: int, box: tuple[slice, slice], frame: int, tint=None) -> StrobeLayer:
    rgb = np.full((40, 60, 3), rgb_value, dtype=np.uint8)
    mask = np.zeros((40, 60), dtype=bool)
    mask[box] = True
    return StrobeLayer(frame, rgb, mask, tint)


def test_strobe_paints_in_frame_order_later_on_top():
    background = np.full((40, 60, 3), 100, dtype=np.uint8)
    ghost_early = layer(200, (slice(5, 25), slice(5, 25)), 10)
    highlight = layer(50, (slice(10, 30), slice(15, 35)), 20, tint=(255, 0, 0))
    ghost_late = layer(0, (slice(15, 35), slice(25, 45)), 30)
    # Given in any order, painted by frame number.
    picture = compose_strobe(background, [ghost_late, highlight, ghost_early], ghost_alpha=0.5)
    assert tuple(picture[7, 7]) == (150, 150, 150)  # ghost 10 over the background
    tinted = np.round(50 * (1 - TINT_STRENGTH) + np.array([255, 0, 0]) * TINT_STRENGTH)
    assert tuple(picture[20, 20]) == tuple(tinted)  # highlight 20 hides ghost 10 under it
    assert tuple(picture[27, 30]) == tuple(np.round(tinted * 0.5))  # ghost 30 over highlight 20
    assert tuple(picture[32, 40]) == (50, 50, 50)  # ghost 30 over the background only
    assert tuple(picture[2, 55]) == (100, 100, 100)


def test_clean_plate_takes_each_pixel_from_frames_where_no_object_covers_it():
    frames = [np.full((30, 30, 3), value, dtype=np.uint8) for value in (10, 20, 30, 40, 50)]
    masks = [np.zeros((30, 30), dtype=bool) for _ in frames]
    for i in (0, 1, 2):
        frames[i][:, :10] = 255  # an object on the left in three frames of five
        masks[i][:, :10] = True
    plate = clean_plate(frames, masks)
    assert (plate[:, :3] == 45).all()  # median of the two free frames, 40 and 50
    assert (plate[:, 20:] == 30).all()  # nothing ever there: the plain median


def test_strobe_command_from_tracked_masks(bedroom: Path, capsys):
    track_with_outputs(bedroom)
    background = bedroom.parent / "plate.png"
    Image.fromarray(np.full((540, 960, 3), 7, dtype=np.uint8)).save(background)
    args = ["strobe", str(bedroom), "--frames", "2,6", "--highlight", "9:orange,14:#ff0000"]
    assert main([*args, "--background", str(background)]) == 0
    picture = np.asarray(Image.open(bedroom.parent / "bedroom_strobe.png"))
    assert picture.shape == (540, 960, 3)
    assert tuple(picture[5, 5]) == (7, 7, 7)  # no object there at those frames
    assert main([*args, "--background", "plate", "--out", str(bedroom.parent / "s.jpg")]) == 0
    assert Image.open(bedroom.parent / "s.jpg").size == (960, 540)
    assert main(args) == 0  # over frame 14, the last chosen: unchanged where no object is
    default = np.asarray(Image.open(bedroom.parent / "bedroom_strobe.png")).astype(int)
    last = np.asarray(Image.open(bedroom / "00014.jpg").convert("RGB")).astype(int)
    assert np.array_equal(default[5:40, 5:40], last[5:40, 5:40])


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--frames", "2,60"], "frame 60 is beyond the last frame (19)"),
        (["--frames", "2", "--objects", "cat"], "no tracked object labelled 'cat'"),
        (["--frames", "2", "--background", "missing.png"], "missing.png: cannot decode image"),
        ([], "no frames chosen"),
        (["--frames", "2", "--out", "s.gif"], "s.gif: the picture must be .png or .jpg"),
    ],
)
def test_strobe_bad_requests_are_one_line(bedroom: Path, capsys, extra, problem):
    track_with_outputs(bedroom)
    assert main(["strobe", str(bedroom), *extra]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and problem in errors[0]
    assert not (bedroom.parent / "bedroom_strobe.png").exists()
