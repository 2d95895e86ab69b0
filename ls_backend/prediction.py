"""One task -> one prediction: media and regions in, the core tracks, Label Studio results out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from labelme_sam2.api import (
    Cancelled,
    ChunkFrames,
    FrameWriter,
    MaskPngWriter,
    PromptSet,
    Tracker,
    UserError,
    VideoFrames,
    frames_from_paths,
    propagate,
    validate,
)
from ls_backend.errors import RequestError
from ls_backend.frame_clock import FrameClock
from ls_backend.gpu_gate import PriorityGate, StepwiseTracker
from ls_backend.jobs.model import JobCancelled, JobControl
from ls_backend.label_config import ProjectSchema
from ls_backend.media import LabelStudioAccess, MediaCancelled, MediaResolver
from ls_backend.media_limits import MediaLimits
from ls_backend.regions import is_prompt, prompts_from_regions
from ls_backend.results import BrushResults, Result, VideoRectangleResults


class Prediction(TypedDict):
    result: list[Result]
    model_version: str


@dataclass(frozen=True)
class TaskMedia:
    frames: ChunkFrames
    clock: FrameClock | None  # video only


class Predictor:
    """Holds the one tracker of this process. One task is tracked at a time: a click runs
    whole under the gate's interactive turn, a job frame by frame between clicks."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        model_version: str,
        media: MediaResolver,
        masks_root: Path | None = None,
        limits: MediaLimits | None = None,
    ) -> None:
        self.tracker = tracker
        self.limits = limits or MediaLimits()
        self.model_version = model_version
        self.media = media
        self.masks_root = masks_root
        self.gate = PriorityGate()

    def predict(
        self,
        task: Mapping[str, Any],
        *,
        schema: ProjectSchema,
        context: object,
        project: object,
        access: LabelStudioAccess | None,
        job: JobControl | None = None,
    ) -> Prediction | None:
        """The prediction for `task`, or None when it has no prompts yet. With `job`, it runs
        as that background job: behind clicks, reporting progress, stopping when cancelled."""
        regions = regions_to_prompt_with(task, context, schema=schema)
        if regions is None:
            return None  # before any media is fetched
        where = f"task {task['id']}"
        with self._open_media(task, schema=schema, access=access, job=job) as media:
            frames = media.frames
            try:
                prompts = prompts_from_regions(
                    regions,
                    schema=schema,
                    width=frames.width,
                    height=frames.height,
                    page_count=len(frames),
                    clock=media.clock,
                    where=where,
                )
                if not prompts.objects:
                    return None
                validate(prompts, width=frames.width, height=frames.height, where=where)
            except UserError as error:  # two boxes for one object on a frame, a box outside ...
                raise RequestError(str(error)) from error
            writers, collect = self._writers(task, schema, media, prompts, project=project)
            try:
                if job is None:
                    with self.gate.interactive():
                        propagate(frames, prompts, tracker=self.tracker, writers=writers)
                else:
                    job.progress(0, len(frames))
                    propagate(
                        frames,
                        prompts,
                        tracker=StepwiseTracker(self.tracker, self.gate),
                        writers=writers,
                        on_progress=job.progress,
                        # Checked at every model step: a cancelled or replaced job lets go of
                        # the model within one step, even deep in a backward pass.
                        cancel=job.cancel_event,
                    )
            except Cancelled as stop:  # every writer aborted: nothing of it is kept
                raise JobCancelled(str(stop)) from None
            except UserError as error:  # a frame that does not decode, an unwritable folder
                raise RequestError(str(error), status=422) from error
        return Prediction(result=collect.results, model_version=self.model_version)

    def _writers(
        self,
        task: Mapping[str, Any],
        schema: ProjectSchema,
        media: TaskMedia,
        prompts: PromptSet,
        *,
        project: object,
    ) -> tuple[list[FrameWriter], BrushResults | VideoRectangleResults]:
        frames = media.frames
        if media.clock is None:
            brushes = BrushResults(schema=schema, width=frames.width, height=frames.height)
            return [brushes], brushes
        objects = list(prompts.objects)
        folder = None
        if self.masks_root is not None:
            folder = self.masks_root / f"project-{project}" / f"task-{task.get('id')}"
        boxes = VideoRectangleResults(
            schema=schema,
            objects=objects,
            clock=media.clock,
            width=frames.width,
            height=frames.height,
            masks_note=None if folder is None else f"masks: {folder}",
        )
        writers: list[FrameWriter] = [boxes]
        if folder is not None:
            writers.append(MaskPngWriter(frames, objects, folder=folder))
        return writers, boxes

    @contextmanager
    def _open_media(
        self,
        task: Mapping[str, Any],
        *,
        schema: ProjectSchema,
        access: LabelStudioAccess | None,
        job: JobControl | None,
    ) -> Iterator[TaskMedia]:
        task_id = task.get("id")
        cancel = None if job is None else job.cancel_event  # polled between download chunks
        fetched: list[Path] = []

        def local_path(url: object) -> Path:
            try:
                path = self.media.local_path(url, task_id=task_id, access=access, cancel=cancel)
            except MediaCancelled as error:  # the job was cancelled while its media downloaded
                raise JobCancelled(str(error)) from error
            fetched.append(path)
            return path

        data = task.get("data")
        if not isinstance(data, Mapping) or schema.data_key not in data:
            raise RequestError(
                f"task {task_id}: its data has no {schema.data_key!r} field, which the label "
                f"config's <{schema.object_name}> reads"
            )
        value = data[schema.data_key]
        try:
            if schema.kind == "video":
                rate = schema.frame_rate_for(data)
                path = local_path(value)
                with VideoFrames(path) as video:
                    # From the video's header: checked before a frame is decoded.
                    self.limits.check(video, where=f"task {task_id}")
                    clock = FrameClock(video.info.timestamps, rate)
                    yield TaskMedia(frames=video, clock=clock)
                return
            if schema.kind == "frames":
                if not isinstance(value, list) or not value:
                    raise RequestError(
                        f"task {task_id}: {schema.data_key!r} must be a list of image URLs"
                    )
                urls = value
                self.limits.check_count(len(urls), where=f"task {task_id}")  # before fetching
            else:
                urls = [value]
            paths = [local_path(url) for url in urls]
            frames = frames_from_paths(paths[0].parent, paths)
            self.limits.check(frames, where=f"task {task_id}")
            yield TaskMedia(frames=frames, clock=None)
        except UserError as error:  # the media does not decode: fetch it again next time
            for path in fetched:
                self.media.forget(path)
            raise RequestError(f"task {task_id}: {error}", status=422) from error


