"""The default queue: jobs in this process's memory, run one at a time by one thread beside the
web server, sharing its model (clicks still go first: gpu_gate.py). No extra services; jobs
do not survive a restart (Redis + RQ do: rq_queue.py)."""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ls_backend.jobs.model import (
    FINISHED,
    JOB_STATES,
    MAX_WARNINGS,
    FolderResult,
    JobCancelled,
    JobSpec,
    JobState,
    JobView,
    describe,
    new_view,
    task_key,
    view_key,
)
from ls_backend.jobs.queue import (
    DEFAULT_MAX_QUEUED,
    Execute,
    JobConflict,
    QueueStats,
    UnknownJob,
    matches,
    queue_full,
)
from ls_backend.jobs.runner import JobFailed
from ls_backend.label_studio_api import LabelStudioApiError

log = logging.getLogger(__name__)
KEPT_FINISHED = 1000  # finished jobs /jobs still shows
KEPT_DURATIONS = 1000


class _Control:
    def __init__(self, queue: EmbeddedJobs, job_id: str, cancel_event: threading.Event) -> None:
        self.job_id = job_id
        self.cancel_event = cancel_event  # set by the queue, under its lock (_cancel)
        self._queue = queue

    def progress(self, done: int, total: int) -> None:
        with self._queue._lock:
            view = self._queue._views[self.job_id]
            view["frames_done"], view["frames_total"] = done, total

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled(self.job_id)

    def warn(self, message: str) -> None:
        log.warning("job %s: %s", self.job_id, message)
        with self._queue._lock:
            warnings = self._queue._views[self.job_id]["warnings"]
            if len(warnings) < MAX_WARNINGS:
                warnings.append(message)

    def report(self, result: FolderResult) -> None:
        with self._queue._lock:
            self._queue._views[self.job_id]["result"] = result


