"""The worker side of RQ jobs: `perform` runs one job inside `labelme-sam2 worker`, whose
process holds the model (loaded once; RQ's SimpleWorker runs jobs in process, no fork).

A worker killed mid-job is noticed within LIVENESS_SECONDS: a thread beside the job renews the
job's place in RQ's started registry, and each worker's thread hands expired ones to RQ's own
clean-up, which queues them again (Retry). The job's prediction replaces any the dead worker
already wrote, so the task still ends with one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus, get_current_job
from rq.registry import StartedJobRegistry

from ls_backend.folder_tracking import FolderTracking
from ls_backend.jobs.model import (
    MAX_WARNINGS,
    FolderResult,
    JobCancelled,
    JobSpec,
    describe,
    spec_from_json,
    task_key,
)
from ls_backend.jobs.rq_queue import (
    KEEP_SECONDS,
    SERIALIZER,
    as_text,
    cancel_key,
    current_key,
    progress_key,
    replaces_key,
    result_key,
    task_lock,
    warnings_key,
    workers_key,
)
from ls_backend.jobs.runner import JobFailed, run_job
from ls_backend.label_studio_api import LabelStudioApi, LabelStudioApiError
from ls_backend.media import LabelStudioAccess
from ls_backend.prediction import Predictor

log = logging.getLogger(__name__)
LIVENESS_SECONDS = 15  # a job whose worker has not renewed it this long is taken as abandoned
BEAT_SECONDS = 3.0
CANCEL_POLL_SECONDS = 0.2  # a cancel reaches a running job this late at most (then one step)
# A folder job waits this long at most for the job it replaced (on another worker) to let go of
# the folder: that one stops within a step, or its worker is dead and RQ gives up on it.
REPLACED_WAIT_SECONDS = 2 * LIVENESS_SECONDS


@dataclass
class WorkerRuntime:
    predictor: Predictor
    folders: FolderTracking
    access: LabelStudioAccess | None
    api: LabelStudioApi | None  # made once: its session and access token are reused
    connection: Redis
    device: str
    gpu_bytes: Callable[[], int]
    worker: SimpleWorker | None = None  # set once the worker exists


_runtime: WorkerRuntime | None = None


def install(runtime: WorkerRuntime) -> None:
    global _runtime
    _runtime = runtime


class _RqControl:
    """A job's progress and cancellation on Redis. While `watching()`, a thread looks at the
    job's cancel key every CANCEL_POLL_SECONDS and sets `cancel_event`, which the run checks
    at every model step: a cancel set by the web side stops the job within that plus a step."""

    def __init__(self, job: Job, connection: Redis) -> None:
        self.job_id = job.id
        self.cancel_event = threading.Event()
        self._connection = connection

    def progress(self, done: int, total: int) -> None:
        with self._connection.pipeline() as pipe:  # one round trip per frame
            pipe.hset(progress_key(self.job_id), mapping={"done": done, "total": total})
            pipe.expire(progress_key(self.job_id), KEEP_SECONDS)
            pipe.execute()

    def check_cancelled(self) -> None:
        """Asks Redis now (not the watcher's last look)."""
        if self.cancel_event.is_set() or self._connection.exists(cancel_key(self.job_id)):
            self.cancel_event.set()
            raise JobCancelled(self.job_id)

    def warn(self, message: str) -> None:
        log.warning("job %s: %s", self.job_id, message)
        key = warnings_key(self.job_id)
        with self._connection.pipeline() as pipe:
            pipe.rpush(key, message)
            pipe.ltrim(key, 0, MAX_WARNINGS - 1)  # the first ones, as the embedded queue keeps
            pipe.expire(key, KEEP_SECONDS)
            pipe.execute()

    def report(self, result: FolderResult) -> None:
        self._connection.set(result_key(self.job_id), json.dumps(result), ex=KEEP_SECONDS)

    @contextmanager
    def watching(self) -> Iterator[None]:
        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(stop,), name=f"cancel-watch-{self.job_id}", daemon=True
        )
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()

    def _watch(self, stop: threading.Event) -> None:
        while not stop.wait(CANCEL_POLL_SECONDS):
            try:
                if self._connection.exists(cancel_key(self.job_id)):
                    self.cancel_event.set()
                    return
            except RedisError as error:  # Redis restarting: the job's own checks still ask
                log.warning("job %s: cannot tell whether it was cancelled: %s", self.job_id, error)


