"""What a job is, whichever queue runs it: its spec (what to predict), its view (what /jobs
shows) and the control a running job reports to."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypedDict

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


class JobSpec(TypedDict):
    """Everything a worker needs besides the model and Label Studio's address: plain JSON, so it
    travels through Redis as it is."""

    project: str  # Label Studio's project number
    task: dict[str, Any]  # id, data and annotations, as Label Studio sends them
    label_config: str
    model_version: str  # the version the web side promised Label Studio


class JobView(TypedDict):
    id: str
    project: str
    task: int
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


def task_key(spec: JobSpec) -> str:
    """One current job per task: a newer submission replaces a queued or running one."""
    return f"{spec['project']}:{spec['task']['id']}"


def new_view(job_id: str, spec: JobSpec, *, retry_of: str | None = None) -> JobView:
    return JobView(
        id=job_id,
        project=spec["project"],
        task=int(spec["task"]["id"]),
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
    )


def job_spec(
    task: Mapping[str, Any], *, project: str, label_config: str, model_version: str
) -> JobSpec:
    """The spec for one task, keeping only what prediction reads (no predictions, drafts...)."""
    kept = {key: task[key] for key in ("id", "data", "annotations") if key in task}
    return JobSpec(
        project=project, task=kept, label_config=label_config, model_version=model_version
    )
