"""`labelme-sam2 track FOLDER --server URL` against a real `labelme-sam2 serve` on loopback
(embedded jobs; SAM 2.1 tiny, random weights, 256, CPU; basic auth; a media root standing for
the shared disk), as the LabelMe app runs it: a subprocess. A 12-frame copy of the bedroom
sample gets every frame's masks and the local run's summary line; `--progress json` gives the
local run's events; a folder outside the shared folders and a wrong password are one line
(exit 2); SIGTERM cancels the server's job (exit 130, every file old or new); POST /jobs
refuses bad bodies and folders with a 4xx JSON error, never a 500. And the same run through
Redis and a `labelme-sam2 worker`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests

from labelme_sam2.cli.server_client import SERVER_AUTH_ENV
from tests.backend_process import BackendProcess
from tests.conftest import REPO, copy_bedroom, folder_bytes
from tests.redis_server import RedisServer, web_side_settings
from tests.test_jobs_rq import MODEL_ENV, Web, Workers
from tests.test_track_progress_json import events_of, frames_with_our_masks, of_kind

pytestmark = pytest.mark.sam2
LABELME_SAM2 = str(Path(sys.executable).with_name("labelme-sam2"))
AUTH = ("annotator", "s3cret")
ROOTS = "LABELME_SAM2_MEDIA_ROOTS"
SUMMARY = re.compile(
    r"tracked 12 frames x 2 objects in [0-9.]+ s \([0-9.]+ frames/s\); wrote 12 LabelMe files "
    r"\(12 changed\) on cpu with sam2\.1_hiera_tiny \(random\)"
)


@dataclass(frozen=True)
class Server:
    url: str
    root: Path  # LABELME_SAM2_MEDIA_ROOTS: the shared disk
    log: Path

    def logs(self) -> str:
        return self.log.read_text()[-3000:]

    def job_of(self, folder: Path) -> dict[str, Any]:
        """The newest job for `folder`, as /jobs lists it."""
        jobs = requests.get(f"{self.url}/jobs", auth=AUTH, timeout=30).json()["jobs"]
        return next(job for job in jobs if job["folder"] == str(folder))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve")
    root = folder / "shared"
    root.mkdir()
    with BackendProcess(
        None, folder, executable=LABELME_SAM2, basic_auth=AUTH, environment={ROOTS: str(root)}
    ) as backend:
        yield Server(url=backend.url, root=root, log=backend.log_path)


def shared_bedroom(root: Path, name: str, *, frames: int = 12) -> Path:
    """A copy of the bedroom sample on the shared disk (no stray 00060.json: no frame 60)."""
    folder = copy_bedroom(root / name, frames=frames)
    (folder / "00060.json").unlink()
    return folder


def track_command(folder: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "labelme_sam2", "track", str(folder), "--server", url, *extra]


def client_env(auth: tuple[str, str] | None = AUTH) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != SERVER_AUTH_ENV}
    return env if auth is None else env | {SERVER_AUTH_ENV: f"{auth[0]}:{auth[1]}"}


def run_client(
    folder: Path, url: str, *extra: str, auth: tuple[str, str] | None = AUTH
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        track_command(folder, url, *extra),
        cwd=REPO, env=client_env(auth), capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def predicted_labels(folder: Path, frame: int) -> set[str]:
    document = json.loads((folder / f"{frame:05d}.json").read_text())
    return {s["label"] for s in document["shapes"] if s["flags"].get("labelme_sam2") is True}


def test_a_folder_tracked_on_the_server_gets_every_frame_and_the_local_summary(
    server: Server,
) -> None:
    folder = shared_bedroom(server.root, "plain")

    run = run_client(folder, server.url)

    assert run.returncode == 0, run.stderr + server.logs()
    assert SUMMARY.fullmatch(run.stdout.strip()), run.stdout
    assert run.stderr == ""  # no bar on a pipe, no warnings
    for frame in range(12):
        assert predicted_labels(folder, frame) == {"boy", "girl"}, frame
    job = server.job_of(folder)
    assert job["kind"] == "folder" and job["state"] == "done", job
    assert job["task"] is None and job["project"] == "" and job["error"] is None
    assert job["frames_done"] == job["frames_total"] == 12
    assert job["result"]["summary"] == run.stdout.strip()
    assert job["result"]["cancelled"] is False and job["result"]["not_updated"] == []
    assert (folder / ".labelme-sam2" / "run.json").is_file()  # a re-run recomputes only edits


def test_progress_json_gives_a_progress_event_per_frame_and_the_servers_result_as_done(
    server: Server,
) -> None:
    folder = shared_bedroom(server.root, "json")

    run = run_client(folder, server.url, "--progress", "json")

    assert run.returncode == 0, run.stderr + server.logs()
    events = events_of(run.stderr)  # every line an event with exactly its documented fields
    progress = of_kind(events, "progress")
    assert [event["done"] for event in progress] == list(range(1, 13))
    assert {event["total"] for event in progress} == {12}
    assert all(0 < event["frames_per_second"] < 1000 for event in progress[1:])
    assert of_kind(events, "warning") == [] and of_kind(events, "error") == []
    done = events[-1]
    assert of_kind(events, "done") == [done]
    assert done == {"event": "done", **server.job_of(folder)["result"]}
    assert done["summary"] == run.stdout.strip() and SUMMARY.fullmatch(done["summary"])
    assert done["frames_written"] == done["labelme_files_changed"] == 12


def test_a_folder_outside_the_shared_folders_is_one_line_and_nothing_is_written(
    server: Server, tmp_path: Path
) -> None:
    folder = shared_bedroom(tmp_path, "elsewhere", frames=2)
    link = server.root / "link-out"
    link.symlink_to(folder, target_is_directory=True)  # resolved: still outside
    before = folder_bytes(folder)

    for path in (folder, link):
        run = run_client(path, server.url)
        assert run.returncode == 2 and run.stdout == ""
        # The client sends the path resolved: the link names the folder it points to.
        assert run.stderr.splitlines() == [
            f"labelme-sam2: error: {folder}: not under the server's shared folders "
            "(LABELME_SAM2_MEDIA_ROOTS); put it on the shared disk, under one of them"
        ]
    assert folder_bytes(folder) == before


def test_a_wrong_or_missing_password_is_one_line(server: Server) -> None:
    folder = shared_bedroom(server.root, "auth", frames=2)
    before = folder_bytes(folder)

    wrong = run_client(folder, server.url, auth=("annotator", "wrong"))
    missing = run_client(folder, server.url, "--progress", "json", auth=None)

    assert wrong.returncode == missing.returncode == 2
    assert wrong.stderr.splitlines() == [
        f"labelme-sam2: error: {server.url}: wrong user or password: set "
        "LABELME_SAM2_SERVER_AUTH=user:password"
    ]
    assert events_of(missing.stderr) == [
        {
            "event": "error",
            "message": f"{server.url}: the server asks for a user and password: set "
            "LABELME_SAM2_SERVER_AUTH=user:password",
        }
    ]
    assert folder_bytes(folder) == before


def test_sigterm_cancels_the_servers_job_and_every_file_is_old_or_new(server: Server) -> None:
    frames = 20
    folder = shared_bedroom(server.root, "cancel", frames=frames)
    lines: list[str] = []
    process = subprocess.Popen(
        track_command(folder, server.url, "--progress", "json"),
        cwd=REPO, env=client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            lines.append(line)
            if json.loads(line)["event"] == "progress" and json.loads(line)["done"] == 3:
                process.send_signal(signal.SIGTERM)
        stdout = process.stdout.read()
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert code == 130, "".join(lines) + server.logs()
    events = events_of("".join(lines))
    done = events[-1]
    assert done["event"] == "done" and done["cancelled"] is True, done
    written = done["frames_written"]
    assert 3 <= written < frames and done["frames"] == frames
    assert [e["done"] for e in of_kind(events, "progress")] == list(range(1, written + 1))
    assert stdout.strip() == done["summary"]
    assert done["summary"].startswith(f"cancelled after {written} of {frames} frames")
    job = server.job_of(folder)
    assert job["state"] == "cancelled" and job["result"] == {
        k: v for k, v in done.items() if k != "event"
    }
    # Every LabelMe file parses: the old one (no masks) or a complete new one.
    assert written <= frames_with_our_masks(folder) < frames
    assert not list(folder.glob(".*.tmp"))
    assert not (folder / ".labelme-sam2" / "run.json").exists()  # a re-run does everything


def test_post_jobs_refuses_bad_bodies_and_folders_with_a_4xx_json_error(server: Server) -> None:
    root = server.root
    (root / "a-file").write_text("")
    outside = root.parent / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    cases: list[tuple[object, int, str]] = [  # body (bytes as sent), status, in the error
        (b"", 400, "must be a JSON object"),
        (b"{not json", 400, "must be a JSON object"),
        ([str(root)], 400, "must be a JSON object"),
        ({}, 400, "the body needs 'folder'"),
        ({"folder": 7}, 400, "the body needs 'folder'"),
        ({"folder": None}, 400, "the body needs 'folder'"),
        ({"folder": str(root), "full": "yes"}, 400, f"{root}: 'full' must be true or false"),
        ({"folder": str(root), "full": 1}, 400, "'full' must be true or false"),
        ({"folder": str(root), "ful": True}, 400, "unknown fields ['ful']"),
        ({"folder": "relative/clip"}, 422, "absolute path"),
        ({"folder": f"{root}/\x00clip"}, 422, "absolute path"),
        ({"folder": f"{root}/{'a' * 5000}"}, 422, "cannot be read here"),
        ({"folder": str(root / "a-file")}, 422, "no such folder on the server"),
        ({"folder": str(root / "missing")}, 422, "no such folder on the server"),
        ({"folder": str(root / "escape")}, 403, "not under the server's shared folders"),
        ({"folder": f"{root}/../outside"}, 403, "not under the server's shared folders"),
        ({"folder": "/"}, 403, "not under the server's shared folders"),
    ]
    for body, status, words in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = requests.post(
            f"{server.url}/jobs",
            data=raw,
            headers={"Content-Type": "application/json"},
            auth=AUTH,
            timeout=30,
        )
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()["error"]
        assert words in error and "\n" not in error, (body, error)
    unauthorised = requests.post(f"{server.url}/jobs", json={"folder": str(root)}, timeout=30)
    assert unauthorised.status_code == 401
    assert requests.get(f"{server.url}/health", auth=AUTH, timeout=30).json()["status"] == "UP"
    assert not any(job["folder"] == str(root) for job in requests.get(
        f"{server.url}/jobs", auth=AUTH, timeout=30
    ).json()["jobs"])  # fmt: skip


@pytest.mark.timeout(600)  # the worker's start (120 s), the job
def test_a_redis_worker_tracks_a_folder_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key, value in MODEL_ENV.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "shared"
    folder = shared_bedroom(root, "rq")
    with RedisServer(tmp_path / "redis") as redis_server:
        env = os.environ | MODEL_ENV | {ROOTS: str(root)}
        workers = Workers(redis_server.url, tmp_path, env=env)
        web = Web(replace(web_side_settings(redis_server.url, tmp_path), media_roots=(root,)))
        try:
            workers.start("w1")
            run = run_client(folder, web.url, auth=None)
            assert run.returncode == 0, run.stderr + workers.logs()
            assert SUMMARY.fullmatch(run.stdout.strip()), run.stdout
            (job,) = requests.get(f"{web.url}/jobs", timeout=30).json()["jobs"]
        finally:
            web.server.shutdown()
            workers.stop()
    assert job["kind"] == "folder" and job["folder"] == str(folder) and job["state"] == "done"
    assert job["result"]["summary"] == run.stdout.strip() and job["attempts"] == 1
    for frame in range(12):
        assert predicted_labels(folder, frame) == {"boy", "girl"}, frame
