"""Load test (issue 14): annotators clicking while a media host stalls every tenth request and a
batch of tasks waits in the job queue, against `labelme-sam2 serve` in a subprocess.

Usage: .venv/bin/python bench/load_test.py [--annotators 20] [--tasks 500] [--seconds 240]
       [--jobs-seconds 30] [--pages 2] [--clicks-per-image 3] [--think 3] [--stall-every 10]
       [--cancels 3] [--resend 50] [--feature-cache-mb 256] [--request-margin-mb 128]
       [--malloc-arena-max N] [--keep]
       [--model NAME] [--checkpoint random|PATH] [--image-size 256] [--device cpu]

Everything runs on this machine:
- the backend: `labelme-sam2 serve` with the embedded job queue (SAM 2.1 tiny, random weights,
  256 px, CPU by default), http media allowed from 127.0.0.1, writing its predictions to a
  stand-in of Label Studio's prediction API; its RSS is read from /proc/<pid>/status;
- a media host (tests/media_server.py) serving bedroom frames, every --stall-every-th request
  (all URLs counted together) stalling, alternately before and after its headers, until the
  client hangs up;
- a stand-in of Label Studio's prediction API (list, delete, create), counting writes per task;
- one /predict with --tasks frame-sequence tasks (--pages frames each, a click on page 0), as
  Label Studio's "Retrieve predictions" sends a batch; then 20 tasks more, past the queue's cap
  (LABELME_SAM2_MAX_QUEUED_JOBS = --tasks here); then the last --resend tasks again, as a second
  "Retrieve predictions" (their queued jobs are replaced);
- --annotators threads for --seconds, each opening images (a URL of its own, so each is
  downloaded and encoded) and clicking --clicks-per-image times on each, --think seconds apart
  (+-50%); an image whose first click fails is skipped;
- probes: the batch's first --cancels tasks and the one after have their last frame on a URL
  that always stalls; a watcher cancels each of the first once its job is caught downloading
  it, the last is left to time out.
Then the queue runs alone for --jobs-seconds (a few tasks sent again while their job runs),
every job left is cancelled, and the figures and a PASS/FAIL per claim are printed as
Markdown rows for docs/benchmarks.md; the exit status is 1 when a claim fails.
"""

from __future__ import annotations

import argparse
import collections
import inspect
import itertools
import json
import math
import os
import platform
import random
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from ls_backend.media import MediaResolver  # noqa: E402
from tests.media_server import MediaServer  # noqa: E402

SHARED_BEDROOM = REPO.parent / "shared" / "data" / "frames" / "bedroom"
BEDROOM = SHARED_BEDROOM if SHARED_BEDROOM.is_dir() else REPO / "examples" / "bedroom"
CONFIGS = REPO / "ls_backend" / "label_configs"
IMAGE_CONFIG = (CONFIGS / "image_smart.xml").read_text()
FRAMES_CONFIG = (CONFIGS / "frame_sequence.xml").read_text()
PROJECT = "7.1700000000"  # "<project>.<timestamp>", as Label Studio sends it
FRAME_FILES = 20  # distinct bedroom frames served (URLs differ by their query)
OVERFLOW_TASKS = 20
MAX_STALL_SECONDS = 120.0  # past any timeout of the backend's: the client hangs up first
TIMING_MARGIN = 5.0  # seconds over the read timeout a stalled download may take to be answered
CANCEL_CLAIM = 5.0
REPLACED_RUNNING = 3
SETTLE_SECONDS = 10.0  # clicks alone before the batch is queued
GAP_CLAIM = 10.0  # seconds without a good click answered: far below the 30 s a stall takes
CLIENT_TIMEOUT = 90.0  # a request unanswered this long counts as a hang
FINISHED = ("done", "failed", "cancelled")
# What the backend downloads with (serve builds its MediaResolver with these defaults).
_DOWNLOAD = inspect.signature(MediaResolver.__init__).parameters
READ_TIMEOUT = float(_DOWNLOAD["read_timeout"].default)
CONNECT_TIMEOUT = float(_DOWNLOAD["connect_timeout"].default)


