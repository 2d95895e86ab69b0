"""Which webhooks start jobs, and the webhook token; the payload gives ids only."""

from __future__ import annotations

from pathlib import Path

from ls_backend.webhooks import task_of_event
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
