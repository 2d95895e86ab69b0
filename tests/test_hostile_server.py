"""The backend against hostile requests and careless set-ups (issue 14, items 6, 8 and 10).

HOSTILE is the catalogue: one row per request and the 4xx it must get. To add a case, add a
row; whatever the row, the answer is never 5xx, it is JSON {"error": ...}, and the server
keeps serving. The rows run against a backend with everything switched on: basic auth with a
non-ASCII password, a webhook token, the embedded job queue and a 1 MiB request limit.

Also: basic auth never fails open (half-set or misspelt variables stop serve, gunicorn and
worker), non-ASCII credentials log in, serve's default address, and webhook tokens kept out of
werkzeug's and gunicorn's access logs."""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import runpy
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from flask import Flask
from PIL import Image
from werkzeug.serving import make_server

from labelme_sam2.api import UserError
from ls_backend.access_log import ScrubbingRequestHandler
from ls_backend.jobs.embedded import EmbeddedJobs
from ls_backend.media_limits import MediaLimits
from ls_backend.settings import settings_from_env
from ls_backend.webhooks import task_of_event
from tests.ls_helpers import FRAMES, IMAGE, Backend, brush_region, click, local, make_backend

USER, PASSWORD = "ann", "pässwörd"
TOKEN = "s3cret-token"
LIMIT = 2**20  # max_request_bytes of the hostile backend
TINY = (4, 3)  # width, height of hostile/tiny.png in the media root
GUNICORN_CONF = Path(__file__).resolve().parents[1] / "ls_backend" / "gunicorn.conf.py"