# --- the media host ------------------------------------------------------------------------


@dataclass
class MediaRequest:
    url: str  # path?query
    started: float  # time.monotonic()
    stall: str | None  # "before headers", "after headers", or None (served)
    ended: float | None = None  # served, or the client hung up on the stall

    def query(self, name: str) -> str | None:
        return (parse_qs(urlsplit(self.url).query).get(name) or [None])[0]


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


# --- tasks and regions, as Label Studio sends them -------------------------------------------


def keypoint(x: float, y: float, *, to_name: str, page: int | None = None) -> dict[str, Any]:
    region: dict[str, Any] = {
        "id": f"k{x:.0f}-{y:.0f}",
        "from_name": "click",
        "to_name": to_name,
        "type": "keypointlabels",
        "value": {"x": x, "y": y, "keypointlabels": ["car"]},
    }
    if page is not None:
        region["item_index"] = page
    return region


def frames_task(task_id: int, *, pages: int, media: str, probe: bool = False) -> dict[str, Any]:
    """A frame sequence whose frames are URLs of its own (the query names task and page). A
    probe's last frame is on a route that always stalls."""
    urls = [
        f"{media}/{'stall' if probe and page == pages - 1 else 'media'}/"
        f"{(task_id + page) % FRAME_FILES:05d}.jpg?task={task_id}&page={page}"
        for page in range(pages)
    ]
    annotation = {"id": task_id, "result": [keypoint(40, 50, to_name="frames", page=0)]}
    return {"id": task_id, "data": {"frames": urls}, "annotations": [annotation]}


# --- annotators ------------------------------------------------------------------------------


@dataclass
class Click:
    url: str
    first: bool  # the image's first click: its media is downloaded, its features computed
    started: float  # time.monotonic()
    seconds: float
    status: int | None  # None: no answer (the client's timeout, a broken connection)
    json_error: bool  # the body is {"error": "..."}


def annotate(
    backend: Backend, number: int, *, media: str, args: argparse.Namespace, stop: threading.Event
) -> list[Click]:
    """One annotator: images one after another, a few clicks on each, thinking in between."""
    rng = random.Random(number)
    clicks: list[Click] = []
    image = 0
    while not stop.is_set():
        frame = (number * 7 + image) % FRAME_FILES
        url = f"{media}/media/{frame:05d}.jpg?annotator={number}&image={image}"
        task = {"id": 100_000 + number * 1000 + image, "data": {"image": url}}
        for index in range(args.clicks_per_image):
            context = {
                "result": [keypoint(rng.uniform(10, 90), rng.uniform(10, 90), to_name="image")]
            }
            clicks.append(one_click(backend, task, context, url=url, first=index == 0))
            if clicks[-1].status != 200 or stop.wait(args.think * rng.uniform(0.5, 1.5)):
                break  # an image that does not load is skipped, as an annotator would
        image += 1
    return clicks


def one_click(
    backend: Backend, task: dict[str, Any], context: object, *, url: str, first: bool
) -> Click:
    started = time.monotonic()
    try:
        response = backend.predict([task], IMAGE_CONFIG, context)
    except requests.RequestException:
        return Click(url, first, started, time.monotonic() - started, None, False)
    seconds = time.monotonic() - started
    try:
        json_error = isinstance(response.json().get("error"), str)
    except ValueError:
        json_error = False
    return Click(url, first, started, seconds, response.status_code, json_error)


# --- cancelling a job stuck downloading ------------------------------------------------------


@dataclass
class Cancelled:
    job: str
    state: str  # what the job ended as
    to_state: float | None  # seconds from the cancel request to a finished state
    to_hang_up: float | None  # ... to the media host seeing the connection closed
    to_next_job: float | None  # ... to the queue's thread running another job