def regions_to_prompt_with(
    task: Mapping[str, Any], context: object, *, schema: ProjectSchema
) -> list[Any] | None:
    """The regions `task` is predicted from, or None when none of them is a prompt yet (no
    prediction, no job, no media fetched). The task id must be a number: it names folders."""
    task_id = task.get("id")
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        raise RequestError(f"task id {task_id!r} is not a number")
    regions = prompt_regions(task, context, where=f"task {task_id}")
    return regions if any(is_prompt(region, schema) for region in regions) else None


def prompt_regions(task: Mapping[str, Any], context: object, *, where: str) -> list[Any]:
    """The regions to prompt with: the interactive context's, else the task's latest
    annotation's (batch predictions come with no context)."""
    if context is not None:
        if not isinstance(context, Mapping) or not isinstance(context.get("result"), list):
            raise RequestError(f"{where}: 'context' must be an object with a 'result' list")
        return list(context["result"])
    annotations = [
        a
        for a in task.get("annotations") or []
        if isinstance(a, Mapping) and not a.get("was_cancelled")
    ]
    if not annotations:
        return []
    latest = max(annotations, key=lambda a: (str(a.get("updated_at") or ""), str(a.get("id"))))
    result = latest.get("result")
    if not isinstance(result, list):
        raise RequestError(f"{where}: annotation {latest.get('id')} has no 'result' list")
    return result
