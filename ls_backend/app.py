"""The Flask app Label Studio talks to: /health, /setup, /predict, /webhook, /versions; and
the team's: /jobs (state, progress, cancel, retry; POST: track a LabelMe folder on the shared
disk) and /metrics (Prometheus).

Clicks are answered inside /predict. Frame sequences and videos from a batch predict or a
webhook become jobs (jobs/): /predict answers [] for them at once, and the job writes its
prediction to Label Studio through the API when it is done. `labelme-sam2 track FOLDER
--server URL` posts a folder job (folder_tracking.py), which writes the folder's LabelMe files.

Every failure is a JSON body {"error": "..."}: 4xx naming what is wrong with the request, 500
only for a bug, and the server keeps serving.
"""

from __future__ import annotations

import base64
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ls_backend.errors import RequestError
from ls_backend.folder_tracking import folder_request
from ls_backend.ids import is_id
from ls_backend.jobs.model import JobView
from ls_backend.jobs.queue import JobConflict, JobQueue, QueueStats, UnknownJob
from ls_backend.jobs.submission import submit_task
from ls_backend.label_config import ProjectSchema, parse_label_config
from ls_backend.label_studio_api import AccessBook
from ls_backend.media import LabelStudioAccess
from ls_backend.media_addresses import Origin
from ls_backend.metrics import CLICK_BUCKETS, Histogram, render
from ls_backend.prediction import Prediction
from ls_backend.rate_limit import RateLimit
from ls_backend.settings import BackendSettings
from ls_backend.webhooks import WebhookIntake, task_of_event