def cancel_stuck_jobs(
    backend: Backend, media: StallingMedia, *, count: int, stop: threading.Event
) -> list[Cancelled]:
    """Cancel the cancel probes (tasks 1 to `count`) once each is caught running, waiting on
    its stalled frame for over a second."""
    done: list[Cancelled] = []
    while len(done) < count and not stop.wait(0.2):
        for view in backend.jobs("running"):
            stall = media.open_stall(int(view["task"]), older_than=1.0)
            if stall is not None and int(view["task"]) <= count:
                done.append(cancel_and_time(backend, view["id"], stall))
                break
    return done


def cancel_and_time(backend: Backend, job_id: str, stall: MediaRequest) -> Cancelled:
    started = time.monotonic()
    backend.call("POST", f"/jobs/{job_id}/cancel")
    state, to_state = "running", None
    while time.monotonic() - started < 30:
        state = backend.job(job_id)["state"]
        if state in FINISHED:
            to_state = time.monotonic() - started
            break
        time.sleep(0.02)
    to_next = None
    while time.monotonic() - started < 30:
        if any(view["id"] != job_id for view in backend.jobs("running")):
            to_next = time.monotonic() - started
            break
        time.sleep(0.05)
    to_hang_up = None if stall.ended is None else stall.ended - started
    return Cancelled(job_id, state, to_state, to_hang_up, to_next)


# --- sampling memory and the queue -----------------------------------------------------------


@dataclass
class Samples:
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (seconds in, MiB)
    queued: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)


def sample(backend: Backend, samples: Samples, stop: threading.Event) -> None:
    """RSS every 0.5 s; queued and running jobs from /metrics every second."""
    tick, started = 0, time.monotonic()
    while not stop.wait(0.5):
        samples.rss_mib.append((time.monotonic() - started, backend.memory_mib()))
        tick += 1
        if tick % 2:
            continue
        text = backend.call("GET", "/metrics").text
        for state, into in (("queued", samples.queued), ("running", samples.running)):
            match = re.search(rf'labelme_sam2_jobs{{state="{state}"}} (\d+)', text)
            into.append(int(match.group(1)) if match else -1)


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    model_version: str = ""
    rss_loaded: float = 0.0
    rss_click: float = 0.0  # what the first click added
    rss_warm: float = 0.0
    rss_end: float = 0.0
    rss_peak: float = 0.0
    batch: tuple[int, int, float] = (0, 0, 0.0)  # status, jobs queued, seconds
    overflow: tuple[int, bool] = (0, False)  # status, a JSON error naming the setting
    resend: tuple[int, int] = (0, 0)  # status, jobs queued
    click_phase: tuple[float, float] = (0.0, 0.0)  # time.time() at its start and end
    click_monotonic: float = 0.0  # time.monotonic() at its start
    clicks: list[Click] = field(default_factory=list)
    cancels: list[Cancelled] = field(default_factory=list)
    alone_phase: tuple[float, float] = (0.0, 0.0)  # time.time() at its start and end
    replaced: list[tuple[str, int]] = field(default_factory=list)  # running job, resend status
    drain_seconds: float = 0.0
    jobs: list[dict[str, Any]] = field(default_factory=list)
    samples: Samples = field(default_factory=Samples)
    media: list[MediaRequest] = field(default_factory=list)
    partials_left: int = 0
    log_bugs: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    label_studio: FakeLabelStudio | None = None


def warm_up(backend: Backend, run: Run, media: str) -> None:
    """A click and a one-task job on media that never stalls: the model's first passes and
    Python's imports are in the baseline RSS. What the click adds is one click's working
    memory (and one-off set-up: an overestimate)."""
    run.rss_loaded = backend.memory_mib()
    task = {"id": 99_999, "data": {"image": f"{media}/warm/00000.jpg"}}
    answer = backend.predict([task], IMAGE_CONFIG, {"result": [keypoint(50, 50, to_name="image")]})
    assert answer.status_code == 200, answer.text
    run.rss_click = backend.memory_mib() - run.rss_loaded
    job_task = frames_task(0, pages=2, media=media)
    job_task["data"]["frames"] = [f"{media}/warm/{i:05d}.jpg?task=0" for i in range(2)]
    (job_id,) = backend.predict([job_task], FRAMES_CONFIG).json()["jobs"]
    while backend.job(job_id)["state"] not in FINISHED:
        time.sleep(0.2)
    run.rss_warm = backend.memory_mib()


