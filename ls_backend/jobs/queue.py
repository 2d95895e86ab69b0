"""The job queue as the web side sees it; embedded (in process) and RQ implement it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from ls_backend.errors import RequestError
from ls_backend.jobs.model import JobControl, JobSpec, JobState, JobView

# Runs one job: spec, its control, and the "is this job still the task's latest" lock.
Execute = Callable[[JobSpec, JobControl, Callable[[], AbstractContextManager[bool]]], int | None]


class UnknownJob(LookupError):
    pass


DEFAULT_MAX_QUEUED = 1000  # LABELME_SAM2_MAX_QUEUED_JOBS


def queue_full(queued: int) -> RequestError:
    """A submission past the cap of queued jobs: the client may try again later."""
    return RequestError(
        f"{queued} jobs are queued already, the most this backend takes; try again when some "
        "have run (LABELME_SAM2_MAX_QUEUED_JOBS raises the limit)",
        status=503,
    )


class JobConflict(ValueError):
    """The operation does not fit the job's state (retry a running job, cancel a done one)."""


@dataclass(frozen=True)
class QueueStats:
    counts: dict[JobState, int]
    durations: list[float] = field(default_factory=list)  # seconds, of recently finished jobs
    gpu_memory: dict[str, int] = field(default_factory=dict)  # worker -> bytes allocated now


class JobQueue(Protocol):
    # True when jobs write to Label Studio with the web side's access (embedded); RQ workers
    # have their own LABEL_STUDIO_URL and key.
    uses_web_access: bool

    def submit(self, spec: JobSpec, *, retry_of: str | None = None) -> JobView:
        """Queue `spec`; a queued or running job of the same task is cancelled, replaced."""
        ...

    def jobs(
        self, *, project: str | None = None, task: int | None = None, state: str | None = None
    ) -> list[JobView]:
        """Newest first."""
        ...

    def job(self, job_id: str) -> JobView:
        """Raise UnknownJob."""
        ...

    def cancel(self, job_id: str) -> JobView:
        """A queued job never runs; a running one is `cancelling` at once and stops at its
        next model step (a frame tracked, a keyframe decoded, a download chunk), writing
        nothing; a cancelling one is left as it is."""
        ...

    def retry(self, job_id: str) -> JobView:
        """A failed or cancelled job again, as a new job (its view names the old one)."""
        ...

    def stats(self) -> QueueStats: ...

    def close(self) -> None: ...


def matches(view: JobView, *, project: str | None, task: int | None, state: str | None) -> bool:
    return (
        (project is None or view["project"] == project)
        and (task is None or view["task"] == task)
        and (state is None or view["state"] == state)
    )