def basic(pair: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


AUTH = basic(f"{USER}:{PASSWORD}".encode())
JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def predict(config: str, task_data: dict[str, Any], regions: list[Any], **extra: Any) -> bytes:
    """A /predict body: one task (id 7) and a click's context, as Label Studio sends it."""
    body = {
        "tasks": [{"id": 7, "data": task_data}],
        "label_config": config,
        "project": "3.1700000000",
        "params": {"context": {"result": regions}},
    } | extra
    return json.dumps(body).encode()


def image_click(**value: Any) -> bytes:
    region = click(50, 50, "car")
    region["value"] |= value
    return predict(IMAGE, {"image": local("hostile/tiny.png")}, [region])


def image_box(**value: Any) -> bytes:
    box = {"x": 10, "y": 10, "width": 50, "height": 50, "rectanglelabels": ["car"]}
    region = {"id": "b", "from_name": "box", "to_name": "image", "type": "rectanglelabels"}
    return predict(IMAGE, {"image": local("hostile/tiny.png")}, [region | {"value": box | value}])


def brushed(rle: list[int]) -> bytes:
    region = brush_region("car", 0, np.ones(TINY[::-1], dtype=bool))
    region["value"]["rle"] = rle
    frames = [local("hostile/tiny.png")] * 2
    return predict(FRAMES, {"frames": frames}, [region])


# The first 32 bits of a brush RLE count the values (RGBA: 4 per pixel).
RLE_HEADER = list((TINY[0] * TINY[1] * 4).to_bytes(4, "big"))

# id, method, path, headers, body, status, a fragment of the error
HOSTILE: list[tuple[str, str, str, dict[str, str], bytes | None, int, str]] = [
    # Bodies
    ("json-nested-100k", "POST", "/predict", AUTH | JSON, DEEP, 400, "nested too deeply"),
    ("json-nested-in-object", "POST", "/setup", AUTH | JSON, b'{"schema":' + DEEP + b"}", 400,
     "nested too deeply"),
    ("webhook-json-nested", "POST", f"/webhook?token={TOKEN}", JSON, DEEP, 400,
     "nested too deeply"),
    ("json-broken", "POST", "/predict", AUTH | JSON, b"{", 400, "must be a JSON object"),
    ("json-5000-digit-integer", "POST", "/predict", AUTH | JSON,
     b'{"tasks": ' + b"7" * 5000 + b"}", 400, "must be a JSON object"),
    ("body-chunked-over-limit", "POST", "/predict",
     AUTH | JSON | {"Transfer-Encoding": "chunked"}, b"[" + b" " * LIMIT + b"]", 413,
     "LABELME_SAM2_MAX_REQUEST_MB"),
    ("body-over-limit", "POST", "/predict", AUTH | JSON, b"[" + b" " * LIMIT + b"]", 413,
     "LABELME_SAM2_MAX_REQUEST_MB"),
    # Numbers in regions
    ("keypoint-x-10**400", "POST", "/predict", AUTH | JSON, image_click(x=10**400), 400,
     "'x' must be a finite number"),
    ("keypoint-x-1e400", "POST", "/predict", AUTH | JSON,
     image_click(x=1).replace(b'"x": 1,', b'"x": 1e400,'), 400, "'x' must be a finite number"),
    ("keypoint-y-NaN", "POST", "/predict", AUTH | JSON, image_click(y=float("nan")), 400,
     "'y' must be a finite number"),
    ("box-width-10**400", "POST", "/predict", AUTH | JSON, image_box(width=10**400), 400,
     "'width' must be a finite number"),
    # Brush RLE: a valid header, then a body of 32-bit words (values over 255), or too short
    ("brush-rle-hostile-body", "POST", "/predict", AUTH | JSON,
     brushed(RLE_HEADER + [255] * 16), 400, "not a brush RLE"),
    ("brush-rle-truncated", "POST", "/predict", AUTH | JSON, brushed([*RLE_HEADER, 1]), 400,
     "not a brush RLE"),
    ("brush-rle-header-lies", "POST", "/predict", AUTH | JSON, brushed([0, 0, 0, 4, 0]), 400,
     "brush RLE holds 1 pixels"),
    # Media one task may bring (the hostile backend allows 3 frames of 12 pixels)
    ("frames-over-the-limit", "POST", "/predict", AUTH | JSON,
     predict(FRAMES, {"frames": [local("hostile/tiny.png")] * 4}, [click(1, 1, "car", page=0)]),
     413, "4 frames, over the limit of 3 per task (LABELME_SAM2_MAX_FRAMES"),
    ("frame-over-the-pixel-limit", "POST", "/predict", AUTH | JSON,
     predict(IMAGE, {"image": local("hostile/wide.png")}, [click(1, 1, "car")]), 413,
     "LABELME_SAM2_MAX_FRAME_MEGAPIXELS raises it"),
    # Ids: ASCII digits only (str.isdigit takes "²", int() then refuses it)
    ("jobs-task-superscript", "GET", "/jobs?task=%C2%B2", AUTH, None, 400, "is not a number"),
    ("jobs-task-arabic-indic", "GET", "/jobs?task=%D9%A3", AUTH, None, 400, "is not a number"),
    ("jobs-task-5000-digits", "GET", "/jobs?task=" + "7" * 5000, AUTH, None, 400,
     "is not a number"),
    ("jobs-task-negative", "GET", "/jobs?task=-1", AUTH, None, 400, "is not a number"),
    ("jobs-unknown-non-ascii-id", "GET", "/jobs/%C2%B2", AUTH, None, 404, "no job"),
    ("project-superscript", "POST", "/predict", AUTH | JSON,
     json.dumps({"tasks": [], "label_config": IMAGE, "project": "²"}).encode(), 400,
     "not a project number"),
    ("project-arabic-indic", "POST", "/predict", AUTH | JSON,
     json.dumps({"tasks": [], "label_config": IMAGE, "project": "٣.1"}).encode(), 400,
     "not a project number"),
    # Basic auth
    ("auth-missing", "GET", "/health", {}, None, 401, "credentials"),
    ("auth-non-ascii-wrong-password", "GET", "/health", basic("ann:pässwört".encode()), None,
     401, "credentials"),
    ("auth-latin-1-wrong-password", "GET", "/health", basic("ann:pässwört".encode("latin-1")),
     None, 401, "credentials"),
    ("auth-non-ascii-user", "GET", "/health", basic(f"änn:{PASSWORD}".encode()), None, 401,
     "credentials"),
    ("auth-not-base64", "GET", "/health", {"Authorization": "Basic !!!"}, None, 401,
     "credentials"),
    ("auth-non-ascii-header", "GET", "/health", {"Authorization": "Basic pässwörd"}, None, 401,
     "credentials"),
    ("auth-no-colon", "GET", "/health", basic(f"{USER}{PASSWORD}".encode()), None, 401,
     "credentials"),
    ("auth-other-scheme", "GET", "/health", {"Authorization": "Bearer " + TOKEN}, None, 401,
     "credentials"),
    # Webhook token
    ("webhook-no-token", "POST", "/webhook", JSON, b"{}", 401, "webhook token"),
    ("webhook-token-non-ascii", "POST", "/webhook?token=t%C3%B6k", JSON, b"{}", 401,
     "webhook token"),
    ("webhook-token-not-utf8", "POST", "/webhook?token=%FF", JSON, b"{}", 401, "webhook token"),
    ("webhook-header-token-wrong", "POST", "/webhook",
     JSON | {"X-Labelme-Sam2-Token": "wrông"}, b"{}", 401, "webhook token"),
]  # fmt: skip


def _never_runs(*args: object) -> int | None:
    raise AssertionError("no hostile row may start a job")


@pytest.fixture
def hostile(tmp_path: Path, document_root: Path) -> Iterator[Backend]:
    (document_root / "hostile").mkdir()
    Image.new("RGB", TINY).save(document_root / "hostile" / "tiny.png")
    Image.new("RGB", (TINY[0] + 1, TINY[1])).save(document_root / "hostile" / "wide.png")
    jobs = EmbeddedJobs(execute=_never_runs)
    try:
        yield from make_backend(
            tmp_path,
            job_queue=jobs,
            basic_auth=(USER, PASSWORD),
            webhook_token=TOKEN,
            max_request_bytes=LIMIT,
            media_limits=MediaLimits(max_frames=3, max_frame_pixels=TINY[0] * TINY[1]),
        )
    finally:
        jobs.close()


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "fragment"),
    [pytest.param(*row[1:], id=row[0]) for row in HOSTILE],
)
def test_a_hostile_request_gets_its_4xx_as_json_and_the_server_stays_up(
    hostile: Backend,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    fragment: str,
) -> None:
    response = hostile.client.open(
        path,
        method=method,
        headers=headers,
        input_stream=None if body is None else io.BytesIO(body),
        # As gunicorn sets it, and werkzeug's server for a chunked body: without it, werkzeug
        # reads a body without Content-Length as empty.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    answer = response.get_json(silent=True)
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str), response.data[:300]
    assert response.status_code == status, answer
    assert fragment in answer["error"] and "Traceback" not in answer["error"]
    assert hostile.client.get("/health", headers=AUTH).status_code == 200