def queue_batches(backend: Backend, run: Run, args: argparse.Namespace, media: str) -> None:
    tasks = [
        frames_task(i, pages=args.pages, media=media, probe=i <= args.cancels + 1)
        for i in range(1, args.tasks + 1)
    ]
    started = time.monotonic()
    answer = backend.predict(tasks, FRAMES_CONFIG)
    queued = len(answer.json().get("jobs", [])) if answer.status_code == 200 else 0
    run.batch = (answer.status_code, queued, time.monotonic() - started)
    more = range(args.tasks + 1, args.tasks + 1 + OVERFLOW_TASKS)
    answer = backend.predict(
        [frames_task(i, pages=args.pages, media=media) for i in more], FRAMES_CONFIG
    )
    error = answer.json().get("error", "") if answer.status_code != 200 else ""
    run.overflow = (answer.status_code, "LABELME_SAM2_MAX_QUEUED_JOBS" in str(error))
    answer = backend.predict(tasks[-args.resend :], FRAMES_CONFIG)
    run.resend = (answer.status_code, len(answer.json().get("jobs", [])))


def click_phase(
    backend: Backend, media_host: StallingMedia, run: Run, args: argparse.Namespace, media: str
) -> None:
    stop = threading.Event()
    results: list[list[Click]] = [[] for _ in range(args.annotators)]
    cancels: list[Cancelled] = []

    def annotator(number: int) -> None:
        results[number] = annotate(backend, number, media=media, args=args, stop=stop)

    def watcher() -> None:
        cancels.extend(cancel_stuck_jobs(backend, media_host, count=args.cancels, stop=stop))

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(args.annotators)]
    threads.append(threading.Thread(target=watcher))
    started, run.click_monotonic = time.time(), time.monotonic()
    for thread in threads:
        thread.start()
    stop.wait(SETTLE_SECONDS)  # the clicks first: the batch arrives on a busy backend
    queue_batches(backend, run, args, media)
    stop.wait(max(0.0, args.seconds - (time.time() - started)))
    stop.set()
    for thread in threads:  # a click on a stalled image ends within the read timeout
        thread.join()
    run.click_phase = (started, time.time())
    run.clicks = [click for clicks in results for click in clicks]
    run.cancels = cancels


def jobs_alone(backend: Backend, run: Run, args: argparse.Namespace, media: str) -> None:
    """The queue alone for --jobs-seconds after the clicks; meanwhile up to REPLACED_RUNNING
    tasks are sent again while their job runs, as Label Studio does when an annotation
    changes: the running job is replaced (it stops at its next frame) and must not write."""
    started = time.time()
    while time.time() - started < args.jobs_seconds:
        running = backend.jobs("running")
        view = running[0] if running else None
        replaced_already = {job for job, _ in run.replaced}
        if len(run.replaced) < REPLACED_RUNNING and view and view["id"] not in replaced_already:
            task = frames_task(int(view["task"]), pages=args.pages, media=media)
            answer = backend.predict([task], FRAMES_CONFIG)
            run.replaced.append((view["id"], answer.status_code))
        time.sleep(0.1)
    run.alone_phase = (started, time.time())


def drain(backend: Backend) -> float:
    """Cancel every job left (queued, then running); seconds until none runs."""
    started = time.monotonic()
    for state in ("queued", "running"):
        for view in backend.jobs(state):
            backend.call("POST", f"/jobs/{view['id']}/cancel")  # 409 if it just finished
    while backend.jobs("running") and time.monotonic() - started < 120:
        time.sleep(0.1)
    return time.monotonic() - started


