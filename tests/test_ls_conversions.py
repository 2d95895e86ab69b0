"""Label Studio formats <-> the core: geometry, frame numbers, brush RLE, regions, results."""

from __future__ import annotations

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle

from labelme_sam2.core.prompts import Box, Click, ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.mask_codec import BoundingBox
from ls_backend.brush_rle import mask_to_rle, rle_to_mask
from ls_backend.errors import RequestError
from ls_backend.frame_clock import FrameClock
from ls_backend.geometry import box_from_percent, percent_box
from ls_backend.label_config import parse_label_config
from ls_backend.regions import prompts_from_regions
from ls_backend.results import BrushResults, VideoRectangleResults
from tests.ls_helpers import video_region
from tests.scripted_tracker import scripted_mask

FRAMES_CONFIG = """<View><Image name="frames" valueList="$frames"/>
<KeyPointLabels name="kp" toName="frames" smart="true"><Label value="car"/></KeyPointLabels>
<RectangleLabels name="rect" toName="frames" smart="true"><Label value="car"/></RectangleLabels>
<BrushLabels name="mask" toName="frames"><Label value="car"/><Label value="dog"/></BrushLabels>
</View>"""
VIDEO_CONFIG = """<View><Video name="video" value="$video" frameRate="25"/>
<VideoRectangle name="box" toName="video"/>
<Labels name="labels" toName="video"><Label value="car"/><Label value="dog"/></Labels></View>"""


def test_percent_boxes_become_pixels_and_back() -> None:
    box = box_from_percent({"x": 10, "y": 20, "width": 50, "height": 25}, width=200, height=100)
    assert box == Box(20.0, 20.0, 120.0, 45.0)
    # Snapped to the right edge, the sum overshoots in floating point; it lands on the edge.
    assert 4.1702 * 333 / 100 + 95.8298 * 333 / 100 > 333
    edge = box_from_percent(
        {"x": 4.1702, "y": 0, "width": 95.8298, "height": 100}, width=333, height=77
    )
    assert (edge.x1, edge.y1) == (333.0, 77.0)
    beyond = box_from_percent({"x": 50, "y": 0, "width": 51, "height": 10}, width=200, height=100)
    assert beyond.x1 == 202.0  # a real overshoot is left for validation to refuse
    # Inclusive pixel bounds 20..119 x 20..44 cover exactly that box.
    back = percent_box(BoundingBox(20, 20, 119, 44), width=200, height=100)
    assert back == {"x": 10.0, "y": 20.0, "width": 50.0, "height": 25.0}


def test_frame_clock_numbers_frames_from_one_at_the_tags_rate() -> None:
    same_rate = FrameClock([i / 25 for i in range(10)], 25.0)
    assert [same_rate.frame_number(i) for i in range(10)] == list(range(1, 11))
    assert [same_rate.index_of(n) for n in range(1, 11)] == list(range(10))
    assert same_rate.index_of(0) is None and same_rate.index_of(11) is None
    assert same_rate.frames_count == 10 and all(same_rate.shown(i) for i in range(10))


def test_frame_clock_maps_other_rates_to_the_frame_label_studio_shows() -> None:
    # A 24 fps video in a 30 fps tag: Label Studio shows the last frame at or before its time.
    slow_video = FrameClock([i / 24 for i in range(12)], 30.0)
    assert [slow_video.index_of(n) for n in range(1, 8)] == [0, 0, 1, 2, 3, 4, 4]
    numbers = [slow_video.frame_number(i) for i in range(12)]
    assert numbers == sorted(set(numbers))  # one Label Studio frame per decoded frame
    assert all(slow_video.index_of(n) == i for i, n in enumerate(numbers))
    assert slow_video.frames_count == 15
    # A 30 fps video in a 24 fps tag: every fifth frame is never on screen, and is skipped.
    fast_video = FrameClock([i / 30 for i in range(10)], 24.0)
    shown = [i for i in range(10) if fast_video.shown(i)]
    assert shown == [0, 1, 2, 3, 5, 6, 7, 8]
    numbers = [fast_video.frame_number(i) for i in shown]
    assert numbers == list(range(1, 9))


def test_brush_rle_round_trips_through_the_sdk_decoder() -> None:
    mask = scripted_mask(0, 3, width=97, height=61)  # odd size, a hole inside
    rle = mask_to_rle(mask)
    decoded = decode_rle(rle).reshape(61, 97, 4)
    assert (decoded[:, :, 3] > 0).tolist() == mask.tolist()
    assert set(np.unique(decoded)) <= {0, 255}
    assert np.array_equal(rle_to_mask(rle, width=97, height=61), mask)
    with pytest.raises(ValueError, match="97x60"):
        rle_to_mask(rle, width=97, height=60)
    with pytest.raises(ValueError, match="rle"):
        rle_to_mask("abc", width=97, height=61)


