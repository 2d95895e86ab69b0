"""Which task kind a label config is, from tag types only."""

from __future__ import annotations

import pytest

from ls_backend.errors import RequestError
from ls_backend.label_config import parse_label_config
from tests.ls_helpers import EXAMPLES


def test_the_three_example_configs_are_the_three_kinds() -> None:
    image = parse_label_config((EXAMPLES / "image_smart.xml").read_text())
    assert (image.kind, image.object_name, image.data_key, image.output_name) == (
        "image",
        "image",
        "image",
        "mask",
    )
    assert image.prompt_names == {"click", "box"}
    frames = parse_label_config((EXAMPLES / "frame_sequence.xml").read_text())
    assert (frames.kind, frames.data_key, frames.output_name) == ("frames", "frames", "mask")
    assert frames.prompt_names == {"click", "box", "mask"}
    video = parse_label_config((EXAMPLES / "video.xml").read_text())
    assert (video.kind, video.data_key, video.output_name, video.labels_name) == (
        "video",
        "video",
        "box",
        "label",
    )
    assert video.frame_rate == 30.0


def test_names_are_the_projects_own() -> None:
    config = """<View><Header value="x"/><Image name="pic" value="$url"/>
    <KeyPointLabels name="k" toName="pic"><Label value="a"/></KeyPointLabels>
    <BrushLabels name="b" toName="pic"><Label value="a"/></BrushLabels></View>"""
    schema = parse_label_config(config)
    assert (schema.kind, schema.object_name, schema.data_key, schema.output_name) == (
        "image",
        "pic",
        "url",
        "b",
    )


def test_video_without_frame_rate_uses_label_studios_default() -> None:
    schema = parse_label_config(
        '<View><Video name="v" value="$v"/><VideoRectangle name="r" toName="v"/></View>'
    )
    assert schema.frame_rate == 24.0 and schema.labels_name is None


def test_a_video_frame_rate_from_the_task_data() -> None:
    schema = parse_label_config(
        '<View><Video name="v" value="$v" frameRate="$fps"/>'
        '<VideoRectangle name="r" toName="v"/></View>'
    )
    assert schema.frame_rate_for({"v": "x", "fps": 29.97}) == 29.97
    assert schema.frame_rate_for({"v": "x", "fps": "25"}) == 25.0
    # As Label Studio's editor reads it: 24 for nonsense, seconds per frame below 1.
    for nonsense in ("fast", 0, -3, None, True, float("nan")):
        assert schema.frame_rate_for({"v": "x", "fps": nonsense}) == 24.0
    assert schema.frame_rate_for({"v": "x", "fps": 0.04}) == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("", "missing"),
        ("<View><Image", "not valid XML"),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/>'
            "</Choices></View>",
            "no <Image> or <Video>",
        ),
        (
            '<View><Image name="i" value="$i"/><KeyPointLabels name="k" toName="i">'
            '<Label value="a"/></KeyPointLabels></View>',
            "needs a <BrushLabels",
        ),
        (
            '<View><Image name="i" value="$i"/><BrushLabels name="b" toName="i">'
            '<Label value="a"/></BrushLabels></View>',
            "smart",
        ),
        (
            '<View><Video name="v" value="$v"/><Labels name="l" toName="v"><Label value="a"/>'
            "</Labels></View>",
            "needs a <VideoRectangle",
        ),
    ],
)
def test_unsupported_configs_say_what_is_missing(config: str, message: str) -> None:
    with pytest.raises(RequestError, match=message) as error:
        parse_label_config(config)
    assert 400 <= error.value.status < 500