class EmbeddedJobs:
    uses_web_access = True

    def __init__(self, *, execute: Execute, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self._execute = execute
        self._max_queued = max_queued
        self._lock = threading.Lock()
        self._publishing = threading.Lock()  # never held with _lock: Label Studio may be slow
        self._wake = threading.Condition(self._lock)
        self._views: dict[str, JobView] = {}
        self._specs: dict[str, JobSpec] = {}
        self._queued: collections.deque[str] = collections.deque()
        self._current: dict[str, str] = {}  # task key -> its latest job
        # Running jobs' cancel events: set on cancel or replacement, the run stops at its next
        # model step (not its next output frame: a backward pass may take minutes).
        self._running: dict[str, threading.Event] = {}
        self._finished: collections.deque[str] = collections.deque()
        self._durations: collections.deque[float] = collections.deque(maxlen=KEPT_DURATIONS)
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="labelme-sam2-jobs", daemon=True)
        self._thread.start()

    def submit(self, spec: JobSpec, *, retry_of: str | None = None) -> JobView:
        job_id = uuid.uuid4().hex
        with self._lock:
            previous = self._current.get(task_key(spec))
            view = None if previous is None else self._views.get(previous)
            replaces_queued = view is not None and view["state"] == "queued"
            if len(self._queued) >= self._max_queued and not replaces_queued:
                raise queue_full(len(self._queued))
            if previous is not None and view is not None and view["state"] not in FINISHED:
                self._views[previous]["replaced_by"] = job_id
                self._cancel(previous)
            self._views[job_id] = new_view(job_id, spec, retry_of=retry_of)
            self._specs[job_id] = spec
            self._current[task_key(spec)] = job_id
            self._queued.append(job_id)
            self._wake.notify_all()
            return _copy(self._views[job_id])

    def jobs(
        self, *, project: str | None = None, task: int | None = None, state: str | None = None
    ) -> list[JobView]:
        with self._lock:
            views = [_copy(v) for v in self._views.values()]
        chosen = [v for v in views if matches(v, project=project, task=task, state=state)]
        return sorted(chosen, key=lambda v: v["submitted_at"], reverse=True)

    def job(self, job_id: str) -> JobView:
        with self._lock:
            if job_id not in self._views:
                raise UnknownJob(job_id)
            return _copy(self._views[job_id])

    def cancel(self, job_id: str) -> JobView:
        with self._lock:
            if job_id not in self._views:
                raise UnknownJob(job_id)
            if self._views[job_id]["state"] in FINISHED:
                raise JobConflict(f"job {job_id} is already {self._views[job_id]['state']}")
            self._cancel(job_id)  # a cancelling job: nothing more to do
            return _copy(self._views[job_id])

    def retry(self, job_id: str) -> JobView:
        with self._lock:
            if job_id not in self._views:
                raise UnknownJob(job_id)
            state = self._views[job_id]["state"]
            spec = self._specs.get(job_id)
            latest = None if spec is None else self._current.get(task_key(spec))
        if state not in ("failed", "cancelled") or spec is None:
            raise JobConflict(f"job {job_id} is {state}: only failed or cancelled jobs are retried")
        if latest != job_id:  # its annotation is stale: a newer job has the task
            raise JobConflict(f"job {job_id} was replaced by job {latest} for its task")
        return self.submit(spec, retry_of=job_id)

    def stats(self) -> QueueStats:
        with self._lock:
            counts: dict[JobState, int] = dict.fromkeys(JOB_STATES, 0)
            for view in self._views.values():
                counts[view["state"]] += 1
            return QueueStats(counts=counts, durations=list(self._durations))

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify_all()
        self._thread.join(timeout=5)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or running (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            return self._wake.wait_for(
                lambda: not self._queued and not self._running,
                timeout=max(0.0, deadline - time.monotonic()),
            )

    # --- under self._lock ---

    def _cancel(self, job_id: str) -> None:
        view = self._views[job_id]
        if view["state"] == "queued":
            self._queued.remove(job_id)
            self._finish(job_id, "cancelled", None)
        elif view["state"] == "running":  # stops at its next model step, writes nothing
            view["state"] = "cancelling"
            self._running[job_id].set()

    def _finish(self, job_id: str, state: JobState, error: str | None) -> None:
        view = self._views[job_id]
        view["state"], view["error"] = state, error
        finished = view["finished_at"] = time.time()
        if view["started_at"] is not None and state == "done":
            self._durations.append(finished - view["started_at"])
        self._running.pop(job_id, None)
        if state == "done":  # only failed and cancelled jobs are retried
            self._specs.pop(job_id, None)
        self._finished.append(job_id)
        while len(self._finished) > KEPT_FINISHED:
            old = self._finished.popleft()
            evicted = self._views.pop(old, None)
            self._specs.pop(old, None)
            if evicted is not None and self._current.get(view_key(evicted)) == old:
                del self._current[view_key(evicted)]
        self._wake.notify_all()

    # --- the worker thread ---

    def _work(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._queued or self._closing)
                if self._closing:
                    return
                # A replaced or cancelled job left the queue at once: what is queued is current.
                job_id = self._queued.popleft()
                view = self._views[job_id]
                view["state"], view["started_at"] = "running", time.time()
                view["attempts"] += 1
                spec = self._specs[job_id]
                cancel_event = self._running[job_id] = threading.Event()
            self._run(job_id, spec, _Control(self, job_id, cancel_event))

    def _run(self, job_id: str, spec: JobSpec, control: _Control) -> None:
        state: JobState = "done"
        error: str | None = None
        prediction_id: int | None = None
        try:
            prediction_id = self._execute(spec, control, lambda: self._still_current(job_id, spec))
        except JobCancelled:
            state = "cancelled"
        except (JobFailed, LabelStudioApiError) as failure:  # retry from /jobs once it is fixed
            state, error = "failed", str(failure)
            log.warning("job %s (%s) failed: %s", job_id, describe(spec), error)
        except Exception as bug:  # the worker thread must outlive a bug in one job
            log.exception("job %s (%s): bug", job_id, describe(spec))
            state, error = "failed", f"internal error ({type(bug).__name__}); see the log"
        with self._lock:
            self._views[job_id]["prediction_id"] = prediction_id
            self._finish(job_id, state, error)

    @contextmanager
    def _still_current(self, job_id: str, spec: JobSpec) -> Iterator[bool]:
        # Held while the prediction is written: one task's predictions are never written by two
        # jobs at once (a later job's write replaces an earlier one's).
        with self._publishing:
            with self._lock:
                current = self._current.get(task_key(spec)) == job_id
                current = current and not self._running[job_id].is_set()
            yield current


def _copy(view: JobView) -> JobView:
    """A view to hand out: its warnings list keeps growing in the queue's copy."""
    copied = view.copy()
    copied["warnings"] = list(view["warnings"])
    return copied
