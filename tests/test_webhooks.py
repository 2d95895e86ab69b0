"""Which webhooks start jobs, the webhook token, and the rate limit without one; the payload
gives ids only."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ls_backend.rate_limit import RateLimit
from ls_backend.webhooks import WebhookIntake, task_of_event
from tests.ls_helpers import make_backend


def test_only_annotation_saves_with_numeric_ids_start_jobs() -> None:
    saved = {"action": "ANNOTATION_CREATED", "project": {"id": 3}, "task": {"id": 7}}
    assert task_of_event(saved) == ("3", 7)
    assert task_of_event(saved | {"action": "ANNOTATION_UPDATED"}) == ("3", 7)
    # Ids from the annotation when task or project are missing.
    assert task_of_event(
        {"action": "ANNOTATION_UPDATED", "annotation": {"task": 8, "project": 4}}
    ) == ("4", 8)
    for ignored in (
        saved | {"action": "TASKS_DELETED"},
        saved | {"action": "ANNOTATIONS_DELETED"},
        saved | {"task": {"id": "7; drop"}},
        saved | {"task": {"id": True}},
        saved | {"project": {"id": "../3"}},
        {"action": "ANNOTATION_CREATED"},
        "not an object",
        None,
    ):
        assert task_of_event(ignored) is None, ignored


def test_a_webhook_token_when_configured(tmp_path: Path) -> None:
    for backend in make_backend(tmp_path, webhook_token="s3cret"):
        body = {"action": "ANNOTATION_CREATED", "project": {"id": 3}, "task": {"id": 7}}
        refused = backend.client.post("/webhook", json=body)
        assert refused.status_code == 401 and "webhook token" in refused.json["error"]
        wrong = backend.client.post("/webhook?token=nope", json=body)
        assert wrong.status_code == 401
        accepted = backend.client.post("/webhook?token=s3cret", json=body)
        # No job queue here (jobs off): acknowledged, nothing queued.
        assert accepted.status_code == 200 and accepted.json["queued"] is False


def test_webhooks_without_a_token_are_rate_limited(tmp_path: Path) -> None:
    body = {"action": "ANNOTATION_CREATED", "project": {"id": 3}, "task": {"id": 7}}
    for backend in make_backend(tmp_path, webhook_rate=3):
        answers = [backend.client.post("/webhook", json=body) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert "LABELME_SAM2_WEBHOOK_TOKEN" in refused.json["error"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 20  # 1 of 3 a minute: 20 s
    # With a token, only Label Studio can send them: no limit.
    for backend in make_backend(tmp_path / "signed", webhook_rate=3, webhook_token="s3cret"):
        for _ in range(6):
            assert backend.client.post("/webhook?token=s3cret", json=body).status_code == 200


def test_the_rate_limit_refills_with_time() -> None:
    now = [0.0]
    limit = RateLimit(per_minute=2, clock=lambda: now[0])
    assert limit.take() is None and limit.take() is None
    assert limit.take() == pytest.approx(30.0)  # one token comes back every 30 s
    now[0] = 29.0
    assert limit.take() == pytest.approx(1.0)
    now[0] = 30.0
    assert limit.take() is None and limit.take() is not None
    now[0] = 1000.0  # idle for long: no more than a minute's burst
    assert [limit.take() is None for _ in range(3)] == [True, True, False]


class _SlowBook:
    """An AccessBook whose task read-back waits until released, recording each read."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reading = threading.Event()
        self.reads: list[int] = []

    def for_project(self, project: str) -> str:
        return project

    def api(self, _: str) -> _SlowBook:
        return self

    def project_task(self, project: str, task_id: int) -> dict[str, Any]:
        self.reads.append(task_id)
        self.reading.set()
        assert self.release.wait(10)
        return {"id": task_id, "project": int(project)}

    def label_config(self, _: str) -> str:
        return "<View><Image name='image' value='$image'/></View>"  # image: no job


def test_a_task_waiting_for_its_read_back_is_read_once() -> None:
    book = _SlowBook()
    # An image project: read back, then no job, so the queue is never used.
    intake = WebhookIntake(jobs=None, book=book, model_version="v")  # type: ignore[arg-type]
    assert intake.accept("3", 7)
    assert book.reading.wait(10)  # 7 is being read: a new webhook for it is a new save
    assert intake.accept("3", 8) and not intake.accept("3", 8) and intake.accept("3", 7)
    book.release.set()
    deadline = time.monotonic() + 10
    while len(book.reads) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert book.reads == [7, 8, 7]
    assert intake.accept("3", 8)  # read back already: the next save is read again