def run_load_test(args: argparse.Namespace, folder: Path) -> Run:
    run = Run()
    frames = {p.name: p.read_bytes() for p in sorted(BEDROOM.glob("*.jpg"))[:FRAME_FILES]}
    with MediaServer() as server, FakeLabelStudio() as label_studio:
        media_host = StallingMedia(server, frames, every=args.stall_every)
        for name, body in frames.items():
            server.serve(f"/warm/{name}", body)
        backend = Backend(folder, args, label_studio.url)
        samples_stop = threading.Event()
        with backend.running():
            run.model_version = backend.call("GET", "/health").json()["model_version"]
            warm_up(backend, run, server.origin)
            sampler = threading.Thread(target=sample, args=(backend, run.samples, samples_stop))
            sampler.start()
            click_phase(backend, media_host, run, args, server.origin)
            jobs_alone(backend, run, args, server.origin)
            run.drain_seconds = drain(backend)
            run.jobs = backend.jobs()
            run.rss_end = backend.memory_mib()
            run.rss_peak = backend.memory_mib("VmHWM")
            samples_stop.set()
            sampler.join()
        run.media = media_host.snapshot()
        run.partials_left = len(list(backend.cache.glob(".part-*")))
        log = backend.log_path.read_text(errors="replace")
        run.log_bugs = log.count("Traceback") + log.count("bug while serving")
        run.statuses = backend.statuses
        run.label_studio = label_studio
    return run


# --- figures and claims ----------------------------------------------------------------------


def arenas(args: argparse.Namespace) -> int:
    """malloc arenas the server may use: MALLOC_ARENA_MAX, else glibc's 8 per core (64-bit)."""
    setting = args.malloc_arena_max or os.environ.get("MALLOC_ARENA_MAX")
    return int(setting) if setting else 8 * (os.cpu_count() or 1)


def memory_bound(run: Run, args: argparse.Namespace) -> float:
    """MiB the server's RSS must stay under: the warm server, its feature cache full, each
    malloc arena keeping one click's working memory (the model runs one pass at a time, so an
    arena's peak is one pass; freed memory stays in the arena), and --request-margin-mb for
    the requests in flight (bodies, decoded images, masks, answers) and the job list."""
    return (
        run.rss_warm
        + args.feature_cache_mb
        + arenas(args) * max(run.rss_click, 0.0)
        + args.request_margin_mb
    )


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return (
        f"p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s "
        f"(n = {len(ordered)})"
    )


def classify(run: Run) -> tuple[list[Click], list[Click]]:
    """(clicks on good media, first clicks on an image whose download stalled)."""
    stalled = {record.url for record in run.media if record.stall}
    bad = [c for c in run.clicks if c.first and _path_and_query(c.url) in stalled]
    good = [c for c in run.clicks if c not in bad]
    return good, bad


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def report(run: Run, args: argparse.Namespace) -> bool:
    """Print the figures and the claims; True when every claim holds."""
    good, bad = classify(run)
    rows = [*_click_rows(run, args, good, bad), *_job_rows(run, args), *_server_rows(run, args)]
    print("| what | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")
    claims = _claims(run, args, good=good, bad=bad)
    print("\n| claim | result |\n| --- | --- |")
    for name, passed in claims:
        print(f"| {name} | {'PASS' if passed else 'FAIL'} |")
    return all(passed for _, passed in claims)


def _click_rows(
    run: Run, args: argparse.Namespace, good: list[Click], bad: list[Click]
) -> list[tuple[str, str]]:
    return [
        ("model", f"{run.model_version} on {args.device} (`labelme-sam2 serve`, embedded queue)"),
        (
            "load",
            f"{args.annotators} annotators x {args.seconds:.0f} s, {args.clicks_per_image} "
            f"clicks per image, think {args.think:g} s +-50%; {args.tasks} tasks x "
            f"{args.pages} pages queued; every {args.stall_every}th media request stalls",
        ),
        ("media requests", f"{len(run.media)}, {sum(bool(r.stall) for r in run.media)} stalled"),
        (
            "clicks on good media",
            f"{sum(c.status == 200 for c in good)} of {len(good)} answered "
            f"200; {spread([c.seconds for c in good])}",
        ),
        (
            "- answered while a stalled download was open; longest time without an answer",
            f"{during_stalls(good, run.media)}; {longest_gap(good, run.click_monotonic):.2f} s",
        ),
        (
            "- first click on an image (download + encoder)",
            spread([c.seconds for c in good if c.first]),
        ),
        (
            "- first click: from sending it to the media host seeing its download",
            spread(fetch_delays(good, run.media)),
        ),
        ("- later clicks (features cached)", spread([c.seconds for c in good if not c.first])),
        (
            "clicks on stalled media",
            f"{_statuses(bad)}; answered after {spread([c.seconds for c in bad])}",
        ),
    ]


