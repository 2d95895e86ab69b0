"""Videos (masked with each fill, overlay, side by side) read back with the decoder, and the
fills checked pixel by pixel."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from labelme_sam2.cli.main import main
from labelme_sam2.render.fills import Fill, fill_masks
from labelme_sam2.render.overlay import TINT_ALPHA, ObjectLayer, draw_overlay, object_layers
from tests.conftest import labelme_file, shape
from tests.outputs_helpers import expected_masks, track_scripted, track_with_outputs


def probe(path: Path) -> tuple[str, str, Fraction, int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        context = stream.codec_context
        return (
            context.name,
            context.pix_fmt,
            stream.average_rate,
            frames,
            context.width,
            context.height,
        )


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_videos_are_browser_h264_at_the_source_rate(tmp_path: Path):
    video = tmp_path / "walk.mp4"
    encoder = imageio_ffmpeg.write_frames(str(video), (96, 64), fps=12.5, macro_block_size=1)
    encoder.send(None)
    rng = np.random.default_rng(3)
    for _ in range(9):
        encoder.send(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8).tobytes())
    encoder.close()
    prompts = tmp_path / "walk_prompts"
    prompts.mkdir()
    box = shape("dog", "rectangle", [[20, 10], [70, 60]])
    (prompts / "00003.json").write_text(json.dumps(labelme_file([box], image="x.jpg", width=96,
                                                                height=64)))  # fmt: skip
    track_scripted(video, prompts=prompts, videos=("masked", "overlay"), side_by_side=True)
    for name in ("walk_masked.mp4", "walk_overlay.mp4"):
        codec, pix_fmt, rate, count, width, height = probe(tmp_path / name)
        assert (codec, pix_fmt, count, rate) == ("h264", "yuv420p", 9, Fraction(25, 2))
        assert (width, height) == (192, 64)  # original | result


def test_odd_sides_are_padded_to_even(make_folder):
    box = shape("car", "rectangle", [[20, 10], [70, 60]])
    folder = make_folder(
        {"00001.json": labelme_file([box], image="00001.png", width=121, height=81)},
        frames=5,
        width=121,
        height=81,
    )
    track_with_outputs(folder, videos=("overlay",))
    codec, pix_fmt, rate, count, width, height = probe(folder.parent / "frames_overlay.mp4")
    assert (codec, pix_fmt, count, rate) == ("h264", "yuv420p", 5, Fraction(30))  # no known rate
    assert (width, height) == (122, 82)


def test_masked_video_paints_the_chosen_colour_and_leaves_the_rest(bedroom: Path):
    tracked = track_with_outputs(bedroom, videos=("masked",), fill=Fill.parse("color:#2040f0"))
    video = decoded(bedroom.parent / "bedroom_masked.mp4")
    assert len(video) == len(tracked.frames)
    for frame_index in (0, 9):
        covered = np.logical_or.reduce(list(expected_masks(tracked, frame_index).values()))
        inner = cv2.erode(covered.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        outer = ~cv2.dilate(covered.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        frame = video[frame_index].astype(int)
        error = np.abs(frame[inner] - [0x20, 0x40, 0xF0])  # H.264 is lossy
        assert np.median(error, axis=0).max() <= 3 and error.mean() < 4
        source = tracked.frames.read_rgb(frame_index).astype(int)
        assert np.abs(frame[outer] - source[outer]).mean() < 3


def test_overlay_video_shows_the_overlay_drawing(bedroom: Path):
    tracked = track_with_outputs(bedroom, videos=("overlay",))
    video = decoded(bedroom.parent / "bedroom_overlay.mp4")
    objects = list(tracked.prompts.objects)
    for frame_index in (2, 14):
        layers = object_layers(expected_masks(tracked, frame_index), objects)
        drawn = draw_overlay(tracked.frames.read_rgb(frame_index), layers).astype(int)
        assert np.abs(video[frame_index].astype(int) - drawn).mean() < 2.5  # H.264 loss only


def test_overlay_tints_each_object_in_its_own_colour_in_order():
    rgb, a, b = rgb_and_masks()
    b[10:20, 30:70] = True  # overlaps a
    layers = [ObjectLayer("a", (0, 130, 200), a), ObjectLayer("b", (245, 130, 48), b)]
    out = draw_overlay(rgb, layers, labels=False).astype(float)
    pixel = (15, 20)  # a only, away from outlines
    expected_a = rgb[pixel] * (1 - TINT_ALPHA) + np.array([0, 130, 200]) * TINT_ALPHA
    assert np.array_equal(out[pixel], expected_a.round())
    both = (15, 40)  # a, then b over it
    under = (rgb[both] * (1 - TINT_ALPHA) + np.array([0, 130, 200]) * TINT_ALPHA).round()
    assert np.array_equal(
        out[both], (under * (1 - TINT_ALPHA) + np.array([245, 130, 48]) * TINT_ALPHA).round()
    )
    assert np.array_equal(out[58, 2], rgb[58, 2])  # outside every mask


def rgb_and_masks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (60, 96, 3), dtype=np.uint8)
    a = np.zeros((60, 96), dtype=bool)
    a[4:30, 10:50] = True
    b = np.zeros_like(a)
    b[35:55, 60:90] = True
    return rgb, a, b


def test_avg_fill_is_each_regions_own_mean_colour():
    rgb, a, b = rgb_and_masks()
    filled = fill_masks(rgb, [a, b, np.zeros_like(a)], fill=Fill("avg"))
    for mask in (a, b):
        mean = rgb[mask].mean(axis=0).round().astype(np.uint8)
        assert np.array_equal(filled[mask], np.tile(mean, (int(mask.sum()), 1)))
    assert np.array_equal(filled[~(a | b)], rgb[~(a | b)])


@pytest.mark.parametrize("kind", ["white", "color:#102030", "blur", "pixelate"])
def test_fills_change_only_the_masks(kind):
    rgb, a, b = rgb_and_masks()
    filled = fill_masks(rgb, [a, b], fill=Fill.parse(kind))
    assert np.array_equal(filled[~(a | b)], rgb[~(a | b)])
    inside = filled[a]
    if kind == "white":
        assert (inside == 255).all()
    elif kind.startswith("color"):
        assert (inside == [0x10, 0x20, 0x30]).all()
    elif kind == "blur":  # noise averaged away: far less spread than the source
        assert inside.std() < rgb[a].std() / 4
    else:  # blocks of 2 px (96 / 48), each one colour
        block = filled[4:6, 10:12].reshape(-1, 3)
        assert (block == block[0]).all() and not (filled[4:30, 10:50] == block[0]).all()


def test_a_bad_fill_is_one_argparse_line(bedroom: Path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["render", str(bedroom), "--video", "masked", "--fill", "color:#12345"])
    assert stop.value.code == 2
    assert "unknown colour '#12345'" in capsys.readouterr().err
