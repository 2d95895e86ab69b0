"""Jobs on Redis + RQ, as the web side sees them: submit, list, cancel, retry. The web side only
enqueues by name (rq_worker.perform), so it imports neither torch nor SAM 2; `labelme-sam2
worker` processes, one per GPU on any machine that reaches Redis, run the jobs."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DeserializationError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import (
    CanceledJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    StartedJobRegistry,
)
from rq.serializers import JSONSerializer

from labelme_sam2.api import UserError
from ls_backend.ids import is_id
from ls_backend.jobs.model import (
    JOB_STATES,
    FolderResult,
    JobKind,
    JobSpec,
    JobState,
    JobView,
    new_view,
    spec_from_json,
    task_key,
)
from ls_backend.jobs.queue import (
    DEFAULT_MAX_QUEUED,
    JobConflict,
    QueueStats,
    UnknownJob,
    matches,
    queue_full,
)

PERFORM = "ls_backend.jobs.rq_worker.perform"
# Jobs, their meta and results as JSON, never pickle: RQ's default would let anyone who can
# write to Redis run code in every web process (it unpickles meta on each /jobs) and worker.
# Every Queue, Job.fetch and Worker of ours names it; job specs are plain JSON already.
SERIALIZER = JSONSerializer
PREFIX = "labelme-sam2"
RETRIES = 2  # a job whose worker died (or hit a bug) runs again, at most twice more
KEEP_SECONDS = 7 * 24 * 3600  # finished and failed jobs stay listed this long
LIST_LIMIT = 500
WORKER_SILENT_SECONDS = 30  # a worker not heard from this long is not listed
T = TypeVar("T")


def current_key(key: str) -> str:
    return f"{PREFIX}:current:{key}"


def cancel_key(job_id: str) -> str:
    return f"{PREFIX}:cancel:{job_id}"


def progress_key(job_id: str) -> str:
    return f"{PREFIX}:progress:{job_id}"  # hash: done, total (the worker writes it)


def replaced_key(job_id: str) -> str:
    return f"{PREFIX}:replaced-by:{job_id}"  # the web side writes it; the worker, the meta


def replaces_key(job_id: str) -> str:
    # The job a newer one replaced: a folder job waits for it to let go of the folder.
    return f"{PREFIX}:replaces:{job_id}"


def warnings_key(job_id: str) -> str:
    return f"{PREFIX}:warnings:{job_id}"  # list: a folder job's warnings (the worker writes)


def result_key(job_id: str) -> str:
    return f"{PREFIX}:result:{job_id}"  # JSON: a folder job's FolderResult (the worker writes)


def task_lock(connection: Redis, key: str) -> Any:
    # Held while a prediction is written (several Label Studio calls, 30 s timeout each).
    return connection.lock(f"{PREFIX}:lock:{key}", timeout=600, blocking_timeout=600)


def workers_key() -> str:
    return f"{PREFIX}:workers"  # hash: worker name -> JSON {version, device, gpu_bytes, seen}


class RqJobs:
    uses_web_access = False

    def __init__(
        self,
        connection: Redis,
        *,
        queue_name: str,
        job_timeout: int,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self.max_queued = max_queued
        self.connection = connection
        self.queue = Queue(queue_name, connection=connection, serializer=SERIALIZER)
        self.job_timeout = job_timeout

    def submit(self, spec: JobSpec, *, retry_of: str | None = None) -> JobView:
        job_id = uuid.uuid4().hex
        key = task_key(spec)
        view = new_view(job_id, spec, retry_of=retry_of)
        with task_lock(self.connection, key):
            previous = self.connection.get(current_key(key))
            queued = self.queue.count
            # A newer job for a queued task takes its place: that adds nothing to the queue.
            if queued >= self.max_queued and not self._queued(previous):
                raise queue_full(queued)
            if previous is not None and self._replace(as_text(previous), by=job_id):
                self.connection.set(replaces_key(job_id), as_text(previous), ex=KEEP_SECONDS)
            self.queue.enqueue(
                PERFORM,
                spec,
                job_id=job_id,
                job_timeout=self.job_timeout,
                result_ttl=KEEP_SECONDS,
                failure_ttl=KEEP_SECONDS,
                retry=Retry(max=RETRIES),
                meta={"view": view},
            )
            self.connection.set(current_key(key), job_id, ex=KEEP_SECONDS)
        return view

    def jobs(
        self, *, project: str | None = None, task: int | None = None, state: str | None = None
    ) -> list[JobView]:
        ids: list[str] = list(self.queue.get_job_ids())
        for registry in self._registries():
            ids += registry.get_job_ids()  # also hands abandoned jobs to RQ's retry
        jobs = Job.fetch_many(
            list(dict.fromkeys(ids)), connection=self.connection, serializer=SERIALIZER
        )
        views = self._views([job for job in jobs if job is not None])
        chosen = [v for v in views if matches(v, project=project, task=task, state=state)]
        return sorted(chosen, key=lambda v: v["submitted_at"], reverse=True)[:LIST_LIMIT]

    def job(self, job_id: str) -> JobView:
        return self._views([self._fetch(job_id)])[0]

    def cancel(self, job_id: str) -> JobView:
        job = self._fetch(job_id)
        state = self.job(job_id)["state"]
        if state in ("done", "failed", "cancelled"):
            raise JobConflict(f"job {job_id} is already {state}")
        self._stop(job)
        return self.job(job_id)

    def retry(self, job_id: str) -> JobView:
        job = self._fetch(job_id)
        state = self.job(job_id)["state"]
        if state not in ("failed", "cancelled"):
            raise JobConflict(f"job {job_id} is {state}: only failed or cancelled jobs are retried")
        spec = spec_from_json(job.args[0])
        latest = self.connection.get(current_key(task_key(spec)))
        if latest is None or as_text(latest) != job_id:  # its annotation is stale
            newer = None if latest is None else as_text(latest)
            raise JobConflict(f"job {job_id} was replaced by job {newer} for its task")
        return self.submit(spec, retry_of=job_id)

    def stats(self) -> QueueStats:
        counts: dict[JobState, int] = dict.fromkeys(JOB_STATES, 0)
        durations: list[float] = []
        for view in self.jobs():
            counts[view["state"]] += 1
            if view["state"] == "done" and view["started_at"] and view["finished_at"]:
                durations.append(view["finished_at"] - view["started_at"])
        gpu = {name: int(report.get("gpu_bytes", 0)) for name, report in self.workers().items()}
        return QueueStats(counts=counts, durations=durations, gpu_memory=gpu)

    def workers(self) -> dict[str, dict[str, Any]]:
        """Workers heard from lately: name -> their report (version, device, GPU bytes)."""
        reports = {
            as_text(name): _json(raw)
            for name, raw in self.connection.hgetall(workers_key()).items()
        }
        fresh = time.time() - WORKER_SILENT_SECONDS
        return {name: r for name, r in reports.items() if float(r.get("seen", 0)) > fresh}

    def close(self) -> None:
        self.connection.close()

    def _replace(self, previous_id: str, *, by: str) -> bool:
        """Whether there was a queued or running job to replace."""
        try:
            previous = Job.fetch(previous_id, connection=self.connection, serializer=SERIALIZER)
        except NoSuchJobError:
            return False
        if self.job(previous_id)["state"] in ("done", "failed", "cancelled"):
            return False
        self.connection.set(replaced_key(previous_id), by, ex=KEEP_SECONDS)
        self._stop(previous)
        return True

    def _stop(self, job: Job) -> None:
        # A running job's worker polls this key (CANCEL_POLL_SECONDS) and stops at its next
        # model step; a queued one is taken off the queue.
        self.connection.set(cancel_key(job.id), 1, ex=KEEP_SECONDS)
        if job.get_status() in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            with contextlib.suppress(InvalidJobOperation):  # started: the key stops it
                job.cancel()

    def _queued(self, job_id: bytes | str | None) -> bool:
        if job_id is None:
            return False
        try:
            job = Job.fetch(as_text(job_id), connection=self.connection, serializer=SERIALIZER)
        except NoSuchJobError:
            return False
        return job.get_status() == JobStatus.QUEUED

    def _fetch(self, job_id: str) -> Job:
        try:
            return Job.fetch(job_id, connection=self.connection, serializer=SERIALIZER)
        except NoSuchJobError as error:
            raise UnknownJob(job_id) from error

    def _views(self, jobs: list[Job]) -> list[JobView]:
        asked = 5  # commands per job below
        with self.connection.pipeline() as pipe:
            for job in jobs:
                pipe.hgetall(progress_key(job.id))
                pipe.get(replaced_key(job.id))
                pipe.exists(cancel_key(job.id))
                pipe.lrange(warnings_key(job.id), 0, -1)
                pipe.get(result_key(job.id))
            extras = pipe.execute()
        return [
            view_of(
                job,
                progress=extras[asked * i],
                replaced_by=extras[asked * i + 1],
                cancel_requested=bool(extras[asked * i + 2]),
                warnings=extras[asked * i + 3],
                result=extras[asked * i + 4],
            )
            for i, job in enumerate(jobs)
        ]

    def _registries(self) -> list[Any]:
        kw: dict[str, Any] = {"queue": self.queue}
        return [
            StartedJobRegistry(**kw),
            FinishedJobRegistry(**kw),
            FailedJobRegistry(**kw),
            CanceledJobRegistry(**kw),
        ]


_STATES: dict[str, JobState] = {
    JobStatus.QUEUED: "queued",
    JobStatus.SCHEDULED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.CREATED: "queued",
    JobStatus.STARTED: "running",
    JobStatus.FINISHED: "done",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "cancelled",
    JobStatus.CANCELED: "cancelled",
}


def view_of(
    job: Job,
    *,
    progress: dict[bytes, bytes],
    replaced_by: bytes | None,
    cancel_requested: bool = False,
    warnings: list[bytes] | None = None,
    result: bytes | None = None,
) -> JobView:
    """RQ's status and timestamps over the view the job was submitted with; the worker's
    outcome (cancelled, failed for a reason) comes from the job's meta. A running job whose
    cancel key is set is `cancelling`: its worker stops it at its next model step."""
    meta: dict[str, Any] = job.meta if isinstance(job.meta, dict) else {}
    view = submitted_view(job, meta.get("view"))
    status = job.get_status(refresh=False)
    state: JobState = _STATES.get(status, "queued") if status else "queued"
    outcome = meta.get("outcome")
    if state == "done" and outcome in ("cancelled", "failed"):
        state = outcome
    if state == "running" and cancel_requested:
        state = "cancelling"
    view["state"] = state
    view["frames_done"] = int(progress.get(b"done", 0))
    view["frames_total"] = int(progress.get(b"total", 0))
    view["started_at"] = job.started_at.timestamp() if job.started_at else None
    running = state in ("running", "cancelling")
    view["finished_at"] = job.ended_at.timestamp() if job.ended_at and not running else None
    view["error"] = meta.get("error")
    if state == "failed" and view["error"] is None:
        view["error"] = "the worker failed (see its log)"
    view["prediction_id"] = meta.get("prediction_id")
    view["replaced_by"] = as_text(replaced_by) if replaced_by else None
    attempts = meta.get("attempts", 0)
    view["attempts"] = attempts if isinstance(attempts, int) else 0
    view["warnings"] = [as_text(line) for line in warnings or []]
    view["result"] = None if result is None else _folder_result(result)
    return view


def _folder_result(raw: bytes) -> FolderResult | None:
    """What the worker stored; None if it is not an object (Redis is trusted for data only)."""
    value = _json(raw)
    return cast(FolderResult, value) if value else None


def submitted_view(job: Job, stored: object) -> JobView:
    """The view submit() stored in the job's meta, field by field; a job without it (enqueued
    by hand, its meta lost or unreadable) is still listed, with what its spec tells and RQ's
    enqueue time, so one odd job never breaks /jobs and /metrics for all."""
    kept: dict[str, Any] = stored if isinstance(stored, dict) else {}
    kind: JobKind = "folder" if kept.get("kind") == "folder" else "task"
    folder = kept.get("folder")
    project, task = ("", None) if kind == "folder" else _project_and_task(job, kept)
    enqueued = job.enqueued_at or job.created_at
    retry_of = kept.get("retry_of")
    return JobView(
        id=job.id,
        kind=kind,
        project=project,
        task=task,
        folder=folder if kind == "folder" and isinstance(folder, str) else None,
        state="queued",
        frames_done=0,
        frames_total=0,
        submitted_at=_field(kept.get("submitted_at"), float, enqueued.timestamp()),
        started_at=None,
        finished_at=None,
        error=None,
        prediction_id=None,
        replaced_by=None,
        retry_of=retry_of if isinstance(retry_of, str) else None,
        attempts=0,
        warnings=[],
        result=None,
    )


def _project_and_task(job: Job, kept: dict[str, Any]) -> tuple[str, int]:
    project, task = kept.get("project"), kept.get("task")
    if isinstance(project, str) and isinstance(task, int) and not isinstance(task, bool):
        return project, task
    return _spec_fields(job)  # its arguments are decoded only for a job without its view


def _spec_fields(job: Job) -> tuple[str, int]:
    """Project and task of the job's spec; ("", 0) when its arguments are no spec."""
    try:
        args = job.args
    except DeserializationError:
        return "", 0
    spec = args[0] if args else None
    task = spec.get("task") if isinstance(spec, dict) else None
    if not isinstance(spec, dict) or not isinstance(task, dict):
        return "", 0
    task_id = str(task.get("id"))
    return _field(spec.get("project"), str, ""), int(task_id) if is_id(task_id) else 0


def _field(value: object, kind: type[T], default: T) -> T:
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def _json(raw: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def as_text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def connect(url: str) -> Redis:
    """A checked connection: a wrong URL or a Redis that is down is one line at start."""
    try:
        connection = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        connection.ping()
    except (ValueError, RedisError) as error:
        raise UserError(redacted(url), f"cannot reach Redis ({error})") from error
    return connection


def redacted(url: str) -> str:
    """The Redis URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
