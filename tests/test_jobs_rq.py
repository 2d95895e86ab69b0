"""Jobs on a real redis-server with real `labelme-sam2 worker` processes (RQ; SAM 2.1 tiny,
random weights, 256, CPU), the web side in RQ mode (no model), and a recording stand-in for
Label Studio's predictions API: 20 concurrent clients -> every job done once, one prediction
per task; a worker killed mid-job -> the job runs again elsewhere, still one prediction. And
jobs whose view is missing from their RQ meta (enqueued by hand, meta damaged) -> /jobs and
/metrics still answer."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, jsonify, request
from rq import Queue
from werkzeug.serving import make_server

from labelme_sam2.api import ModelOptions
from ls_backend.jobs.model import JobSpec, job_spec
from ls_backend.jobs.rq_queue import PERFORM, SERIALIZER, RqJobs, connect
from ls_backend.settings import BackendSettings
from ls_backend.wsgi import build_app
from tests.label_studio_server import free_port
from tests.ls_helpers import FRAMES, IMAGE, backward_only_task, click, local
from tests.redis_server import RedisServer, web_side_settings

LABELME_SAM2 = str(Path(sys.executable).with_name("labelme-sam2"))
MODEL_ENV = {
    "LABELME_SAM2_ALLOW_RANDOM_WEIGHTS": "1",
    "LABELME_SAM2_MODEL": "sam2.1_hiera_tiny",
    "LABELME_SAM2_CHECKPOINT": "random",
    "LABELME_SAM2_IMAGE_SIZE": "256",
    "LABELME_SAM2_DEVICE": "cpu",
}


class FakePredictionsApi:
    """Label Studio's /api/predictions/ as replace_prediction uses it, counting every call."""

    def __init__(self) -> None:
        self.predictions: dict[int, dict[str, Any]] = {}
        self.created: list[int] = []  # task of each POST
        self.deleted: list[int] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        app = Flask("fake-label-studio")

        @app.get("/api/predictions/")
        def listed() -> Any:
            task = int(request.args["task"])
            with self._lock:
                return jsonify([p for p in self.predictions.values() if p["task"] == task])

        @app.post("/api/predictions/")
        def create() -> Any:
            assert request.headers["Authorization"] == "Token fake-key"
            body = request.get_json()
            with self._lock:
                prediction = dict(body, id=next(self._ids))
                self.predictions[prediction["id"]] = prediction
                self.created.append(body["task"])
            return jsonify(prediction), 201

        @app.delete("/api/predictions/<int:prediction_id>/")
        def delete(prediction_id: int) -> Any:
            with self._lock:
                self.deleted.append(self.predictions.pop(prediction_id)["task"])
            return "", 204

        self.server = make_server("127.0.0.1", free_port(), app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_task(self, task: int) -> list[dict[str, Any]]:
        with self._lock:
            return [p for p in self.predictions.values() if p["task"] == task]


class Workers:
    def __init__(self, redis_url: str, folder: Path, *, env: dict[str, str]) -> None:
        self.redis_url, self.folder, self.env = redis_url, folder, env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [LABELME_SAM2, "worker", "--redis", self.redis_url, "--name", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def alive(self) -> bool:
        return any(process.poll() is None for process in self.processes)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in self.folder.glob("*.log"))


class Web:
    """The web side in RQ mode, on a real port, no model in it."""

    def __init__(self, settings: BackendSettings) -> None:
        app = build_app(settings, ModelOptions.from_env(MODEL_ENV))
        self.server = make_server("127.0.0.1", free_port(), app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def batch(self, *tasks: dict[str, Any]) -> list[str]:
        body: dict[str, Any] = {
            "tasks": list(tasks),
            "label_config": FRAMES,
            "project": "4",
            "params": {},
        }
        answer = requests.post(self.url + "/predict", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        jobs: list[str] = answer.json()["jobs"]
        return jobs

    def job(self, job_id: str) -> dict[str, Any]:
        view: dict[str, Any] = requests.get(f"{self.url}/jobs/{job_id}", timeout=30).json()
        return view

    def wait(self, job_ids: list[str], *, timeout: float, workers: Workers) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and workers.alive():
            views = [self.job(job_id) for job_id in job_ids]
            if all(v["state"] in ("done", "failed", "cancelled") for v in views):
                return views
            time.sleep(0.5)
        raise AssertionError(f"jobs not finished in {timeout} s: {views}\n{workers.logs()}")


@pytest.fixture
def rq_stack(
    tmp_path: Path, document_root: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Web, Workers, FakePredictionsApi]]:
    for key, value in MODEL_ENV.items():
        monkeypatch.setenv(key, value)
    fake = FakePredictionsApi()
    with RedisServer(tmp_path / "redis") as redis_server:
        env = (
            os.environ
            | MODEL_ENV
            | {
                "LABEL_STUDIO_URL": fake.url,
                "LABEL_STUDIO_API_KEY": "fake-key",
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
                "LABELME_SAM2_MEDIA_CACHE": str(tmp_path / "cache"),
            }
        )
        workers = Workers(redis_server.url, tmp_path, env=env)
        settings = web_side_settings(redis_server.url, tmp_path)
        web = Web(settings)
        try:
            yield web, workers, fake
        finally:
            web.server.shutdown()
            workers.stop()
            fake.server.shutdown()


def task(task_id: int, pages: int = 2) -> dict[str, Any]:
    urls = [local(f"bedroom/{i:05d}.jpg") for i in range(pages)]
    annotation = {"id": 1, "result": [click(50, 50, "car", page=0)]}
    return {"id": task_id, "data": {"frames": urls}, "annotations": [annotation]}


@pytest.mark.sam2
@pytest.mark.timeout(900)  # clients' joins (60 s), the jobs (400 s), stopping workers
def test_twenty_concurrent_clients_get_every_job_done_exactly_once(
    rq_stack: tuple[Web, Workers, FakePredictionsApi],
) -> None:
    web, workers, fake = rq_stack
    workers.start("w1")
    workers.start("w2")
    submitted: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for round_ in range(2):  # a bounded loop: each client sends two tasks of its own
            ids = web.batch(task(100 + 2 * number + round_, pages=1))
            with lock:
                submitted.extend(ids)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(60)
    assert len(submitted) == len(set(submitted)) == 40
    views = web.wait(submitted, timeout=400, workers=workers)
    assert [v["state"] for v in views] == ["done"] * 40, workers.logs()
    assert all(v["attempts"] == 1 for v in views)  # each job ran once
    tasks = sorted(v["task"] for v in views)
    assert tasks == list(range(100, 140))
    assert sorted(fake.created) == tasks and fake.deleted == []  # one write per job
    for view in views:
        (prediction,) = fake.of_task(view["task"])
        assert prediction["id"] == view["prediction_id"]
        assert [r["item_index"] for r in prediction["result"]] == [0]
    metrics = requests.get(web.url + "/metrics", timeout=30).text
    assert 'labelme_sam2_jobs{state="done"} 40' in metrics
    assert "labelme_sam2_workers 2" in metrics, workers.logs()
    # A click: the web side has no model, a worker answers it through Redis.
    body: dict[str, Any] = {
        "tasks": [{"id": 1, "data": {"image": local("bedroom/00002.jpg")}}],
        "label_config": IMAGE,
        "project": "4",
        "params": {"context": {"result": [click(50, 50, "car")]}},
    }
    answer = requests.post(web.url + "/predict", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    (prediction,) = answer.json()["results"]
    assert prediction["model_version"] == "sam2.1_hiera_tiny-random@256"
    assert all(r["value"]["brushlabels"] == ["car"] for r in prediction["result"])


@pytest.mark.sam2
@pytest.mark.timeout(900)  # the first worker's start (120 s), the job again (240 s)
def test_a_worker_killed_mid_job_leaves_the_job_to_another_and_one_prediction(
    rq_stack: tuple[Web, Workers, FakePredictionsApi],
) -> None:
    web, workers, fake = rq_stack
    doomed = workers.start("doomed")
    (job_id,) = web.batch(task(7, pages=6))
    deadline = time.monotonic() + 120
    while web.job(job_id)["frames_done"] < 2:
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.1)
    doomed.send_signal(signal.SIGKILL)  # no clean-up of any kind
    doomed.wait()
    assert web.job(job_id)["state"] == "running"  # as the dead worker left it
    workers.start("survivor")
    (view,) = web.wait([job_id], timeout=240, workers=workers)
    assert view["state"] == "done" and view["attempts"] == 2, workers.logs()
    (prediction,) = fake.of_task(7)
    assert prediction["id"] == view["prediction_id"]
    assert len({r["item_index"] for r in prediction["result"]}) == 6


@pytest.mark.sam2
@pytest.mark.timeout(600)  # the worker's start (120 s), the jobs
def test_a_replaced_job_never_starts_and_a_cancel_stops_the_worker_within_a_step(
    rq_stack: tuple[Web, Workers, FakePredictionsApi], document_root: Path
) -> None:
    """Under Redis: a job replaced while queued never runs; a running job whose only keyframe
    is its last frame (a backward pass before any output frame) is `cancelling` as soon as
    it is cancelled, and `cancelled` within 2 s; nothing is written."""
    web, workers, fake = rq_stack
    long_task = backward_only_task(9, document_root, pages=60)
    (stale,) = web.batch(long_task)  # no worker yet: both wait in the queue
    (current,) = web.batch(long_task)
    workers.start("w1")
    deadline = time.monotonic() + 120
    while (view := web.job(current))["state"] != "running":
        assert view["state"] == "queued" and time.monotonic() < deadline, workers.logs()
        time.sleep(0.01)
    time.sleep(1.0)
    assert web.job(current)["frames_done"] == 0  # still tracking backward
    cancelled_at = time.monotonic()
    answer = requests.post(f"{web.url}/jobs/{current}/cancel", timeout=30).json()
    assert answer["state"] == "cancelling", answer
    while (view := web.job(current))["state"] == "cancelling":
        assert time.monotonic() - cancelled_at < 30, workers.logs()
        time.sleep(0.01)
    stopped_after = time.monotonic() - cancelled_at
    print(f"\nRedis worker: cancelled {stopped_after:.2f} s after the cancel")
    assert view["state"] == "cancelled" and view["frames_done"] == 0, view
    assert stopped_after < 2.0, workers.logs()
    never_ran = web.job(stale)
    assert never_ran["state"] == "cancelled" and never_ran["replaced_by"] == current
    assert never_ran["started_at"] is None and never_ran["attempts"] == 0
    assert fake.created == [] and fake.deleted == []


@pytest.mark.sam2
def test_the_web_side_in_rq_mode_imports_no_torch(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as redis_server:
        script = (
            "import sys\n"
            "from ls_backend.wsgi import create_app_from_env\n"
            "app = create_app_from_env()\n"
            "client = app.test_client()\n"
            "assert client.get('/health').json['jobs'] == 'RqJobs'\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sam2')))\n"
        )
        env = os.environ | MODEL_ENV | {"LABELME_SAM2_REDIS_URL": redis_server.url}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
    assert out.stdout.strip() == "[]", out.stderr


def test_jobs_without_a_view_in_their_meta_are_listed_with_a_minimal_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker runs: every job stays queued, as RQ and whoever enqueued it left it."""
    for key, value in MODEL_ENV.items():
        monkeypatch.setenv(key, value)
    with RedisServer(tmp_path / "redis") as redis_server:
        settings = web_side_settings(redis_server.url, tmp_path)
        client = build_app(settings, ModelOptions.from_env(MODEL_ENV)).test_client()
        connection = connect(redis_server.url)
        rq_jobs = RqJobs(connection, queue_name=settings.queue_name, job_timeout=60)
        queue = Queue(settings.queue_name, connection=connection, serializer=SERIALIZER)

        def spec(task_id: int) -> JobSpec:
            return job_spec(
                task(task_id), project="4", label_config=FRAMES, model_version="by-hand"
            )

        submitted = rq_jobs.submit(spec(1))
        queue.enqueue(PERFORM, spec(2), job_id="by-hand")  # no meta at all
        queue.enqueue(PERFORM, "not a spec", job_id="not-a-dict", meta={"view": "garbage"})
        queue.enqueue(PERFORM, spec(3), job_id="fields-missing", meta={"view": {"task": "three"}})
        unreadable = queue.enqueue(PERFORM, spec(4), job_id="unreadable", meta={"view": {}})
        connection.hset(unreadable.key, "meta", b"\x80 not a pickle")

        def answer(url: str) -> Any:
            got = client.get(url)
            assert got.status_code == 200, got.text  # not 500 for want of a view
            return got.json if got.is_json else got.text

        views = {view["id"]: view for view in answer("/jobs")["jobs"]}
        assert set(views) == {
            submitted["id"],
            "by-hand",
            "not-a-dict",
            "fields-missing",
            "unreadable",
        }
        assert views[submitted["id"]] == dict(submitted, state="queued")
        # What the job's spec tells, else nothing; RQ's enqueue time stands for the submission.
        assert {i: (v["project"], v["task"]) for i, v in views.items()} == {
            submitted["id"]: ("4", 1),
            "by-hand": ("4", 2),
            "not-a-dict": ("", 0),
            "fields-missing": ("4", 3),
            "unreadable": ("4", 4),
        }
        for job_id in ("by-hand", "not-a-dict", "fields-missing", "unreadable"):
            view = views[job_id]
            assert view["state"] == "queued" and view["retry_of"] is None
            assert abs(view["submitted_at"] - time.time()) < 60
        assert answer("/jobs?task=2")["jobs"] == [views["by-hand"]]
        assert answer("/jobs/not-a-dict") == views["not-a-dict"]
        assert 'labelme_sam2_jobs{state="queued"} 5' in answer("/metrics")
        assert rq_jobs.stats().counts["queued"] == 5
        connection.close()


class _Payload:
    """What someone with write access to Redis could store as a job's meta under pickle."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling it creates the marker file


def test_job_meta_from_redis_is_json_and_never_unpickled(tmp_path: Path, monkeypatch) -> None:
    import pickle

    for key, value in MODEL_ENV.items():
        monkeypatch.setenv(key, value)
    marker = tmp_path / "unpickled"
    with RedisServer(tmp_path / "redis") as redis_server:
        settings = web_side_settings(redis_server.url, tmp_path)
        client = build_app(settings, ModelOptions.from_env(MODEL_ENV)).test_client()
        connection = connect(redis_server.url)
        rq_jobs = RqJobs(connection, queue_name=settings.queue_name, job_timeout=60)
        submitted = rq_jobs.submit(
            job_spec(task(5), project="4", label_config=FRAMES, model_version="v")
        )
        key = f"rq:job:{submitted['id']}"
        assert connection.hget(key, "meta").startswith(b"{")  # stored as JSON
        connection.hset(key, "meta", pickle.dumps(_Payload(str(marker))))
        listed = client.get("/jobs")
        assert listed.status_code == 200
        assert [job["id"] for job in listed.json["jobs"]] == [submitted["id"]]
        assert client.get("/metrics").status_code == 200
    assert not marker.exists()