def _job_rows(run: Run, args: argparse.Namespace) -> list[tuple[str, str]]:
    stalled_jobs = _stalled_failures(run)
    return [
        ("batch /predict", f"{run.batch[0]}, {run.batch[1]} jobs queued in {run.batch[2]:.2f} s"),
        (
            f"{OVERFLOW_TASKS} tasks more past the cap",
            f"{run.overflow[0]}{' (names the setting)' * run.overflow[1]}; "
            f"{sum(j['task'] > args.tasks for j in run.jobs)} of them queued before it",
        ),
        (
            f"{args.resend} tasks sent again",
            f"{run.resend[0]}, {run.resend[1]} jobs replace theirs",
        ),
        (
            "queued jobs (sampled each second)",
            f"max {max(run.samples.queued, default=-1)}, cap {args.tasks}",
        ),
        ("jobs finished during the clicks", _finished_text(run, *run.click_phase)),
        ("jobs done: start to finish", spread(_durations(run, "done"))),
        ("jobs failed on stalled media", f"{len(stalled_jobs)}, after {spread(stalled_jobs)}"),
        *[
            (f"cancel of a job downloading a stalled frame #{i + 1}", _cancel_text(c))
            for i, c in enumerate(run.cancels)
        ],
        (
            f"after the clicks, jobs alone for {run.alone_phase[1] - run.alone_phase[0]:.0f} s",
            _finished_text(run, *run.alone_phase),
        ),
        ("tasks sent again while their job ran", _replaced_text(run)),
        ("cancel every job left", f"{run.drain_seconds:.1f} s until none runs"),
    ]


def _server_rows(run: Run, args: argparse.Namespace) -> list[tuple[str, str]]:
    return [
        (
            "server RSS",
            f"{run.rss_loaded:.0f} MiB model loaded, {run.rss_warm:.0f} MiB warm, "
            f"peak {run.rss_peak:.0f} MiB (VmHWM), {run.rss_end:.0f} MiB at the end; "
            f"bound {memory_bound(run, args):.0f} MiB = warm + {args.feature_cache_mb} feature "
            f"cache + {arenas(args)} malloc arenas x {run.rss_click:.0f} (the first click) + "
            f"{args.request_margin_mb}",
        ),
        ("server RSS over the run", _rss_course(run.samples.rss_mib)),
        ("writes", _writes_text(run)),
        ("answers", ", ".join(f"{n} x {s}" for s, n in sorted(run.statuses.items()))),
    ]


def _claims(
    run: Run, args: argparse.Namespace, *, good: list[Click], bad: list[Click]
) -> list[tuple[str, bool]]:
    limit = READ_TIMEOUT + TIMING_MARGIN
    bound = memory_bound(run, args)
    stalled_jobs = _stalled_failures(run)
    writes = _write_checks(run)
    return [
        (
            f"clicks on good media keep answering while jobs run: all 200, never "
            f"{GAP_CLAIM:g} s without one answered",
            bool(good)
            and all(c.status == 200 for c in good)
            and longest_gap(good, run.click_monotonic) < GAP_CLAIM
            and max(run.samples.running, default=0) > 0,
        ),
        (
            f"stalled media fails within the timeout: clicks 4xx JSON within {limit:g} s, jobs "
            f"failed within {limit:g} s",
            bool(bad)
            and all(
                c.status is not None
                and 400 <= c.status < 500
                and c.json_error
                and c.seconds <= limit
                for c in bad
            )
            and bool(stalled_jobs)
            and all(s <= limit for s in stalled_jobs),
        ),
        (
            f"the queue stays bounded: at most {args.tasks} queued, 503 past it",
            run.batch[:2] == (200, args.tasks)
            and run.overflow == (503, True)
            and run.resend == (200, args.resend)
            and max(run.samples.queued, default=0) <= args.tasks,
        ),
        (f"server memory under {bound:.0f} MiB", run.rss_peak <= bound),
        (
            f"cancel stops a downloading job within {CANCEL_CLAIM:g} s",
            bool(run.cancels) and all(_cancel_ok(c) for c in run.cancels),
        ),
        (
            "nothing written twice: " + "; ".join(name for name, _ in writes),
            all(ok for _, ok in writes),
        ),
        (
            "no 5xx, no hang, no traceback in the log",
            _unexpected_5xx(run) == 0
            and all(c.status is not None for c in run.clicks)
            and run.log_bugs == 0,
        ),
    ]


