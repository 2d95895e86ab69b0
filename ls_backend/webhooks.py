"""Annotation created or updated -> a job for its task, off the request: Label Studio waits
only a second or so for a webhook, and it sends them without the backend's credentials. So the
payload is taken only for its project and task ids; the task and the label config are read
back from Label Studio's API with our own key, and a forged webhook can at most re-predict a
real task from its real annotations."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping

from ls_backend.errors import RequestError
from ls_backend.ids import is_id
from ls_backend.jobs.queue import JobQueue
from ls_backend.jobs.submission import submit_task
from ls_backend.label_config import parse_label_config
from ls_backend.label_studio_api import AccessBook, LabelStudioApiError

log = logging.getLogger(__name__)
JOB_ACTIONS = frozenset({"ANNOTATION_CREATED", "ANNOTATION_UPDATED"})
PENDING_LIMIT = 10_000  # webhooks waiting to be read back; beyond, they are dropped (logged)


def task_of_event(body: object) -> tuple[str, int] | None:
    """(project, task id) of an annotation event that should start a job, else None."""
    if not isinstance(body, Mapping) or body.get("action") not in JOB_ACTIONS:
        return None
    project, task = body.get("project"), body.get("task")
    annotation = body.get("annotation")
    project_id = project.get("id") if isinstance(project, Mapping) else None
    task_id = task.get("id") if isinstance(task, Mapping) else None
    if task_id is None and isinstance(annotation, Mapping):
        task_id = annotation.get("task")
    if project_id is None and isinstance(annotation, Mapping):
        project_id = annotation.get("project")
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        return None
    if not is_id(str(project_id)):
        return None
    return str(project_id), task_id


class WebhookIntake:
    """Reads back and submits each accepted webhook's task, one at a time, on a daemon thread
    that lives as long as the process."""

    def __init__(self, *, jobs: JobQueue, book: AccessBook, model_version: str) -> None:
        self._jobs = jobs
        self._book = book
        self._model_version = model_version
        self._pending: queue.Queue[tuple[str, int]] = queue.Queue(PENDING_LIMIT)
        # Tasks in _pending: a second webhook for one of them adds nothing, since its read-back
        # has not started and will see the newest annotations anyway.
        self._waiting: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._work, name="labelme-sam2-webhooks", daemon=True
        )
        self._thread.start()

    def accept(self, project: str, task_id: int) -> bool:
        """False when the task was already waiting (nothing more to do) or the queue is full."""
        event = (project, task_id)
        with self._lock:
            if event in self._waiting:
                return False
            try:
                self._pending.put_nowait(event)
            except queue.Full:
                log.warning("webhook for task %s dropped: %d waiting", task_id, PENDING_LIMIT)
                return False
            self._waiting.add(event)
            return True

    def _work(self) -> None:
        while True:
            project, task_id = self._pending.get()
            with self._lock:  # from here on a new webhook means a newer annotation: read again
                self._waiting.discard((project, task_id))
            try:
                self._submit(project, task_id)
            except (LabelStudioApiError, RequestError) as error:
                log.warning("webhook for task %s of project %s: %s", task_id, project, error)
            except Exception:  # the intake thread must outlive a bug in one event
                log.exception("webhook for task %s of project %s: bug", task_id, project)

    def _submit(self, project: str, task_id: int) -> None:
        api = self._book.api(self._book.for_project(project))
        if api is None:
            raise RequestError(
                "cannot read the task back: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"
            )
        task = api.project_task(project, task_id)  # asks for no prediction: one save, one job
        if task is None:
            raise RequestError(f"project {project} has no task {task_id}")
        config = api.label_config(project)
        schema = parse_label_config(config)
        if schema.kind == "image":
            return  # clicks on single images are answered interactively
        view = submit_task(
            self._jobs, task, schema=schema, project=project, model_version=self._model_version
        )
        if view is not None:
            log.info("webhook: job %s for task %s of project %s", view["id"], task_id, project)
