"""Which of the three task kinds a project's label config is, from its tag types.

- image:  <Image value=...> with KeyPointLabels / RectangleLabels (smart tools) and BrushLabels;
- frames: <Image valueList=...> (one page per frame) with BrushLabels, prompts on any page;
- video:  <Video> with <VideoRectangle> and <Labels>.
Tag names are the project's own; only tag types are looked at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from label_studio_sdk.label_interface import LabelInterface

from ls_backend.errors import RequestError

TaskKind = Literal["image", "frames", "video"]
DEFAULT_VIDEO_FRAME_RATE = 24.0  # Label Studio's <Video> default


@dataclass(frozen=True)
class ProjectSchema:
    kind: TaskKind
    object_name: str  # the <Image>/<Video> tag's name: results' to_name
    data_key: str  # the task data field holding the media (its URL, or list of URLs)
    output_name: str  # BrushLabels (image, frames) or VideoRectangle (video): results' from_name
    labels_name: str | None  # video: the <Labels> tag that names the boxes
    prompt_names: frozenset[str]  # controls whose regions are prompts
    frame_rate: float  # video: frames per second Label Studio numbers frames with
    frame_rate_key: str | None = None  # video: frameRate="$fps" reads it from the task data
    label_config: str = field(default="", compare=False, repr=False)  # the XML it came from

    def frame_rate_for(self, data: Mapping[str, Any]) -> float:
        """The video's frameRate for this task: the config's, or the task data's ($fps)."""
        if self.frame_rate_key is None:
            return self.frame_rate
        return _frame_rate(data.get(self.frame_rate_key))


def parse_label_config(config: object) -> ProjectSchema:
    """The project's schema, or RequestError(422) saying what the config lacks."""
    if not isinstance(config, str) or not config.strip():
        raise RequestError("label_config is missing", status=400)
    return replace(_parse(config), label_config=config)


def _parse(config: str) -> ProjectSchema:
    try:
        interface = LabelInterface(config)
    except Exception as error:  # the SDK raises several private XML error types
        raise RequestError(f"label_config is not valid XML ({error})", status=422) from error
    media = [o for o in interface.objects if o.tag.lower() in ("image", "video")]
    if not media:
        raise RequestError(
            "label config has no <Image> or <Video> tag; labelme-sam2 segments images, "
            "frame sequences and videos",
            status=422,
        )
    controls: dict[str, list[Any]] = {}
    for control in interface.controls:
        for target in control.to_name or []:
            controls.setdefault(target, []).append(control)
    problems = []
    for obj in media:
        attached = controls.get(obj.name, [])
        try:
            return _schema_for(obj.tag.lower(), obj.name, obj.attr, attached)
        except RequestError as problem:
            problems.append(problem.message)
    raise RequestError("; ".join(problems), status=422)


def _schema_for(tag: str, name: str, attr: dict[str, str], controls: list[Any]) -> ProjectSchema:
    by_type: dict[str, list[str]] = {}
    for control in controls:
        by_type.setdefault(control.tag.lower(), []).append(control.name)
    if tag == "video":
        boxes = by_type.get("videorectangle", [])
        if not boxes:
            raise RequestError(
                f"<Video name={name!r}> needs a <VideoRectangle toName={name!r}>: its boxes are "
                "the prompts and the predicted tracks",
                status=422,
            )
        labels = by_type.get("labels", [])
        rate = attr.get("frameRate", attr.get("framerate"))
        from_data = rate is not None and rate.startswith("$")
        return ProjectSchema(
            kind="video",
            object_name=name,
            data_key=_data_key(attr.get("value", ""), name),
            output_name=boxes[0],
            labels_name=labels[0] if labels else None,
            prompt_names=frozenset(boxes),
            frame_rate=0.0 if from_data else _frame_rate(rate),
            frame_rate_key=_data_key(rate, name) if from_data and rate else None,
        )
    brushes = by_type.get("brushlabels", [])
    if not brushes:
        raise RequestError(
            f"<Image name={name!r}> needs a <BrushLabels toName={name!r}>: the masks are "
            "returned as brush regions",
            status=422,
        )
    prompts = [n for t in ("keypointlabels", "rectanglelabels") for n in by_type.get(t, [])]
    value_list = attr.get("valueList")
    if value_list:
        return ProjectSchema(
            kind="frames",
            object_name=name,
            data_key=_data_key(value_list, name),
            output_name=brushes[0],
            labels_name=None,
            prompt_names=frozenset(prompts + brushes),
            frame_rate=0.0,
        )
    if not prompts:
        raise RequestError(
            f'<Image name={name!r}> needs <KeyPointLabels smart="true"> or '
            f'<RectangleLabels smart="true"> for the clicks and boxes SAM 2 takes',
            status=422,
        )
    return ProjectSchema(
        kind="image",
        object_name=name,
        data_key=_data_key(attr.get("value", ""), name),
        output_name=brushes[0],
        labels_name=None,
        prompt_names=frozenset(prompts),
        frame_rate=0.0,
    )


def _data_key(value: str, name: str) -> str:
    if not value.startswith("$") or len(value) < 2:
        raise RequestError(
            f"<{name}> must take its media from the task data ($field), not {value!r}", status=422
        )
    return value[1:]


def _frame_rate(raw: object) -> float:
    """frameRate as Label Studio's editor reads it: 24 when missing, not a number or not above
    0; a value below 1 is taken as seconds per frame."""
    try:
        rate = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_VIDEO_FRAME_RATE
    if isinstance(raw, bool) or not math.isfinite(rate) or rate <= 0:
        return DEFAULT_VIDEO_FRAME_RATE
    return 1 / rate if rate < 1 else rate