def _unexpected_5xx(run: Run) -> int:
    """5xx answers but the overflow probe's 503."""
    errors = sum(n for status, n in run.statuses.items() if status >= 500)
    return errors - (run.overflow[0] == 503)


def _write_checks(run: Run) -> list[tuple[str, bool]]:
    label_studio = run.label_studio
    assert label_studio is not None
    created = label_studio.created
    per_task = collections.Counter(task for task, _ in created)
    done = {(j["task"], j["prediction_id"]) for j in run.jobs if j["state"] == "done"}
    done_per_task = collections.Counter(task for task, written in done if written)
    written_by_others = [j for j in run.jobs if j["state"] != "done" and j["prediction_id"]]
    live = collections.Counter(p["task"] for p in label_studio.live.values())
    served = collections.Counter(r.url for r in run.media if not r.stall)
    return [
        (
            "each prediction is one done job's",
            set(created) == {d for d in done if d[1]} and len(created) == len(set(created)),
        ),
        (
            "no task written more often than a job of it finished",
            all(n <= done_per_task[task] for task, n in per_task.items()),
        ),
        ("at most one prediction per task", max(live.values(), default=0) <= 1),
        ("no cancelled or failed job wrote", not written_by_others),
        ("no media downloaded twice", max(served.values(), default=0) <= 1),
        ("no partial download left", run.partials_left == 0),
    ]


def _writes_text(run: Run) -> str:
    label_studio = run.label_studio
    assert label_studio is not None
    per_task = collections.Counter(task for task, _ in label_studio.created)
    served = collections.Counter(r.url for r in run.media if not r.stall)
    return (
        f"{len(label_studio.created)} predictions created for {len(per_task)} tasks (most for "
        f"one task: {max(per_task.values(), default=0)}), {len(label_studio.deleted)} deleted; "
        f"{len(served)} media URLs served whole, most requests for one: "
        f"{max(served.values(), default=0)}; partial downloads left: {run.partials_left}"
    )


