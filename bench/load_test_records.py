"""The load test's shared constants (paths, label configs, timeouts, claims' thresholds) and its
records: a media request, a click, a cancel, the samples and the whole run."""

from __future__ import annotations

import collections
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ls_backend.media import MediaResolver

if TYPE_CHECKING:  # for Run's annotation only: the hosts import this module
    from bench.load_test_hosts import FakeLabelStudio

REPO = Path(__file__).resolve().parents[1]
SHARED_BEDROOM = REPO.parent / "shared" / "data" / "frames" / "bedroom"
BEDROOM = SHARED_BEDROOM if SHARED_BEDROOM.is_dir() else REPO / "examples" / "bedroom"
CONFIGS = REPO / "ls_backend" / "label_configs"
IMAGE_CONFIG = (CONFIGS / "image_smart.xml").read_text()
FRAMES_CONFIG = (CONFIGS / "frame_sequence.xml").read_text()
PROJECT = "7.1700000000"  # "<project>.<timestamp>", as Label Studio sends it
FRAME_FILES = 20  # distinct bedroom frames served (URLs differ by their query)
OVERFLOW_TASKS = 20
TIMING_MARGIN = 5.0  # seconds over the read timeout a stalled download may take to be answered
CANCEL_CLAIM = 5.0
REPLACED_RUNNING = 3
SETTLE_SECONDS = 10.0  # clicks alone before the batch is queued
GAP_CLAIM = 10.0  # seconds without a good click answered: far below the 30 s a stall takes
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


# --- annotators ------------------------------------------------------------------------------


@dataclass
class Click:
    url: str
    first: bool  # the image's first click: its media is downloaded, its features computed
    started: float  # time.monotonic()
    seconds: float
    status: int | None  # None: no answer (the client's timeout, a broken connection)
    json_error: bool  # the body is {"error": "..."}


# --- cancelling a job stuck downloading ------------------------------------------------------


@dataclass
class Cancelled:
    job: str
    state: str  # what the job ended as
    to_state: float | None  # seconds from the cancel request to a finished state
    to_hang_up: float | None  # ... to the media host seeing the connection closed
    to_next_job: float | None  # ... to the queue's thread running another job


# --- sampling memory and the queue -----------------------------------------------------------


@dataclass
class Samples:
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (seconds in, MiB)
    queued: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)


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