def _region(kind: str, value: dict, **extra: object) -> dict:
    names = {"keypointlabels": "kp", "rectanglelabels": "rect", "brushlabels": "mask"}
    return {
        "id": f"r{len(value)}",
        "from_name": names[kind],
        "to_name": "frames",
        "type": kind,
        "value": value,
        **extra,
    }


def test_frame_sequence_regions_become_prompts_per_page_and_label() -> None:
    schema = parse_label_config(FRAMES_CONFIG)
    mask = scripted_mask(1, 0, width=100, height=50, hole=False)
    regions = [
        _region("keypointlabels", {"x": 50, "y": 50, "keypointlabels": ["car"]}, item_index=2),
        _region("keypointlabels", {"x": 10, "y": 10, "keypointlabels": ["car_neg"]}, item_index=2),
        _region(
            "keypointlabels",
            {"x": 20, "y": 20, "keypointlabels": ["car"]},
            item_index=2,
            is_positive=False,
        ),
        _region(
            "keypointlabels",
            {"x": 30, "y": 30, "keypointlabels": ["car"]},
            item_index=2,
            is_positive=0,
        ),
        _region(
            "rectanglelabels",
            {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["car"]},
            item_index=0,
        ),
        _region(
            "brushlabels",
            {"format": "rle", "rle": mask_to_rle(mask), "brushlabels": ["dog"]},
            item_index=1,
        ),
        # As this backend predicted it: an output, not a prompt.
        _region(
            "brushlabels",
            {"format": "rle", "rle": mask_to_rle(mask), "brushlabels": ["dog"]},
            item_index=3,
            origin="prediction",
        ),
        {"from_name": "comment", "type": "textarea", "value": {"text": ["ignored"]}},
    ]
    prompts = prompts_from_regions(
        regions, schema=schema, width=100, height=50, page_count=4, where="task 7"
    )
    car, dog = ObjectKey("car", None), ObjectKey("dog", None)
    assert list(prompts.objects) == [car, dog]
    assert sorted(prompts.objects[car]) == [0, 2]
    assert prompts.objects[car][2].clicks == [
        Click(50.0, 25.0, True),
        Click(10.0, 5.0, False),
        Click(20.0, 10.0, False),
        Click(30.0, 15.0, False),
    ]
    assert prompts.objects[car][0].box == Box(10.0, 10.0, 40.0, 30.0)
    assert list(prompts.objects[dog]) == [1]
    assert np.array_equal(prompts.objects[dog][1].mask, mask)


@pytest.mark.parametrize(
    ("region", "message"),
    [
        (
            _region("keypointlabels", {"x": 5, "y": 5, "keypointlabels": ["car"]}, item_index=9),
            "item_index",
        ),
        (
            _region("keypointlabels", {"x": "a", "y": 5, "keypointlabels": ["car"]}, item_index=0),
            "'x' must be a number",
        ),
        (
            _region("keypointlabels", {"x": 5, "y": 5, "keypointlabels": []}, item_index=0),
            "no label",
        ),
        (
            _region(
                "rectanglelabels",
                {
                    "x": 5,
                    "y": 5,
                    "width": 5,
                    "height": 5,
                    "rotation": 30,
                    "rectanglelabels": ["car"],
                },
                item_index=0,
            ),
            "rotated",
        ),
        (
            _region("brushlabels", {"rle": [1, 2, 3], "brushlabels": ["car"]}, item_index=0),
            "brush",
        ),
        ({"from_name": "kp", "type": "keypointlabels", "value": None}, "'value'"),
    ],
)
def test_malformed_regions_are_named_in_one_line(region: dict, message: str) -> None:
    schema = parse_label_config(FRAMES_CONFIG)
    with pytest.raises(RequestError, match=message) as error:
        prompts_from_regions(
            [region], schema=schema, width=100, height=50, page_count=4, where="task 7"
        )
    assert error.value.message.startswith("task 7 region") and error.value.status == 400