def test_non_ascii_credentials_log_in_as_utf8_or_latin1(tmp_path: Path) -> None:
    for backend in make_backend(tmp_path, basic_auth=("jürgen", PASSWORD)):
        for encoding in ("utf-8", "latin-1"):
            pair = f"jürgen:{PASSWORD}".encode(encoding)
            health = backend.client.get("/health", headers=basic(pair))
            assert health.status_code == 200, (encoding, health.get_json())
        assert backend.client.get("/health", headers=AUTH).status_code == 401


def test_the_webhook_token_in_a_header_or_the_query(tmp_path: Path) -> None:
    token = "tök3n"
    for backend in make_backend(tmp_path, webhook_token=token):
        given = [
            {"X-Labelme-Sam2-Token": token},  # latin-1 on the wire, as `requests` sends it
            {"X-Labelme-Sam2-Token": token.encode().decode("latin-1")},  # UTF-8 on the wire
        ]
        for headers in given:
            response = backend.client.post("/webhook", json={}, headers=headers)
            assert response.status_code == 200, response.get_json()
        assert backend.client.post("/webhook?token=t%C3%B6k3n", json={}).status_code == 200
        refused = backend.client.post("/webhook?token=tok3n", json={})
        assert refused.status_code == 401 and "X-Labelme-Sam2-Token" in refused.json["error"]


def test_webhook_ids_are_ascii_digits() -> None:
    saved = {"action": "ANNOTATION_CREATED", "task": {"id": 7}}
    assert task_of_event(saved | {"project": {"id": 3}}) == ("3", 7)
    for project in ("²", "٣", "3" * 40, " 3"):
        assert task_of_event(saved | {"project": {"id": project}}) is None, project


# Basic auth configured by halves or under a wrong name: the backend would run open.
BAD_AUTH_ENVIRONMENTS = [
    ({"BASIC_AUTH_PASS": "p"}, "BASIC_AUTH_PASS: is set without BASIC_AUTH_USER"),
    ({"BASIC_AUTH_USER": "u"}, "BASIC_AUTH_USER: is set without BASIC_AUTH_PASS"),
    ({"BASIC_AUTH_USER": "u", "BASIC_AUTH_PASS": ""}, "is set without BASIC_AUTH_PASS"),
    ({"BASIC_AUTH_USERNAME": "u", "BASIC_AUTH_PASSWORD": "p"}, "BASIC_AUTH_PASSWORD: is not a"),
    ({"BASIC_AUTH_USER": "u", "BASIC_AUTH_PASSWD": "p"}, "BASIC_AUTH_PASSWD: is not a setting"),
    ({"BASIC_AUTH_USER": "u:v", "BASIC_AUTH_PASS": "p"}, "must not contain ':'"),
]


