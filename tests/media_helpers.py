"""What the media download tests share: a resolver with short timeouts that may fetch from
the loopback test servers, a time limit for a call, and the checks every refusal shares."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ls_backend.errors import RequestError
from ls_backend.media import MediaResolver

T = TypeVar("T")
BODY = b"\xff\xd8" + bytes(range(256)) * 4  # what a good host serves; never decoded here
FAST = {"connect_timeout": 1.0, "read_timeout": 0.5, "total_timeout": 5.0}


def make(tmp_path: Path, **options: Any) -> MediaResolver:
    """A resolver with short timeouts that may fetch from the loopback test servers."""
    settings: dict[str, Any] = {"allow_urls": True, "allowed_hosts": ("127.0.0.1",)} | FAST
    return MediaResolver(cache_dir=tmp_path / "cache", **(settings | options))


def within(seconds: float, call: Callable[[], T]) -> T:
    """call(), failing the test if it takes longer than `seconds` (a hang fails, not blocks)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(("value", call()))
        except BaseException as error:
            outcome.append(("error", error))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds} s")
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value


def _in_background(call: Callable[[], object]) -> None:
    """call() in a thread of its own, its RequestError expected and dropped."""

    def run() -> None:
        with contextlib.suppress(RequestError):
            call()

    threading.Thread(target=run, daemon=True).start()


def cached_files(tmp_path: Path) -> list[Path]:
    cache = tmp_path / "cache"
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def refusal(error: RequestError, *, task: int, tmp_path: Path) -> str:
    """The error's message, checked for what every media refusal shares."""
    assert error.status == 422
    assert error.message.startswith(f"task {task}: cannot read media")
    assert "\n" not in error.message
    assert str(tmp_path) not in error.message  # no cache path
    return error.message


def wait_for(condition: Callable[[], object], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the server never saw the request")
        time.sleep(0.01)