def _rss_course(samples: list[tuple[float, float]], parts: int = 6) -> str:
    """RSS at evenly spaced moments of the run: growth that levels off, or does not."""
    if not samples:
        return "no samples"
    picked = [samples[min(len(samples) - 1, len(samples) * k // parts)] for k in range(1, parts)]
    return ", ".join(f"{mib:.0f} MiB at {at:.0f} s" for at, mib in [*picked, samples[-1]])


def _replaced_text(run: Run) -> str:
    states = {view["id"]: view["state"] for view in run.jobs}
    ended = collections.Counter(
        f"{status}, old job {states.get(job, 'gone')}" for job, status in run.replaced
    )
    return ", ".join(f"{n} x {what}" for what, n in sorted(ended.items())) or "none"


def _durations(run: Run, state: str) -> list[float]:
    """Seconds from start to finish of the jobs that ended in `state` (the warm-up's aside)."""
    return [
        j["finished_at"] - j["started_at"]
        for j in run.jobs
        if j["state"] == state and j["started_at"] and j["task"] != 0
    ]


def _stalled_failures(run: Run) -> list[float]:
    """Seconds from start to failure of the jobs that failed on a stalled frame."""
    return [
        j["finished_at"] - j["started_at"]
        for j in run.jobs
        if j["state"] == "failed" and "did not answer" in (j["error"] or "")
    ]


def _finished_text(run: Run, start: float, end: float) -> str:
    """Jobs that finished between `start` and `end` (time.time()), by state."""
    ended = collections.Counter(
        j["state"] for j in run.jobs if j["finished_at"] and start <= j["finished_at"] <= end
    )
    return ", ".join(f"{n} {state}" for state, n in sorted(ended.items())) or "none"


def longest_gap(good: list[Click], start: float) -> float:
    """The longest time (s) the click phase went without a good click answered 200: what a
    server blocked by stalled downloads would show (a gap as long as the read timeout)."""
    answered = sorted(c.started + c.seconds for c in good if c.status == 200)
    moments = [start, *answered]
    return max((b - a for a, b in itertools.pairwise(moments)), default=float("inf"))


def fetch_delays(good: list[Click], media: list[MediaRequest]) -> list[float]:
    """For each first click, seconds from sending it to its media's request reaching the
    media host: how long the backend took to start the download."""
    requested = {r.url: r.started for r in media}
    return [
        requested[_path_and_query(c.url)] - c.started
        for c in good
        if c.first and _path_and_query(c.url) in requested
    ]


def during_stalls(good: list[Click], media: list[MediaRequest]) -> int:
    """Good clicks answered while a stalled download was open."""
    stalls = [(r.started, r.ended or math.inf) for r in media if r.stall]
    return sum(
        any(a <= c.started + c.seconds <= b for a, b in stalls) for c in good if c.status == 200
    )


def _statuses(clicks: list[Click]) -> str:
    counted = collections.Counter(
        "no answer" if c.status is None else f"{c.status}{' JSON' * c.json_error}" for c in clicks
    )
    return ", ".join(f"{n} x {s}" for s, n in sorted(counted.items())) or "none"


def _cancel_ok(cancel: Cancelled) -> bool:
    return (
        cancel.state == "cancelled"
        and cancel.to_state is not None
        and cancel.to_state <= CANCEL_CLAIM
        and cancel.to_hang_up is not None
        and cancel.to_hang_up <= CANCEL_CLAIM
    )


def _cancel_text(cancel: Cancelled) -> str:
    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.2f} s"

    return (
        f"{cancel.state} after {seconds(cancel.to_state)}, connection closed after "
        f"{seconds(cancel.to_hang_up)}, next job running after {seconds(cancel.to_next_job)}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--pages", type=int, default=2, help="frames per queued task")
    parser.add_argument("--jobs-seconds", type=float, default=30.0, help="jobs alone, after")
    parser.add_argument("--clicks-per-image", type=int, default=3)
    parser.add_argument("--think", type=float, default=3.0, help="seconds between clicks")
    parser.add_argument("--stall-every", type=int, default=10)
    parser.add_argument("--cancels", type=int, default=3)
    parser.add_argument("--resend", type=int, default=50)
    parser.add_argument("--feature-cache-mb", type=int, default=256)
    parser.add_argument("--media-cache-mb", type=int, default=256)
    parser.add_argument("--max-media-mb", type=int, default=16)
    parser.add_argument("--request-margin-mb", type=int, default=128)
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=None,
        help="MALLOC_ARENA_MAX for the server (default: the environment's)",
    )
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--checkpoint", default="random")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (its log)")
    args = parser.parse_args()
    args.resend = min(args.resend, args.tasks)
    args.cancels = min(args.cancels, args.tasks - 1)  # the task after them times out
    return args


def load_average() -> str:
    """The machine's 1-minute load: what else ran beside the test."""
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    args = parse_args()
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="labelme-sam2-load-"))
    started = time.monotonic()
    try:
        run = run_load_test(args, folder)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} {platform.node() or 'host'} ({os.cpu_count()} "
        f"cores), {time.monotonic() - started:.0f} s in all; download timeouts: connect "
        f"{CONNECT_TIMEOUT:g} s, read {READ_TIMEOUT:g} s; load average {load_before} before, "
        f"{load_average()} after\n"
    )
    sys.exit(0 if report(run, args) else 1)


if __name__ == "__main__":
    main()