@pytest.mark.parametrize(("environ", "message"), BAD_AUTH_ENVIRONMENTS)
def test_half_set_or_misspelt_basic_auth_stops_serve_gunicorn_and_worker(
    environ: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from labelme_sam2.cli.main import main
    from ls_backend.wsgi import create_app_from_env

    with pytest.raises(UserError, match=message):
        settings_from_env(environ)
    with pytest.raises(UserError, match=message):  # before any model is loaded
        create_app_from_env(environ)
    monkeypatch.setattr("ls_backend.wsgi.build_app", _no_model)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    model = ["--checkpoint", "random", "--device", "cpu"]
    with socket.socket() as closed:  # a Redis nobody listens on: never reached
        closed.bind(("127.0.0.1", 0))
        redis = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    for argv in (["serve", "--port", "0", *model], ["worker", "--redis", redis, *model]):
        assert main(argv) == 2, argv
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (argv, lines)
    with pytest.raises(SystemExit) as stopped:  # gunicorn reads its config in the master
        runpy.run_path(str(GUNICORN_CONF))
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def _no_model(*args: object) -> Flask:
    raise AssertionError("the model must not load with a bad configuration")


@pytest.mark.parametrize(
    ("auth", "host_flag", "host", "warned"),
    [
        (False, [], "127.0.0.1", False),
        (False, ["--host", "0.0.0.0"], "0.0.0.0", True),
        (False, ["--host", "::1"], "::1", False),
        (True, [], "0.0.0.0", False),
    ],
)
def test_serve_without_auth_listens_on_loopback_and_warns_elsewhere(
    auth: bool,
    host_flag: list[str],
    host: str,
    warned: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from labelme_sam2.cli.main import main

    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    if auth:
        monkeypatch.setenv("BASIC_AUTH_USER", USER)
        monkeypatch.setenv("BASIC_AUTH_PASS", PASSWORD)
    served: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr("ls_backend.wsgi.build_app", lambda *args: Flask("stand-in"))
    monkeypatch.setattr(
        "werkzeug.serving.run_simple",
        lambda host, port, app, **options: served.append((host, options)),
    )
    assert main(["serve", "--port", "0", "--checkpoint", "random", *host_flag]) == 0
    ((listened, options),) = served
    assert listened == host and options["request_handler"] is ScrubbingRequestHandler
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    if warned:
        assert len(warnings) == 1 and "no basic auth" in warnings[0], warnings
    else:
        assert warnings == []


def test_werkzeug_access_log_has_no_webhook_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real request through werkzeug's server, as `serve` runs it; also a chunked body over
    the limit, read by werkzeug's own dechunking."""
    for backend in make_backend(tmp_path, webhook_token=TOKEN, max_request_bytes=1000):
        app = backend.client.application
        server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=ScrubbingRequestHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with caplog.at_level(logging.INFO, logger="werkzeug"):
                status = _post(server.server_port, f"/webhook?token={TOKEN}&x=1", [b"{}"])
                assert status == 200
                status = _post(server.server_port, f"/webhook?x=1&token={TOKEN}X", [b"{}"])
                assert status == 401
                assert _post(server.server_port, "/predict", [b"[", b" " * 1000, b"]"]) == 413
        finally:
            server.shutdown()
            thread.join(5)
    logged = caplog.text
    assert "/webhook?token=[scrubbed]&x=1" in logged and "&token=[scrubbed]" in logged, logged
    assert TOKEN not in logged


def _post(port: int, path: str, chunks: list[bytes]) -> int:
    """POST with a chunked body, as Label Studio's requests does for a generator."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=iter(chunks), headers=JSON, encode_chunked=True)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_gunicorn_access_log_has_no_webhook_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gunicorn.config import Config

    for name in ("BASIC_AUTH_USER", "BASIC_AUTH_PASS"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(GUNICORN_CONF))
    config = Config()
    for name in ("logger_class", "accesslog"):
        config.set(name, conf[name])
    # The default format logs %(r)s (method, raw URI, protocol); one that names more.
    default_format = config.access_log_format
    logger = config.logger_class(config)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/webhook?token={TOKEN}",
        "PATH_INFO": "/webhook",
        "QUERY_STRING": f"token={TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.1.2.3",
    }
    response = SimpleNamespace(status="200 OK", sent=42, headers=[])
    request = SimpleNamespace(headers=[("X-LABELME-SAM2-TOKEN", TOKEN)])
    for log_format in (default_format, "%(q)s %({raw_uri}e)s %({x-labelme-sam2-token}i)s"):
        config.set("access_log_format", log_format)
        logger.access(response, request, environ, timedelta(milliseconds=5))
    logged = capsys.readouterr().out
    assert '"POST /webhook?token=[scrubbed] HTTP/1.1" 200 42' in logged, logged
    assert "token=[scrubbed] /webhook?token=[scrubbed] [scrubbed]" in logged, logged
    assert TOKEN not in logged

    for host, warned in (("0.0.0.0", True), ("127.0.0.1", False), ("/tmp/backend.sock", False)):
        warnings = _GunicornLog()
        address = host if host.startswith("/") else (host, 9090)
        server = SimpleNamespace(cfg=SimpleNamespace(address=[address]), log=warnings)
        conf["when_ready"](server)
        assert len(warnings.lines) == warned, host
        assert all("no basic auth" in line for line in warnings.lines)


class _GunicornLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, *args: object) -> None:
        self.lines.append(message % args)