def test_video_regions_are_objects_and_their_keyframes_boxes() -> None:
    BOX = (10.0, 10.0, 20.0, 40.0)
    schema = parse_label_config(VIDEO_CONFIG)
    clock = FrameClock([i / 25 for i in range(20)], 25.0)

    regions = [
        video_region("car", [1, 10], box=BOX, fps=25),
        video_region("dog", [5], box=BOX, fps=25),
        video_region("car", [20], box=BOX, fps=25),
    ]
    prompts = prompts_from_regions(
        regions, schema=schema, width=200, height=100, clock=clock, where="task 3"
    )
    keys = [ObjectKey("car", None), ObjectKey("dog", None), ObjectKey("car", 2)]
    assert list(prompts.objects) == keys
    assert sorted(prompts.objects[keys[0]]) == [0, 9]
    assert list(prompts.objects[keys[2]]) == [19]
    assert prompts.objects[keys[1]][4].box == Box(20.0, 10.0, 60.0, 50.0)
    with pytest.raises(RequestError, match="frame 21 lies outside the video"):
        prompts_from_regions(
            [video_region("car", [21], box=BOX, fps=25)],
            schema=schema,
            width=200,
            height=100,
            clock=clock,
            where="task 3",
        )


def test_brush_results_one_region_per_visible_object_per_page() -> None:
    schema = parse_label_config(FRAMES_CONFIG)
    writer = BrushResults(schema=schema, width=80, height=40)
    keys = [ObjectKey("car", None), ObjectKey("dog", None)]
    masks = {
        page: {key: scripted_mask(i, page, width=80, height=40) for i, key in enumerate(keys)}
        for page in range(6)
    }
    for page in range(6):
        writer.write(FrameMasks(page, masks[page]))
    writer.close()
    # The dog (object 1) is hidden on page 4: no region there.
    assert [(r["item_index"], r["value"]["brushlabels"]) for r in writer.results] == [
        (page, [key.label])
        for page in range(6)
        for i, key in enumerate(keys)
        if not (i == 1 and page == 4)
    ]
    for region in writer.results:
        assert (region["from_name"], region["to_name"], region["type"]) == (
            "mask",
            "frames",
            "brushlabels",
        )
        decoded = decode_rle(region["value"]["rle"]).reshape(40, 80, 4)[:, :, 3] > 0
        key = keys[0] if region["value"]["brushlabels"] == ["car"] else keys[1]
        assert np.array_equal(decoded, masks[region["item_index"]][key])
    assert len({r["id"] for r in writer.results}) == len(writer.results)


def test_video_rectangles_box_every_visible_frame_and_end_tracks() -> None:
    schema = parse_label_config(VIDEO_CONFIG)
    clock = FrameClock([i / 25 for i in range(12)], 25.0)
    keys = [ObjectKey("car", None), ObjectKey("dog", None)]
    writer = VideoRectangleResults(
        schema=schema, objects=keys, clock=clock, width=80, height=40, masks_note="masks: /tmp/x"
    )
    masks = {}
    for frame in range(12):
        masks[frame] = {
            key: scripted_mask(i, frame, width=80, height=40) for i, key in enumerate(keys)
        }
        writer.write(FrameMasks(frame, masks[frame]))
    writer.close()
    car, dog = writer.results
    assert car["value"]["labels"] == ["car"] and dog["value"]["labels"] == ["dog"]
    assert car["value"]["framesCount"] == 12
    assert [k["frame"] for k in car["value"]["sequence"]] == list(range(1, 13))
    # The dog is hidden on frames 4 and 9 (0-based): its keyframes stop and start again there.
    dog_frames = [k["frame"] for k in dog["value"]["sequence"]]
    assert dog_frames == [1, 2, 3, 4, 6, 7, 8, 9, 11, 12]
    ended = [k["frame"] for k in dog["value"]["sequence"] if not k["enabled"]]
    assert ended == [4, 9]
    assert all(k["enabled"] for k in car["value"]["sequence"])
    for keyframe in dog["value"]["sequence"]:
        index = keyframe["frame"] - 1
        rows = np.flatnonzero(masks[index][keys[1]].any(axis=1))
        cols = np.flatnonzero(masks[index][keys[1]].any(axis=0))
        assert keyframe["x"] == pytest.approx(cols[0] * 100 / 80)
        assert keyframe["width"] == pytest.approx((cols[-1] + 1 - cols[0]) * 100 / 80)
        assert keyframe["y"] == pytest.approx(rows[0] * 100 / 40)
        assert keyframe["height"] == pytest.approx((rows[-1] + 1 - rows[0]) * 100 / 40)
    assert car["meta"] == {"text": ["masks: /tmp/x"]}


def test_a_brush_rle_claiming_a_huge_image_is_refused_before_decoding() -> None:
    claim = [0xFF, 0xFF, 0xFF, 0xF0] + [0] * 8  # 4 billion values in 12 bytes
    with pytest.raises(ValueError, match="the image has 97x61"):
        rle_to_mask(claim, width=97, height=61)
    with pytest.raises(ValueError, match="list of bytes"):
        rle_to_mask([1, 2, 3, 300], width=97, height=61)
