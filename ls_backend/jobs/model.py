"""What a job is, whichever queue runs it: its spec (what to predict), its view (what /jobs
shows) and the control a running job reports to.

Two kinds: a Label Studio task (a frame sequence or video whose prediction is written back to
Label Studio) and a LabelMe folder on a disk the server shares (`labelme-sam2 track FOLDER
--server URL`: the masks are written into the folder's LabelMe files)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypedDict, cast

# cancelling: cancelled (or replaced) while running, its model step finishing; then cancelled.
JobState = Literal["queued", "running", "cancelling", "done", "failed", "cancelled"]
JOB_STATES: tuple[JobState, ...] = (
    "queued",
    "running",
    "cancelling",
    "done",
    "failed",
    "cancelled",
)
FINISHED: frozenset[JobState] = frozenset({"done", "failed", "cancelled"})
JobKind = Literal["task", "folder"]
MAX_WARNINGS = 100  # kept per job; a folder with thousands of odd shapes says so in the log


class TaskJobSpec(TypedDict):
    """Everything a worker needs besides the model and Label Studio's address: plain JSON, so it
    travels through Redis as it is."""

    kind: Literal["task"]
    project: str  # Label Studio's project number
    task: dict[str, Any]  # id, data and annotations, as Label Studio sends them
    label_config: str
    model_version: str  # the version the web side promised Label Studio


class FolderJobSpec(TypedDict):
    """`track FOLDER` on the server's model: plain JSON too, for Redis."""

    kind: Literal["folder"]
    folder: str  # absolute, symlinks resolved, under LABELME_SAM2_MEDIA_ROOTS (checked again)
    full: bool  # recompute every frame, not only what edited prompts affect
    model_version: str  # the version the web side serves; a worker of another one fails it


JobSpec = TaskJobSpec | FolderJobSpec


class FolderResult(TypedDict):
    """A finished or cancelled folder job: the fields of `track --progress json`'s done event
    (docs/outputs.md), so the client reports it as a local run would."""

    cancelled: bool
    frames: int  # in the whole input
    frames_written: int  # by every output: all frames, unless cancelled
    labelme_files_written: int
    labelme_files_changed: int
    recomputed_frames: int
    not_updated: list[str]  # LabelMe files saved during the run and left as saved
    outputs: list[str]
    summary: str  # the line a local `labelme-sam2 track` prints


class JobView(TypedDict):
    id: str
    kind: JobKind
    project: str  # "" for a folder job
    task: int | None  # None for a folder job
    folder: str | None  # a folder job's folder, else None
    state: JobState
    frames_done: int
    frames_total: int
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    prediction_id: int | None  # the prediction written to Label Studio
    replaced_by: str | None  # a newer job for the same task took this one's place
    retry_of: str | None
    attempts: int
    warnings: list[str]  # a folder job's warnings, as `track` prints them (MAX_WARNINGS kept)
    result: FolderResult | None  # a folder job's, once it has finished or was cancelled


class JobCancelled(Exception):
    """Raised inside a running job after cancel (or replacement); the job ends 'cancelled'."""


class JobControl(Protocol):
    job_id: str
    # Set once the job is cancelled or replaced. The run watches it (labelme_sam2.api's
    # `cancel`): the tracker stops at its next model step, a download at its next chunk.
    cancel_event: threading.Event

    def progress(self, done: int, total: int) -> None:
        """Frames written so far, of all; cheap to call on every frame."""
        ...

    def check_cancelled(self) -> None:
        """Raise JobCancelled when the job was cancelled or replaced since it started."""
        ...

    def warn(self, message: str) -> None:
        """A folder job's warning (one line), shown in its view; any thread may call it."""
        ...

    def report(self, result: FolderResult) -> None:
        """A folder job's result, shown in its view."""
        ...


def task_key(spec: JobSpec) -> str:
    """One current job per task or folder: a newer submission replaces a queued or running
    one."""
    if spec["kind"] == "folder":
        return f"folder:{spec['folder']}"
    return f"{spec['project']}:{spec['task']['id']}"


def view_key(view: JobView) -> str:
    """task_key of the job a view shows."""
    if view["kind"] == "folder":
        return f"folder:{view['folder']}"
    return f"{view['project']}:{view['task']}"


def describe(spec: JobSpec) -> str:
    """What the job is about, for logs: "task 12" or "folder /shared/clip"."""
    if spec["kind"] == "folder":
        return f"folder {spec['folder']}"
    return f"task {spec['task']['id']}"


def spec_from_json(raw: dict[str, Any]) -> JobSpec:
    """A spec as it comes back from Redis; one queued before folder jobs existed has no kind
    and is a task's."""
    return cast(JobSpec, raw if "kind" in raw else {"kind": "task", **raw})


def new_view(job_id: str, spec: JobSpec, *, retry_of: str | None = None) -> JobView:
    if spec["kind"] == "folder":
        project, task, folder = "", None, spec["folder"]
    else:
        project, task, folder = spec["project"], int(spec["task"]["id"]), None
    return JobView(
        id=job_id,
        kind=spec["kind"],
        project=project,
        task=task,
        folder=folder,
        state="queued",
        frames_done=0,
        frames_total=0,
        submitted_at=time.time(),
        started_at=None,
        finished_at=None,
        error=None,
        prediction_id=None,
        replaced_by=None,
        retry_of=retry_of,
        attempts=0,
        warnings=[],
        result=None,
    )


def job_spec(
    task: Mapping[str, Any], *, project: str, label_config: str, model_version: str
) -> TaskJobSpec:
    """The spec for one task, keeping only what prediction reads (no predictions, drafts...)."""
    kept = {key: task[key] for key in ("id", "data", "annotations") if key in task}
    return TaskJobSpec(
        kind="task",
        project=project,
        task=kept,
        label_config=label_config,
        model_version=model_version,
    )


def folder_job_spec(folder: str, *, full: bool, model_version: str) -> FolderJobSpec:
    return FolderJobSpec(kind="folder", folder=folder, full=full, model_version=model_version)
