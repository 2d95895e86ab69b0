"""`track --server`'s client against the backend in process (a scripted tracker, no SAM 2):
what it reports equals a local run's (warnings, summary, the library's one-line errors); a job
replaced while running or cancelled while queued ends as a cancel (exit 130); the flags only a
local run takes, a server that is not there and a malformed LABELME_SAM2_SERVER_AUTH are one
line each; POST /jobs without media roots, on a folder the server cannot write, or with jobs
off is a 4xx."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from labelme_sam2.cli.main import main
from labelme_sam2.cli.progress_json import DoneEvent
from labelme_sam2.cli.track_on_server import OUTPUT_FLAGS, track_on_server
from labelme_sam2.core.pipeline import Progress
from labelme_sam2.options import OutputOptions
from ls_backend.app import create_app
from ls_backend.folder_tracking import FolderTracking
from ls_backend.jobs.embedded import EmbeddedJobs
from ls_backend.label_studio_api import AccessBook
from ls_backend.media import MediaResolver
from ls_backend.prediction import Predictor
from ls_backend.settings import BackendSettings
from ls_backend.wsgi import local_execute
from tests.conftest import copy_bedroom, folder_bytes
from tests.label_studio_server import free_port
from tests.scripted_tracker import ScriptedTracker, scripted_model, use_scripted_model
from tests.test_jobs_embedded import HeldTracker

AUTH_ENV = "LABELME_SAM2_SERVER_AUTH"


class _Quiet(WSGIRequestHandler):
    """No access log: the client's own stderr is what the tests compare."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ScriptedServer:
    """The backend's app with embedded jobs and the scripted tracker, on a loopback port."""

    def __init__(
        self, cache: Path, tracker: ScriptedTracker, *, roots: tuple[Path, ...], jobs: bool = True
    ) -> None:
        model = scripted_model(tracker)
        predictor = Predictor(
            tracker=tracker, model_version=model.version, media=MediaResolver(cache_dir=cache)
        )
        folders = FolderTracking(model=model, gate=predictor.gate, roots=roots)
        self.jobs = (
            EmbeddedJobs(execute=local_execute(predictor, AccessBook(None), folders=folders))
            if jobs
            else None
        )
        settings = BackendSettings(
            access=None, basic_auth=None, masks_root=None, media_cache=cache, media_roots=roots
        )
        app = create_app(predictor=predictor, settings=settings, jobs=self.jobs)
        self.client = app.test_client()
        self._server = make_server(
            "127.0.0.1", free_port(), app, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def job(self, job_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(f"{self.url}/jobs/{job_id}", timeout=30).json()
        return answer

    def job_of(self, folder: Path, *states: str) -> dict[str, Any]:
        """The newest job for `folder` once it is in one of `states`."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            views = requests.get(f"{self.url}/jobs", timeout=30).json()["jobs"]
            found = [view for view in views if view["folder"] == str(folder)]
            if found and found[0]["state"] in states:
                return dict(found[0])
            time.sleep(0.02)
        raise AssertionError(f"no job for {folder} in {states}")

    def close(self) -> None:
        self._server.shutdown()
        if self.jobs is not None:
            self.jobs.close()


@contextmanager
def scripted_server(
    tmp_path: Path, tracker: ScriptedTracker | None = None, **options: Any
) -> Iterator[ScriptedServer]:
    root = tmp_path / "shared"
    root.mkdir(exist_ok=True)
    server = ScriptedServer(
        tmp_path / "cache", tracker or ScriptedTracker(), roots=(root,), **options
    )
    try:
        yield server
    finally:
        if isinstance(tracker, HeldTracker):
            tracker.hold.set()
        server.close()


def timings_masked(line: str) -> str:
    return re.sub(r"in [0-9.]+ s \([0-9.]+ frames/s\)", "in T s (R frames/s)", line)


def test_the_server_run_reports_what_the_local_run_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(AUTH_ENV, raising=False)
    use_scripted_model(monkeypatch)  # the local run's model: the same scripted masks
    with scripted_server(tmp_path) as server:
        # With the stray 00060.json (no frame 60): a warning naming it, in both.
        on_server = copy_bedroom(tmp_path / "shared", frames=6)
        local = copy_bedroom(tmp_path / "local", frames=6)
        assert main(["track", str(local)]) == 0
        local_out = capsys.readouterr()
        assert main(["track", str(on_server), "--server", server.url]) == 0
        server_out = capsys.readouterr()
        job = server.job_of(on_server, "done")

    assert server_out.err.replace(str(on_server), "F") == local_out.err.replace(str(local), "F")
    assert "00060.json" in server_out.err
    assert timings_masked(server_out.out) == timings_masked(local_out.out)
    warned = [line.split(": warning: ", 1)[1] for line in server_out.err.splitlines()]
    assert job["warnings"] == warned
    for frame in range(6):  # the same LabelMe files, byte for byte
        name = f"{frame:05d}.json"
        assert (on_server / name).read_bytes() == (local / name).read_bytes()


def test_a_job_that_fails_is_the_librarys_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(AUTH_ENV, raising=False)
    with scripted_server(tmp_path) as server:
        folder = copy_bedroom(tmp_path / "shared", frames=3)
        for path in folder.glob("*.json"):
            path.unlink()  # frames without a single prompt
        before = folder_bytes(folder)
        assert main(["track", str(folder), "--server", server.url]) == 2
        job = server.job_of(folder, "failed")

    message = f"{folder}: no prompts found: draw a rectangle, point or polygon on a frame"
    assert capsys.readouterr().err.splitlines() == [f"labelme-sam2: error: {message}"]
    assert job["error"] == message and job["result"] is None
    assert folder_bytes(folder) == before


class Recording:
    """A reporter that keeps what the run reports."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.frames: list[int] = []
        self.done: DoneEvent | None = None

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, message: str) -> None:
        self.errors.append(message)

    @contextmanager
    def progress(self, clock: Any = None) -> Iterator[Progress]:
        yield lambda done, total: self.frames.append(done)

    def finished(self, done: DoneEvent) -> None:
        self.done = done


class ClientThread:
    """`track FOLDER --server URL` on a thread (no signals there: cancels come from others)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.reporter = Recording()
        self.code: int | None = None
        args = argparse.Namespace(server=url, path=folder, full=False)

        def run() -> None:
            self.code = track_on_server(args, reporter=self.reporter, environ={})

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self) -> int | None:
        self._thread.join(30)
        return self.code


def test_a_job_replaced_while_running_or_cancelled_while_queued_ends_as_a_cancel(
    tmp_path: Path,
) -> None:
    tracker = HeldTracker(step_seconds=0.1)
    tracker.hold.clear()  # the first job stops at its first frame
    with scripted_server(tmp_path, tracker) as server:
        running = copy_bedroom(tmp_path / "shared" / "a", frames=8)
        queued = copy_bedroom(tmp_path / "shared" / "b", frames=8)
        for folder in (running, queued):
            (folder / "00060.json").unlink()  # no frame 60: a warning otherwise
        first = ClientThread(server.url, running)
        first_job = server.job_of(running, "running")
        second = ClientThread(server.url, queued)
        second_job = server.job_of(queued, "queued")
        assert server.client.post(f"/jobs/{second_job['id']}/cancel").json["state"] == "cancelled"
        newer = requests.post(f"{server.url}/jobs", json={"folder": str(running)}, timeout=30)
        assert newer.status_code == 202 and newer.headers["Location"].endswith(newer.json()["id"])
        tracker.hold.set()
        assert first.join() == second.join() == 130
        replaced = server.job(first_job["id"])
        assert server.job_of(running, "done")["id"] == newer.json()["id"]

    assert second.reporter.errors == [
        f"{queued}: the server's job {second_job['id']} was cancelled before it started; "
        "nothing was written"
    ]
    assert second.reporter.done is None and second.reporter.frames == []
    assert replaced["state"] == "cancelled" and replaced["replaced_by"] == newer.json()["id"]
    assert first.reporter.warnings == [
        f"{running}: the server's job was replaced by job {newer.json()['id']}, a newer track"
    ]
    done = first.reporter.done
    assert done is not None and done["cancelled"] is True and done["frames_written"] < 8
    assert done["summary"].startswith(f"cancelled after {done['frames_written']} of 8 frames")
    assert first.reporter.frames == list(range(1, len(first.reporter.frames) + 1))


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--model", "sam2.1_hiera_base_plus"], "--model"),  # the default, given: refused too
        (["--device", "cpu"], "--device"),
        (["--checkpoint", "x.pt"], "--checkpoint"),
        (["--checkpoints-dir", "ckpts"], "--checkpoints-dir"),
        (["--image-size", "256"], "--image-size"),
        (["--compile"], "--compile"),
        (["--video", "masked"], "--video"),
        (["--export", "coco"], "--export/--save-masks"),
        (["--as", "mask"], "--as"),
        (["--prompts", "p"], "--prompts"),
    ],
)
def test_flags_only_a_local_run_takes_are_one_line_with_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    argv = ["track", str(tmp_path), "--server", "http://127.0.0.1:9", *flags]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"labelme-sam2: error: {named}: is not taken with --server")
    assert main([*argv, "--progress", "json"]) == 2  # an error event for the app
    (event,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert event["event"] == "error" and event["message"].startswith(f"{named}: ")


def test_every_output_option_has_its_flag_named() -> None:
    assert {field.name for field in fields(OutputOptions)} == set(OUTPUT_FLAGS)


def test_a_server_that_is_not_there_or_bad_credentials_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.delenv(AUTH_ENV, raising=False)
    assert main(["track", str(tmp_path), "--server", url]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"labelme-sam2: error: {url}: cannot reach the server ([Errno 111] Connection "
        "refused); is `labelme-sam2 serve` running there?"
    ]
    assert main(["track", str(tmp_path), "--server", "sam2.internal:9090"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "labelme-sam2: error: --server: 'sam2.internal:9090' is not an http:// or https:// URL"
    ]
    monkeypatch.setenv(AUTH_ENV, "no-colon")
    assert main(["track", str(tmp_path), "--server", url]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"labelme-sam2: error: {AUTH_ENV}: must be user:password (basic auth of the server)"
    ]


def test_post_jobs_without_roots_on_an_unwritable_folder_or_with_jobs_off_is_a_4xx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_bedroom(tmp_path / "shared", frames=1)
    cache = tmp_path / "cache"
    no_roots = ScriptedServer(cache, ScriptedTracker(), roots=())
    jobs_off = ScriptedServer(cache, ScriptedTracker(), roots=(tmp_path / "shared",), jobs=False)
    with scripted_server(tmp_path) as server:
        try:
            refused = no_roots.client.post("/jobs", json={"folder": str(folder)})
            assert refused.status_code == 403
            assert refused.json["error"] == (
                f"{folder}: this server tracks no folders: its admin must set "
                "LABELME_SAM2_MEDIA_ROOTS to the shared folders it may track"
            )
            off = jobs_off.client.post("/jobs", json={"folder": str(folder)})
            assert off.status_code == 404 and "LABELME_SAM2_JOBS=off" in off.json["error"]
            # As root (tests in a container) every folder is writable: say it is not.
            monkeypatch.setattr("ls_backend.folder_tracking.os.access", lambda *_: False)
            unwritable = server.client.post("/jobs", json={"folder": str(folder)})
            assert unwritable.status_code == 422
            assert unwritable.json["error"] == (
                f"{folder}: the server cannot write there; let the user the server runs as "
                "write to it"
            )
        finally:
            no_roots.close()
            jobs_off.close()
    shutil.rmtree(cache, ignore_errors=True)
