"""Queued jobs are bounded: past LABELME_SAM2_MAX_QUEUED_JOBS a submission is a 503 that says
so, in process and on Redis alike (issue 14 item 9)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from labelme_sam2.api import UserError
from ls_backend.errors import RequestError
from ls_backend.jobs.embedded import EmbeddedJobs
from ls_backend.jobs.model import JobSpec, job_spec
from ls_backend.jobs.rq_queue import RqJobs, connect
from tests.ls_helpers import FRAMES, click, local
from tests.redis_server import RedisServer


def spec(task_id: int) -> JobSpec:
    task = {
        "id": task_id,
        "data": {"frames": [local("a.jpg")]},
        "annotations": [{"id": 1, "result": [click(1, 1, "car", page=0)]}],
    }
    return job_spec(task, project="4", label_config=FRAMES, model_version="v")


def test_the_embedded_queue_refuses_past_its_cap_but_takes_a_replacement():
    release = threading.Event()
    started = threading.Event()

    def execute(job_spec: JobSpec, control, still_current) -> None:
        started.set()
        release.wait(10)

    jobs = EmbeddedJobs(execute=execute, max_queued=2)
    try:
        jobs.submit(spec(1))
        assert started.wait(5)  # task 1 runs: it is not queued
        jobs.submit(spec(2))
        jobs.submit(spec(3))
        with pytest.raises(RequestError) as full:
            jobs.submit(spec(4))
        assert full.value.status == 503 and "LABELME_SAM2_MAX_QUEUED_JOBS" in full.value.message
        jobs.submit(spec(3))  # a newer job for a queued task takes its place
    finally:
        release.set()
        jobs.close()


def test_the_redis_queue_refuses_past_its_cap_but_takes_a_replacement(tmp_path: Path):
    with RedisServer(tmp_path / "redis") as redis_server:
        jobs = RqJobs(connect(redis_server.url), queue_name="capped", job_timeout=60, max_queued=2)
        jobs.submit(spec(1))
        jobs.submit(spec(2))
        with pytest.raises(RequestError) as full:
            jobs.submit(spec(3))
        jobs.submit(spec(2))  # a newer job for a queued task takes its place, as embedded
    assert full.value.status == 503 and "2 jobs are queued already" in full.value.message


def test_a_redis_password_never_reaches_a_message():
    from ls_backend.jobs.rq_queue import redacted

    assert redacted("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redacted("redis://ann:s3cret@10.0.0.5/1") == "redis://ann:***@10.0.0.5/1"
    assert redacted("redis://redis:6379/0") == "redis://redis:6379/0"
    with pytest.raises(UserError) as refused:
        connect("redis://:s3cret@127.0.0.1:9/0")
    assert "s3cret" not in str(refused.value) and ":***@127.0.0.1:9" in str(refused.value)
