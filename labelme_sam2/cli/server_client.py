"""`track --server URL`'s side of a team server's /jobs (`labelme-sam2 serve`,
docs/team-server.md): submit a folder job, read it, cancel it. Basic auth comes from
LABELME_SAM2_SERVER_AUTH=user:password, never the command line. Every failure is one line
(a UserError): the server unreachable, a wrong password, the server's own refusal.

Plain urllib: the client needs no HTTP library, and never the backend's package.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Literal, TypedDict, cast
from urllib.parse import urlsplit

from labelme_sam2.errors import UserError

SERVER_AUTH_ENV = "LABELME_SAM2_SERVER_AUTH"
REQUEST_SECONDS = 30.0  # one request's wait for an answer
JobState = Literal["queued", "running", "cancelling", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
# The server's answer is the caller's message: it names the folder and what to do.
SERVER_WORDED = frozenset({400, 403, 413, 422, 503})


class RemoteJob(TypedDict):
    """The fields of a folder job's view (GET /jobs/<id>) this client reads."""

    id: str
    state: JobState
    frames_done: int
    frames_total: int
    error: str | None
    replaced_by: str | None
    warnings: list[str]
    result: dict[str, Any] | None  # the done event's fields (docs/outputs.md), when it ended


class ServerError(UserError):
    """The server refused or failed a request; `message` is the whole line."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        Exception.__init__(self, message)
        self.where, self.problem = url, message
        self.status = status  # None: no answer at all


class ServerUnreachable(ServerError):
    """No HTTP answer: refused, timed out, no route. Polling tries again for a while."""


def server_auth(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(user, password) from LABELME_SAM2_SERVER_AUTH, None when it is unset or empty."""
    raw = environ.get(SERVER_AUTH_ENV, "")
    if not raw:
        return None
    user, colon, password = raw.partition(":")
    if not colon or not user:
        raise UserError(SERVER_AUTH_ENV, "must be user:password (basic auth of the server)")
    return user, password


class ServerClient:
    def __init__(
        self, url: str, *, auth: tuple[str, str] | None, timeout: float = REQUEST_SECONDS
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UserError("--server", f"{url!r} is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._headers = {"Accept": "application/json"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"

    def submit_folder(self, folder: str, *, full: bool) -> RemoteJob:
        """A job tracking `folder` (a path as the server sees it); it replaces the folder's
        queued or running job."""
        try:
            answer = self._request("POST", "/jobs", {"folder": folder, "full": full})
        except ServerError as error:
            if error.status != 405:
                raise
            raise ServerError(
                f"{self.url}: this server tracks no LabelMe folders (POST /jobs: HTTP 405); "
                "it needs a newer labelme-sam2",
                url=self.url,
                status=405,
            ) from None
        return _job(answer, url=self.url)

    def job(self, job_id: str) -> RemoteJob:
        return _job(self._request("GET", f"/jobs/{job_id}"), url=self.url)

    def cancel(self, job_id: str, *, timeout: float | None = None) -> None:
        """Ask the job to stop at its next model step; one that already ended is left so.
        `timeout`: this request's own wait for an answer."""
        try:
            self._request("POST", f"/jobs/{job_id}/cancel", timeout=timeout)
        except ServerError as error:
            if error.status != 409:  # 409: it is done, failed or cancelled already
                raise

    def _request(
        self, method: str, path: str, body: object = None, *, timeout: float | None = None
    ) -> object:
        wait = self._timeout if timeout is None else timeout
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=wait) as response:
                return _json_or_none(response.read())
        except urllib.error.HTTPError as answer:
            with answer:
                raise self._refusal(answer.code, _json_or_none(answer.read())) from None
        except (urllib.error.URLError, OSError) as error:  # socket.timeout is an OSError
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {wait:g} s"
            raise ServerUnreachable(
                f"{self.url}: cannot reach the server ({reason}); is `labelme-sam2 serve` "
                "running there?",
                url=self.url,
            ) from None

    def _refusal(self, status: int, answer: object) -> ServerError:
        said = answer.get("error") if isinstance(answer, dict) else None
        if status == 401:
            what = (
                "wrong user or password"
                if "Authorization" in self._headers
                else "the server asks for a user and password"
            )
            message = f"{self.url}: {what}: set {SERVER_AUTH_ENV}=user:password"
        elif not isinstance(said, str):  # not our server's JSON: a proxy's page, say
            message = f"{self.url}: HTTP {status}, not an answer of labelme-sam2 serve"
        elif status in SERVER_WORDED:
            message = said
        else:
            message = f"{self.url}: {said} (HTTP {status})"
        return ServerError(message, url=self.url, status=status)


def _json_or_none(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        return None


def _job(answer: object, *, url: str) -> RemoteJob:
    """The answer as a job view, checked field by field: a server that answers something
    else is one line, not a traceback."""
    fields = {
        "id": str,
        "state": str,
        "frames_done": int,
        "frames_total": int,
        "warnings": list,
    }
    if not isinstance(answer, dict) or not all(
        isinstance(answer.get(name), kind) for name, kind in fields.items()
    ):
        raise ServerError(
            f"{url}: its answer is not a folder job (an older labelme-sam2 serve?)", url=url
        )
    return cast(RemoteJob, answer)