def perform(raw_spec: dict[str, Any]) -> int | None:
    """RQ's entry point for one job: the prediction id written, or None."""
    spec = spec_from_json(raw_spec)
    runtime = _runtime
    job = get_current_job()
    if runtime is None or job is None:
        raise RuntimeError("perform runs inside `labelme-sam2 worker` only")
    job.meta["attempts"] = int(job.meta.get("attempts", 0)) + 1
    job.meta.pop("outcome", None)
    job.meta.pop("error", None)
    job.save_meta()
    # A folder job run again (its worker died) reports afresh.
    runtime.connection.delete(warnings_key(job.id), result_key(job.id))
    if runtime.worker is not None:  # from the first moment: a worker may die at once
        renew_running_jobs(runtime.worker, runtime.connection)
    control = _RqControl(job, runtime.connection)
    try:
        # A job cancelled, or replaced by a newer job of its task, since it was queued never
        # starts: its prediction would be replaced anyway.
        control.check_cancelled()
        if not _is_current(runtime.connection, job.id, spec):
            raise JobCancelled(job.id)
        with control.watching():
            if spec["kind"] == "folder":
                _wait_for_replaced(runtime.connection, job.id, control)
                runtime.folders.run(spec, control)
                prediction_id = None
            else:
                prediction_id = run_job(
                    spec,
                    predictor=runtime.predictor,
                    control=control,
                    access=runtime.access,
                    sink=runtime.api,
                    still_current=lambda: _still_current(runtime.connection, job.id, spec),
                )
    except JobCancelled:
        job.meta["outcome"] = "cancelled"
        prediction_id = None
    except JobFailed as failure:
        log.warning("job %s (%s) failed: %s", job.id, describe(spec), failure)
        job.meta["outcome"], job.meta["error"] = "failed", str(failure)
        prediction_id = None
    except LabelStudioApiError as error:  # Label Studio down or refusing: RQ retries
        job.meta["error"] = str(error)
        job.save_meta()
        raise
    job.meta["prediction_id"] = prediction_id
    job.save_meta()
    return prediction_id


@contextmanager
def _still_current(connection: Redis, job_id: str, spec: JobSpec) -> Iterator[bool]:
    with task_lock(connection, task_key(spec)):
        cancelled = connection.exists(cancel_key(job_id))
        yield _is_current(connection, job_id, spec) and not cancelled


def _wait_for_replaced(connection: Redis, job_id: str, control: _RqControl) -> None:
    """A folder job that replaced a running one waits for it to end: another worker may still
    be finishing its model step, holding the folder (a second `track` on it is refused)."""
    replaced = connection.get(replaces_key(job_id))
    if replaced is None:
        return
    deadline = time.monotonic() + REPLACED_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            status = Job.fetch(
                as_text(replaced), connection=connection, serializer=SERIALIZER
            ).get_status()
        except NoSuchJobError:
            return
        if status != JobStatus.STARTED:
            return
        control.check_cancelled()
        time.sleep(CANCEL_POLL_SECONDS)


def _is_current(connection: Redis, job_id: str, spec: JobSpec) -> bool:
    """Whether the job is still its task's latest (no newer one was submitted)."""
    latest = connection.get(current_key(task_key(spec)))
    return latest is not None and as_text(latest) == job_id


def renew_running_jobs(worker: SimpleWorker, connection: Redis) -> None:
    """Push this worker's running job's expiry in RQ's started registry LIVENESS_SECONDS out."""
    registry = StartedJobRegistry(queue=worker.queues[0])  # `worker` runs one queue
    with connection.pipeline() as pipe:
        for execution in list(worker.executions.values()):
            execution.heartbeat(registry, ttl=LIVENESS_SECONDS, pipeline=pipe)
        pipe.execute()


def keep_alive(
    worker: SimpleWorker, queue: Queue, runtime: WorkerRuntime, stop: threading.Event
) -> None:
    """Beside the job: renew this worker's running job, report the worker (version, GPU
    memory), and let RQ requeue jobs whose worker stopped renewing them."""
    registry = StartedJobRegistry(queue=queue)
    while True:  # the first report at start: /health lists a worker as soon as it runs
        try:
            renew_running_jobs(worker, runtime.connection)
            report = json.dumps(_report(worker, runtime))
            runtime.connection.hset(workers_key(), worker.name, report)
            registry.cleanup()  # abandoned jobs: retried (Retry) or failed
        except Exception:  # Redis restarting: try again at the next beat
            log.exception("worker heartbeat")
        if stop.wait(BEAT_SECONDS):
            return


def _report(worker: SimpleWorker, runtime: WorkerRuntime) -> dict[str, object]:
    return {
        "version": runtime.predictor.model_version,
        "device": runtime.device,
        "gpu_bytes": runtime.gpu_bytes(),
        "seen": time.time(),
        "job": worker.get_current_job_id(),
    }
