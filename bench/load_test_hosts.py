"""The servers around the backend in the load test: the stalling media host, a stand-in of Label
Studio's prediction API, and `labelme-sam2 serve` itself in a subprocess."""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from bench.load_test_records import PROJECT, MediaRequest
from tests.media_server import MediaServer

MAX_STALL_SECONDS = 120.0  # past any timeout of the backend's: the client hangs up first
CLIENT_TIMEOUT = 90.0  # a request unanswered this long counts as a hang


# --- the media host ------------------------------------------------------------------------


class StallingMedia:
    """MediaServer routes for the frames: under /media/, every `every`-th request, whatever its
    URL, stalls until the client hangs up (alternately before and after the headers) and the
    rest are served; under /stall/, every request stalls (the probe tasks' last frames)."""

    def __init__(self, server: MediaServer, frames: dict[str, bytes], *, every: int) -> None:
        self.server = server
        self.every = every
        self.requests: list[MediaRequest] = []
        self._counted = 0  # requests under /media/
        self._stalls = 0
        self._lock = threading.Lock()
        for name, body in frames.items():
            server.routes[f"/media/{name}"] = self._route(body, always=False)
            server.routes[f"/stall/{name}"] = self._route(body, always=True)

    def _route(self, body: bytes, *, always: bool) -> Callable[[BaseHTTPRequestHandler], None]:
        def route(handler: BaseHTTPRequestHandler) -> None:
            record = self._record(handler.path, always=always)
            try:
                if record.stall is None:
                    _send(handler, body, length=len(body))
                else:
                    if record.stall == "after headers":
                        _send(handler, body[:2], length=2**20)  # promises 1 MB, sends 2 bytes
                    self._until_hang_up(handler.connection)
            finally:
                record.ended = time.monotonic()

        return route

    def _record(self, url: str, *, always: bool) -> MediaRequest:
        with self._lock:
            if not always:
                self._counted += 1
            stall = None
            if always or self._counted % self.every == 0:
                self._stalls += 1
                stall = "before headers" if self._stalls % 2 else "after headers"
            record = MediaRequest(url=url, started=time.monotonic(), stall=stall)
            self.requests.append(record)
            return record

    def _until_hang_up(self, connection: socket.socket) -> None:
        deadline = time.monotonic() + MAX_STALL_SECONDS
        while not self.server.release.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([connection], [], [], 0.05)
            if not readable:
                continue
            try:
                peeked = connection.recv(1, socket.MSG_PEEK)
            except OSError:
                peeked = b""
            if not peeked:  # end of stream: the backend closed (timeout, or cancel)
                return
            time.sleep(0.05)

    def open_stall(self, task: int, *, older_than: float) -> MediaRequest | None:
        """A stall of one of `task`'s frames still open and older than `older_than` s."""
        now = time.monotonic()
        with self._lock:
            for record in self.requests:
                stuck = record.stall and record.ended is None and now - record.started > older_than
                if stuck and record.query("task") == str(task):
                    return record
        return None

    def snapshot(self) -> list[MediaRequest]:
        with self._lock:
            return list(self.requests)


def _send(handler: BaseHTTPRequestHandler, body: bytes, *, length: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


# --- Label Studio's prediction API, as jobs call it ----------------------------------------


class FakeLabelStudio:
    """GET /api/predictions/?task=N, DELETE /api/predictions/<id>/, POST /api/predictions/: the
    three calls a job makes (label_studio_api.replace_prediction), kept in memory."""

    def __init__(self) -> None:
        self.created: list[tuple[int, int]] = []  # (task, prediction id), in order
        self.deleted: list[int] = []
        self.live: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                task = parse_qs(urlsplit(self.path).query).get("task", [""])[0]
                with fake._lock:
                    listed = [p for p in fake.live.values() if str(p["task"]) == task]
                self._json(200, listed)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    prediction_id = len(fake.created) + 1
                    fake.created.append((int(body["task"]), prediction_id))
                    fake.live[prediction_id] = {
                        "id": prediction_id,
                        "task": body["task"],
                        "model_version": body["model_version"],
                    }
                self._json(201, {"id": prediction_id})

            def do_DELETE(self) -> None:
                prediction_id = int(self.path.rstrip("/").rsplit("/", 1)[-1])
                with fake._lock:
                    fake.deleted.append(prediction_id)
                    fake.live.pop(prediction_id, None)
                self.send_response(204)
                self.end_headers()

            def _json(self, status: int, value: object) -> None:
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeLabelStudio:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- the backend -----------------------------------------------------------------------------


class Backend:
    """`labelme-sam2 serve` on a free port; every answer's status is counted."""

    def __init__(self, folder: Path, args: argparse.Namespace, label_studio: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "backend.log"
        self.cache = folder / "cache"
        self.masks = folder / "masks"
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("LABELME_SAM2_", "LABEL_STUDIO_", "BASIC_AUTH"))
        }  # the backend is configured by this script only (no Redis, no auth)
        self.env = inherited | {
            "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS": "1",
            "LABEL_STUDIO_URL": label_studio,
            "LABEL_STUDIO_API_KEY": "load-test-token",
            "LABELME_SAM2_ALLOW_URLS": "1",
            "LABELME_SAM2_MEDIA_ALLOWED_HOSTS": "127.0.0.1",  # the media host is on loopback
            "LABELME_SAM2_MEDIA_CACHE": str(self.cache),
            "LABELME_SAM2_MEDIA_CACHE_MB": str(args.media_cache_mb),
            "LABELME_SAM2_MAX_MEDIA_MB": str(args.max_media_mb),
            "LABELME_SAM2_FEATURE_CACHE_MB": str(args.feature_cache_mb),
            "LABELME_SAM2_MAX_QUEUED_JOBS": str(args.tasks),
        }
        if args.malloc_arena_max:
            self.env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
        self.command = [
            str(Path(sys.executable).with_name("labelme-sam2")),
            "serve",
            "--port",
            str(self.port),
            "--masks-dir",
            str(self.masks),
            "--model",
            args.model,
            "--checkpoint",
            args.checkpoint,
            "--image-size",
            str(args.image_size),
            "--device",
            args.device,
        ]
        self.statuses: collections.Counter[int] = collections.Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.process: subprocess.Popen[bytes] | None = None

    @contextmanager
    def running(self) -> Iterator[Backend]:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_until_up(self.process)
            yield self
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait_until_up(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                sys.exit(f"the backend exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        sys.exit(f"the backend did not answer in 300 s:\n{self.log_path.read_text()[-3000:]}")

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request on this thread's session; raises requests' errors (no answer)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        kwargs.setdefault("timeout", CLIENT_TIMEOUT)
        response = session.request(method, self.url + path, **kwargs)
        with self._lock:
            self.statuses[response.status_code] += 1
        return response

    def memory_mib(self, field_name: str = "VmRSS") -> float:
        """VmRSS (now) or VmHWM (peak) of the server process, from /proc."""
        assert self.process is not None
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else float("nan")

    def predict(
        self, tasks: list[dict[str, Any]], config: str, context: object = None
    ) -> requests.Response:
        body = {"tasks": tasks, "label_config": config, "project": PROJECT, "params": {}}
        if context is not None:
            body["params"] = {"context": context}
        return self.call("POST", "/predict", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", f"/jobs/{job_id}").json()

    def jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        query = "" if state is None else f"?state={state}"
        return self.call("GET", f"/jobs{query}").json()["jobs"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
