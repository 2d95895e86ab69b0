"""The Flask app Label Studio talks to: /health, /setup, /predict, /webhook, /versions; and
the team's: /jobs (state, progress, cancel, retry) and /metrics (Prometheus).

Clicks are answered inside /predict. Frame sequences and videos from a batch predict or a
webhook become jobs (jobs/): /predict answers [] for them at once, and the job writes its
prediction to Label Studio through the API when it is done.

Every failure is a JSON body {"error": "..."}: 4xx naming what is wrong with the request, 500
only for a bug, and the server keeps serving.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ls_backend.errors import RequestError
from ls_backend.jobs.model import JobView
from ls_backend.jobs.queue import JobConflict, JobQueue, QueueStats, UnknownJob
from ls_backend.jobs.submission import submit_task
from ls_backend.label_config import ProjectSchema, parse_label_config
from ls_backend.label_studio_api import AccessBook
from ls_backend.media import LabelStudioAccess
from ls_backend.metrics import CLICK_BUCKETS, Histogram, render
from ls_backend.prediction import Prediction
from ls_backend.settings import BackendSettings
from ls_backend.webhooks import WebhookIntake, task_of_event

log = logging.getLogger(__name__)
MODEL_CLASS = "LabelmeSam2"


class Predicting(Protocol):
    """A model in this process (prediction.Predictor) or behind Redis (RemotePredictor)."""

    model_version: str

    def predict(
        self,
        task: Mapping[str, Any],
        *,
        schema: ProjectSchema,
        context: object,
        project: object,
        access: LabelStudioAccess | None,
    ) -> Prediction | None: ...


class WorkerDirectory(Protocol):
    def workers(self) -> dict[str, dict[str, Any]]:
        """Workers heard from lately: name -> their report."""
        ...


def create_app(
    *,
    predictor: Predicting,
    settings: BackendSettings,
    jobs: JobQueue | None = None,
    book: AccessBook | None = None,
    workers: WorkerDirectory | None = None,
) -> Flask:
    """`jobs` None: everything is predicted inside /predict. `workers`: the RQ queue, whose
    workers /health and /metrics list."""
    app = Flask("ls_backend")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Label Studio sends its own URL and token to /setup; used when the environment has none.
    book = book or AccessBook(settings.access)
    intake = (
        None
        if jobs is None
        else WebhookIntake(jobs=jobs, book=book, model_version=predictor.model_version)
    )
    clicks = Histogram(CLICK_BUCKETS)

    @app.before_request
    def check_basic_auth() -> Response | None:
        # Label Studio sends its webhooks without the backend's credentials: /webhook has its
        # own token, and trusts nothing in the payload but ids (webhooks.py).
        if settings.basic_auth is None or request.path == "/webhook":
            return None
        auth = request.authorization
        expected_user, expected_password = settings.basic_auth
        if (
            auth is None
            or not hmac.compare_digest(auth.username or "", expected_user)
            or not hmac.compare_digest(auth.password or "", expected_password)
        ):
            response = _error("wrong or missing credentials (basic auth)", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="labelme-sam2"'
            return response
        return None

    @app.get("/health")
    @app.get("/")
    def health() -> Response:
        extra: dict[str, Any] = {"jobs": "off" if jobs is None else type(jobs).__name__}
        if workers is not None:
            extra["workers"] = len(workers.workers())
        return jsonify(
            status="UP", model_class=MODEL_CLASS, model_version=predictor.model_version, **extra
        )

    @app.get("/versions")
    def versions() -> Response:
        return jsonify(versions=[predictor.model_version], model_dir=None)

    @app.post("/setup")
    def setup() -> Response:
        body = _json_body()
        parse_label_config(body.get("schema"))  # refuse a project we cannot serve, at once
        hostname, token = body.get("hostname"), body.get("access_token")
        if isinstance(hostname, str) and hostname and isinstance(token, str) and token:
            book.remember(
                _project_id(body.get("project")),
                LabelStudioAccess(url=hostname.rstrip("/"), api_key=token),
            )
        return jsonify(model_version=predictor.model_version)

    @app.post("/predict")
    def predict() -> Response:
        body = _json_body()
        tasks = body.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
            raise RequestError("'tasks' must be a list of task objects")
        schema = parse_label_config(body.get("label_config"))
        params = body.get("params") or {}
        if not isinstance(params, Mapping):
            raise RequestError("'params' must be a JSON object")
        project = _project_id(body.get("project"))
        access = book.for_project(project)
        # One entry per task, in order: Label Studio drops the whole batch on a length mismatch.
        # A task without prompts, with bad prompts or media, or not reached in time gets an empty
        # list (no prediction): an empty prediction would be stored, and Label Studio would not
        # ask for that task again. A single task's problem is the request's error.
        context = params.get("context")
        # Jobs write their predictions through Label Studio's API, so they need its address.
        as_jobs = jobs is not None and context is None and schema.kind != "image"
        if as_jobs and jobs is not None and jobs.uses_web_access and access is None:
            log.warning("no Label Studio address for project %s: predicting inline", project)
            as_jobs = False
        deadline = time.monotonic() + settings.batch_seconds
        results: list[Prediction | list[Prediction]] = []
        errors: list[str] = []
        queued: list[JobView] = []
        late = 0
        for task in tasks:
            if as_jobs and jobs is not None:
                view = submit_task(
                    jobs,
                    task,
                    schema=schema,
                    project=project,
                    model_version=predictor.model_version,
                )
                queued += [] if view is None else [view]
                results.append([])  # the job writes the prediction when it is done
                continue
            if results and time.monotonic() > deadline:  # the first task always runs
                late += 1
                results.append([])
                continue
            try:
                started = time.perf_counter()
                prediction = predictor.predict(
                    task, schema=schema, context=context, project=project, access=access
                )
                if context is not None:
                    clicks.observe(time.perf_counter() - started)
            except RequestError as error:
                if len(tasks) == 1:
                    raise
                log.warning("batch of %d tasks: %s", len(tasks), error.message)
                errors.append(error.message)
                prediction = None
            results.append(prediction if prediction is not None else [])
        if late:
            log.info(
                "%d of %d tasks not started within %.0f s: retrieve predictions again for them",
                late,
                len(tasks),
                settings.batch_seconds,
            )
        return jsonify(
            results=results,
            model_version=predictor.model_version,
            errors=errors,
            jobs=[view["id"] for view in queued],
        )

    @app.post("/webhook")
    def webhook() -> Response:
        # Label Studio registers this for every event with a short timeout: answer at once.
        token = settings.webhook_token
        if token is not None and not hmac.compare_digest(request.args.get("token", ""), token):
            return _error("wrong or missing webhook token (?token=...)", 401)
        body = request.get_json(silent=True)
        action = body.get("action") if isinstance(body, Mapping) else None
        event = task_of_event(body)
        if event is not None and intake is not None:
            intake.accept(*event)
        return jsonify(status="ok", action=action, queued=event is not None and intake is not None)

    @app.get("/jobs")
    def list_jobs() -> Response:
        task = request.args.get("task")
        if task is not None and not task.isdigit():
            raise RequestError(f"task {task!r} is not a number")
        return jsonify(
            jobs=_queue().jobs(
                project=request.args.get("project"),
                task=None if task is None else int(task),
                state=request.args.get("state"),
            )
        )

    @app.get("/jobs/<job_id>")
    def show_job(job_id: str) -> Response:
        return jsonify(_queue().job(job_id))

    @app.post("/jobs/<job_id>/cancel")
    def cancel_job(job_id: str) -> Response:
        return jsonify(_queue().cancel(job_id))

    @app.post("/jobs/<job_id>/retry")
    def retry_job(job_id: str) -> Response:
        return jsonify(_queue().retry(job_id))

    @app.get("/metrics")
    def metrics() -> Response:
        stats = jobs.stats() if jobs is not None else None
        text = render(
            stats or _NO_JOBS,
            model_version=predictor.model_version,
            clicks=clicks,
            workers=None if workers is None else workers.workers(),
        )
        return Response(text, mimetype="text/plain; version=0.0.4")

    def _queue() -> JobQueue:
        if jobs is None:
            raise RequestError("jobs are off on this backend (LABELME_SAM2_JOBS=off)", status=404)
        return jobs

    @app.errorhandler(UnknownJob)
    def unknown_job(error: UnknownJob) -> Response:
        return _error(f"no job {error}", 404)

    @app.errorhandler(JobConflict)
    def job_conflict(error: JobConflict) -> Response:
        return _error(str(error), 409)

    @app.errorhandler(RequestError)
    def request_error(error: RequestError) -> Response:
        log.info("refused request to %s: %s", request.path, error.message)
        return _error(error.message, error.status)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error(error.description or error.name, error.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("bug while serving %s", request.path)
        return _error(f"internal error ({type(error).__name__}); see the backend's log", 500)

    return app


_NO_JOBS = QueueStats(counts={})


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


def _project_id(raw: object) -> str:
    """The project's number; it names a folder, so nothing else is taken."""
    if raw is None:
        return ""
    # Label Studio sends "<project id>.<timestamp>" to /predict and /setup.
    number = str(raw).split(".", 1)[0]
    if not number.isdigit():
        raise RequestError(f"project {raw!r} is not a project number")
    return number


def _error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response
