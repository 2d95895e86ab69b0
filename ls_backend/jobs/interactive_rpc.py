"""Clicks over Redis, when the web process holds no model: the web side pushes a request and
waits on its own reply key; a thread in each `labelme-sam2 worker` pops requests and answers
them ahead of that worker's background job (gpu_gate.py), so a click waits one model step at
most."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from redis import Redis

from ls_backend.errors import RequestError
from ls_backend.label_config import ProjectSchema, parse_label_config
from ls_backend.media import LabelStudioAccess
from ls_backend.prediction import Prediction, Predictor

log = logging.getLogger(__name__)
PREFIX = "labelme-sam2:clicks"


def clicks_key(queue_name: str) -> str:
    """One list per queue: workers of another model (another queue) never answer."""
    return f"{PREFIX}:{queue_name}"


REPLY_SECONDS = 120  # a reply nobody reads expires
BLOCK_SECONDS = 2  # one blocking read; well under redis-py's socket timeout


class RemotePredictor:
    """The web side: Predictor's interface, answered by whichever worker is free first."""

    def __init__(
        self, connection: Redis, *, queue_name: str, model_version: str, timeout: float
    ) -> None:
        self.connection = connection
        self.requests = clicks_key(queue_name)
        self.model_version = model_version
        self.timeout = timeout

    def predict(
        self,
        task: Mapping[str, Any],
        *,
        schema: ProjectSchema,
        context: object,
        project: object,
        access: LabelStudioAccess | None,
    ) -> Prediction | None:
        reply_key = f"{PREFIX}:reply:{uuid.uuid4().hex}"
        request = {
            "task": dict(task),
            "label_config": schema.label_config,
            "context": context,
            "project": project,
            "reply_to": reply_key,
            "deadline": time.time() + self.timeout,  # after it, nobody waits for the answer
        }
        self.connection.lpush(self.requests, json.dumps(request))
        deadline = time.monotonic() + self.timeout
        popped = None
        # Short blocking reads: each stays inside the connection's socket timeout.
        while popped is None and (left := deadline - time.monotonic()) > 0:
            popped = self.connection.brpop([reply_key], timeout=max(1, min(BLOCK_SECONDS, left)))
        if popped is None:
            raise RequestError(
                f"no worker answered within {self.timeout:.0f} s: is `labelme-sam2 worker` "
                f"running and reaching this Redis?",
                status=503,
            )
        reply = json.loads(popped[1])
        if "error" in reply:
            raise RequestError(reply["error"], status=int(reply.get("status", 500)))
        prediction: Prediction | None = reply["prediction"]
        return prediction


def serve_clicks(
    connection: Redis,
    predictor: Predictor,
    *,
    queue_name: str,
    access: LabelStudioAccess | None,
    stop: threading.Event,
) -> None:
    """The worker side: answer requests until `stop` is set."""
    while not stop.is_set():
        try:
            _serve_one(connection, predictor, queue_name=queue_name, access=access)
        except Exception:  # Redis restarting: this thread must outlive it
            log.exception("answering clicks")
            stop.wait(1)


def _serve_one(
    connection: Redis,
    predictor: Predictor,
    *,
    queue_name: str,
    access: LabelStudioAccess | None,
) -> None:
    popped = connection.brpop([clicks_key(queue_name)], timeout=1)
    if popped is None:
        return
    try:
        request = json.loads(popped[1])
        reply_key = str(request["reply_to"])
        deadline = float(request.get("deadline", float("inf")))
    except (ValueError, KeyError, TypeError):
        log.warning("dropped a malformed interactive request")
        return
    if time.time() > deadline:
        return  # the web side gave up on it: answer the clicks still waiting
    reply = _answer(request, predictor, access=access)
    with connection.pipeline() as pipe:
        pipe.lpush(reply_key, json.dumps(reply))
        pipe.expire(reply_key, REPLY_SECONDS)
        pipe.execute()


def _answer(
    request: dict[str, Any], predictor: Predictor, *, access: LabelStudioAccess | None
) -> dict[str, Any]:
    try:
        prediction = predictor.predict(
            request["task"],
            schema=parse_label_config(request["label_config"]),
            context=request["context"],
            project=request["project"],
            access=access,
        )
    except RequestError as error:
        return {"error": error.message, "status": error.status}
    except Exception as error:  # the worker must outlive a bug in one request
        log.exception("interactive request: bug")
        return {"error": f"internal error ({type(error).__name__}); see the worker's log"}
    return {"prediction": prediction}