log = logging.getLogger(__name__)
MODEL_CLASS = "LabelmeSam2"
# Label Studio's webhooks can carry custom headers; a header stays out of access logs, where
# ?token= is written (and scrubbed by access_log.py).
WEBHOOK_TOKEN_HEADER = "X-Labelme-Sam2-Token"


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
    # One byte over, so that _request_json tells a chunked body over the limit (werkzeug stops
    # reading it at this length and hands over what it read) from one just at it.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes + 1
    # Label Studio sends its own URL and token to /setup; used when the environment has none.
    book = book or AccessBook(settings.access)
    intake = (
        None
        if jobs is None
        else WebhookIntake(jobs=jobs, book=book, model_version=predictor.model_version)
    )
    clicks = Histogram(CLICK_BUCKETS)
    # Without a token anyone who reaches /webhook can send one; each costs a read-back.
    unsigned_webhooks = (
        RateLimit(per_minute=settings.webhook_rate) if settings.webhook_token is None else None
    )

    @app.before_request
    def check_basic_auth() -> Response | None:
        # Label Studio sends its webhooks without the backend's credentials: /webhook has its
        # own token, and trusts nothing in the payload but ids (webhooks.py).
        if settings.basic_auth is None or request.path == "/webhook":
            return None
        given = _basic_credentials()
        expected = tuple(_utf8(part) for part in settings.basic_auth)
        # Both compared, whatever the first gives: the time taken says nothing of either.
        user_ok = given is not None and hmac.compare_digest(given[0], expected[0])
        password_ok = given is not None and hmac.compare_digest(given[1], expected[1])
        if not (user_ok and password_ok):
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
        body = _json_body(settings.max_request_bytes)
        parse_label_config(body.get("schema"))  # refuse a project we cannot serve, at once
        hostname, token = body.get("hostname"), body.get("access_token")
        # With LABEL_STUDIO_URL set, that Label Studio is the only one used: /setup's address is
        # not needed. Without it, only the origins the admin listed are taken from /setup.
        if (
            settings.access is None
            and isinstance(hostname, str)
            and hostname
            and isinstance(token, str)
            and token
        ):
            if Origin.parse(hostname) not in settings.setup_hosts:
                raise RequestError(
                    f"/setup: {hostname!r} is not a Label Studio this backend may call: set "
                    "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY, or list it in "
                    "LABELME_SAM2_SETUP_HOSTS",
                    status=403,
                )
            book.remember(
                _project_id(body.get("project")),
                LabelStudioAccess(url=hostname.rstrip("/"), api_key=token),
            )
        return jsonify(model_version=predictor.model_version)

    @app.post("/predict")
    def predict() -> Response:
        body = _json_body(settings.max_request_bytes)
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
        for number, task in enumerate(tasks):
            if as_jobs and jobs is not None:
                try:
                    view = submit_task(
                        jobs,
                        task,
                        schema=schema,
                        project=project,
                        model_version=predictor.model_version,
                    )
                except RequestError as error:
                    if error.status != 503 or not queued:
                        raise  # nothing of this batch queued: the client may send it again
                    # Part of the batch is queued and will be written: say which part is not.
                    unqueued = len(tasks) - number
                    errors.append(
                        f"{unqueued} of {len(tasks)} tasks not queued: {error.message}; "
                        "retrieve predictions again for them"
                    )
                    results += [[] for _ in range(unqueued)]
                    break
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
        if token is not None and not hmac.compare_digest(_webhook_token(), _utf8(token)):
            return _error(
                f"wrong or missing webhook token ({WEBHOOK_TOKEN_HEADER} header or ?token=)", 401
            )
        wait = None if unsigned_webhooks is None else unsigned_webhooks.take()
        if wait is not None:
            response = _error(
                f"more than {settings.webhook_rate:g} webhooks a minute without a token "
                "(LABELME_SAM2_WEBHOOK_RATE); set LABELME_SAM2_WEBHOOK_TOKEN",
                429,
            )
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        body = _request_json(settings.max_request_bytes)
        action = body.get("action") if isinstance(body, Mapping) else None
        event = task_of_event(body)
        queued = event is not None and intake is not None and intake.accept(*event)
        return jsonify(status="ok", action=action, queued=queued)

    @app.get("/jobs")
    def list_jobs() -> Response:
        task = request.args.get("task")
        if task is not None and not is_id(task):
            raise RequestError(f"task {task!r} is not a number")
        return jsonify(
            jobs=_queue().jobs(
                project=request.args.get("project"),
                task=None if task is None else int(task),
                state=request.args.get("state"),
            )
        )

    @app.post("/jobs")
    def submit_folder_job() -> Response:
        queue = _queue()
        spec = folder_request(
            _json_body(settings.max_request_bytes),
            roots=settings.media_roots,
            model_version=predictor.model_version,
        )
        view = queue.submit(spec)  # replaces the folder's queued or running job
        log.info("job %s: track %s", view["id"], spec["folder"])
        response = jsonify(view)
        response.status_code = 202
        response.headers["Location"] = f"/jobs/{view['id']}"
        return response

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

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        limit = settings.max_request_bytes / 2**20
        return _error(f"the request body is over {limit:g} MB (LABELME_SAM2_MAX_REQUEST_MB)", 413)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error(error.description or error.name, error.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("bug while serving %s", request.path)
        return _error(f"internal error ({type(error).__name__}); see the backend's log", 500)

    return app


_NO_JOBS = QueueStats(counts={})


def _json_body(limit: int) -> dict[str, Any]:
    body = _request_json(limit)
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


def _request_json(limit: int) -> object:
    """The body as JSON, None when it is not JSON (or has an integer of over 4300 digits).
    werkzeug cuts a chunked body at MAX_CONTENT_LENGTH (the limit + 1) without an error, which
    would reach the parser as broken JSON (400): over `limit` bytes is 413, as with a
    Content-Length. The parser recurses once per level: a body nested deeper than Python's
    recursion limit is the caller's error."""
    if len(request.get_data()) > limit:
        raise RequestEntityTooLarge()
    try:
        return request.get_json(silent=True)
    except RecursionError as error:
        raise RequestError("the request body is nested too deeply") from error


def _basic_credentials() -> tuple[bytes, bytes] | None:
    """(user, password) of an `Authorization: Basic` header as UTF-8, else None. Clients send
    UTF-8 (RFC 7617) or, older ones, latin-1: decoded as UTF-8 when the bytes are, else as
    latin-1, so a non-ASCII password works either way, and compared as bytes (hmac refuses
    non-ASCII str)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:  # not base64, or not ASCII
        return None
    user, colon, password = _wire_text(raw).partition(":")
    return (_utf8(user), _utf8(password)) if colon else None


def _webhook_token() -> bytes:
    """The token the request gives, from the header (preferred: not in access logs) or
    ?token=, as UTF-8: a non-ASCII token is compared, not a 500. Python's `requests` (Label
    Studio's webhooks) sends a header as latin-1, others send UTF-8: both are read."""
    header = request.headers.get(WEBHOOK_TOKEN_HEADER)
    if header is None:
        return _utf8(request.args.get("token", ""))
    try:  # a WSGI header is its bytes read as latin-1: back to those bytes
        raw = header.encode("latin-1")
    except UnicodeEncodeError:  # a server that decoded it otherwise
        return _utf8(header)
    return _utf8(_wire_text(raw))


def _wire_text(raw: bytes) -> str:
    """Bytes a client sent as UTF-8 or, older clients, as latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _utf8(text: str) -> bytes:
    try:  # an environment variable's bytes that are not UTF-8, as Python read them
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from elsewhere: compared, never matched
        return text.encode("utf-8", errors="surrogatepass")


def _project_id(raw: object) -> str:
    """The project's number; it names a folder, so nothing else is taken."""
    if raw is None:
        return ""
    # Label Studio sends "<project id>.<timestamp>" to /predict and /setup.
    number = str(raw).split(".", 1)[0]
    if not is_id(number):
        raise RequestError(f"project {raw!r} is not a project number")
    return number


def _error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response
