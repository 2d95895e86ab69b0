"""The Flask app Label Studio talks to: /health, /setup, /predict, /webhook, /versions.

Every failure is a JSON body {"error": "..."}: 4xx naming what is wrong with the request, 500
only for a bug, and the server keeps serving.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ls_backend.errors import RequestError
from ls_backend.label_config import parse_label_config
from ls_backend.media import LabelStudioAccess
from ls_backend.prediction import Prediction, Predictor
from ls_backend.settings import BackendSettings

log = logging.getLogger(__name__)
MODEL_CLASS = "LabelmeSam2"


def create_app(*, predictor: Predictor, settings: BackendSettings) -> Flask:
    app = Flask("ls_backend")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Label Studio sends its own URL and token to /setup; used when the environment has none.
    setup_access: dict[str, LabelStudioAccess] = {}

    @app.before_request
    def check_basic_auth() -> Response | None:
        # Label Studio sends its webhooks without the backend's credentials; /webhook only
        # acknowledges them.
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
        return jsonify(status="UP", model_class=MODEL_CLASS, model_version=predictor.model_version)

    @app.get("/versions")
    def versions() -> Response:
        return jsonify(versions=[predictor.model_version], model_dir=None)

    @app.post("/setup")
    def setup() -> Response:
        body = _json_body()
        parse_label_config(body.get("schema"))  # refuse a project we cannot serve, at once
        hostname, token = body.get("hostname"), body.get("access_token")
        if isinstance(hostname, str) and hostname and isinstance(token, str) and token:
            setup_access[_project_id(body.get("project"))] = LabelStudioAccess(
                url=hostname.rstrip("/"), api_key=token
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
        access = settings.access or setup_access.get(project)
        # One entry per task, in order: Label Studio drops the whole batch on a length mismatch.
        # A task without prompts, with bad prompts or media, or not reached in time gets an empty
        # list (no prediction): an empty prediction would be stored, and Label Studio would not
        # ask for that task again. A single task's problem is the request's error.
        context = params.get("context")
        deadline = time.monotonic() + settings.batch_seconds
        results: list[Prediction | list[Prediction]] = []
        errors: list[str] = []
        late = 0
        for task in tasks:
            if results and time.monotonic() > deadline:  # the first task always runs
                late += 1
                results.append([])
                continue
            try:
                prediction = predictor.predict(
                    task, schema=schema, context=context, project=project, access=access
                )
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
        return jsonify(results=results, model_version=predictor.model_version, errors=errors)

    @app.post("/webhook")
    def webhook() -> Response:
        # Label Studio registers this for every event with a 1 s timeout: answer at once.
        body = request.get_json(silent=True)
        action = body.get("action") if isinstance(body, Mapping) else None
        return jsonify(status="ok", action=action)

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
