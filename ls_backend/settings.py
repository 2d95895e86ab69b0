"""Backend settings, from the environment as label-studio-ml backends take them; `serve`'s and
`worker`'s flags override."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from labelme_sam2.api import UserError
from ls_backend.jobs.queue import DEFAULT_MAX_QUEUED
from ls_backend.media import LabelStudioAccess
from ls_backend.media_addresses import Origin
from ls_backend.media_limits import DEFAULT_MAX_FRAME_PIXELS, DEFAULT_MAX_FRAMES, MediaLimits


@dataclass(frozen=True)
class BackendSettings:
    access: LabelStudioAccess | None  # LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY
    basic_auth: tuple[str, str] | None  # BASIC_AUTH_USER + BASIC_AUTH_PASS, both or neither
    masks_root: Path | None  # LABELME_SAM2_MASKS_DIR: video masks, one folder per task
    media_cache: Path  # LABELME_SAM2_MEDIA_CACHE: media downloaded from Label Studio
    # LABELME_SAM2_BATCH_SECONDS: a batch starts no new task after this long, so it answers
    # within Label Studio's ML_TIMEOUT_PREDICT (100 s); the rest come on the next retrieve.
    batch_seconds: float = 80.0
    max_request_bytes: int = 256 * 1024 * 1024  # LABELME_SAM2_MAX_REQUEST_MB
    # LABELME_SAM2_JOBS=off: frame sequences and videos predicted inside /predict (issue 4's
    # behaviour), not as background jobs.
    jobs: bool = True
    redis_url: str | None = None  # LABELME_SAM2_REDIS_URL: jobs on Redis + RQ workers
    queue_name: str = "labelme-sam2"  # LABELME_SAM2_QUEUE
    job_timeout: int = 6 * 3600  # LABELME_SAM2_JOB_TIMEOUT: seconds one job may run
    click_seconds: float = 60.0  # LABELME_SAM2_CLICK_SECONDS: wait for a worker's answer
    webhook_token: str | None = None  # LABELME_SAM2_WEBHOOK_TOKEN: /webhook?token=...
    # LABELME_SAM2_WEBHOOK_RATE: webhooks a minute taken without a token (then a 429); Label
    # Studio sends one per saved annotation, so a team saving every few seconds stays under.
    webhook_rate: float = 120.0
    # LABELME_SAM2_MEDIA_ROOTS (os.pathsep-separated): local media only under these, and the
    # shared folders `track --server` may track (none when unset).
    media_roots: tuple[Path, ...] = ()
    allow_urls: bool = False  # LABELME_SAM2_ALLOW_URLS=1: media from any http(s) host
    # LABELME_SAM2_FEATURE_CACHE_MB: clicked images' SAM 2 features kept on the model's device
    # (about 100 MB each at 1024 px), so the next click on an image skips the encoder.
    feature_cache_bytes: int = 1024 * 2**20
    # LABELME_SAM2_SETUP_HOSTS: Label Studio origins (scheme://host:port, comma-separated) whose
    # /setup address and token are used when LABEL_STUDIO_URL is not set; any other is refused,
    # so nobody can point a project's fetches and token at a host of their choosing.
    setup_hosts: tuple[Origin, ...] = ()
    # LABELME_SAM2_MAX_FRAMES, LABELME_SAM2_MAX_FRAME_MEGAPIXELS: media one task may bring.
    media_limits: MediaLimits = field(default_factory=MediaLimits)
    max_queued_jobs: int = DEFAULT_MAX_QUEUED  # LABELME_SAM2_MAX_QUEUED_JOBS: then a 503
    # LABELME_SAM2_MAX_MEDIA_MB: the largest media file downloaded (bigger is refused early).
    max_media_bytes: int = 2**30
    # LABELME_SAM2_MEDIA_CACHE_MB: downloaded media kept, least recently used evicted first.
    media_cache_bytes: int = 10 * 2**30
    # LABELME_SAM2_MEDIA_ALLOWED_HOSTS: hosts or networks (CIDR) media may come from although
    # they are internal (loopback, private, link-local): refused otherwise, on every redirect.
    media_allowed_hosts: tuple[str, ...] = ()


def settings_from_env(environ: Mapping[str, str] = os.environ) -> BackendSettings:
    url = environ.get("LABEL_STUDIO_URL", "").rstrip("/")
    key = environ.get("LABEL_STUDIO_API_KEY", "")
    masks = environ.get("LABELME_SAM2_MASKS_DIR", "")
    cache = environ.get("LABELME_SAM2_MEDIA_CACHE", "")
    roots = environ.get("LABELME_SAM2_MEDIA_ROOTS", "")
    return BackendSettings(
        access=LabelStudioAccess(url=url, api_key=key) if url and key else None,
        basic_auth=basic_auth_from_env(environ),
        masks_root=Path(masks) if masks else None,
        media_cache=Path(cache) if cache else Path(tempfile.gettempdir()) / "labelme-sam2-media",
        batch_seconds=_number(environ, "LABELME_SAM2_BATCH_SECONDS", 80.0),
        max_request_bytes=int(_number(environ, "LABELME_SAM2_MAX_REQUEST_MB", 256) * 2**20),
        jobs=_switch(environ, "LABELME_SAM2_JOBS", True),
        redis_url=environ.get("LABELME_SAM2_REDIS_URL") or None,
        queue_name=environ.get("LABELME_SAM2_QUEUE") or "labelme-sam2",
        job_timeout=int(_number(environ, "LABELME_SAM2_JOB_TIMEOUT", 6 * 3600)),
        click_seconds=_number(environ, "LABELME_SAM2_CLICK_SECONDS", 60.0),
        webhook_token=environ.get("LABELME_SAM2_WEBHOOK_TOKEN") or None,
        webhook_rate=_number(environ, "LABELME_SAM2_WEBHOOK_RATE", 120.0),
        media_roots=tuple(Path(p) for p in roots.split(os.pathsep) if p),
        allow_urls=_switch(environ, "LABELME_SAM2_ALLOW_URLS", False),
        feature_cache_bytes=int(_number(environ, "LABELME_SAM2_FEATURE_CACHE_MB", 1024) * 2**20),
        media_limits=MediaLimits(
            max_frames=int(_number(environ, "LABELME_SAM2_MAX_FRAMES", DEFAULT_MAX_FRAMES)),
            max_frame_pixels=int(
                _number(
                    environ,
                    "LABELME_SAM2_MAX_FRAME_MEGAPIXELS",
                    DEFAULT_MAX_FRAME_PIXELS / 1e6,
                )
                * 1e6
            ),
        ),
        max_queued_jobs=int(_number(environ, "LABELME_SAM2_MAX_QUEUED_JOBS", DEFAULT_MAX_QUEUED)),
        max_media_bytes=int(_number(environ, "LABELME_SAM2_MAX_MEDIA_MB", 1024) * 2**20),
        media_cache_bytes=int(_number(environ, "LABELME_SAM2_MEDIA_CACHE_MB", 10240) * 2**20),
        media_allowed_hosts=tuple(
            host.strip()
            for host in environ.get("LABELME_SAM2_MEDIA_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        ),
        setup_hosts=_setup_hosts(environ),
    )


AUTH_VARIABLES = ("BASIC_AUTH_USER", "BASIC_AUTH_PASS")


def basic_auth_from_env(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(user, password), or None for no auth. Auth must never fail open: a misspelt variable
    (BASIC_AUTH_USERNAME) or half a pair would leave the backend open, or accept an empty
    password, while its admin believes it is protected; so both stop the backend at start."""
    for name in sorted(environ):
        if name.upper().startswith("BASIC_AUTH") and name not in AUTH_VARIABLES:
            raise UserError(
                name, "is not a setting; basic auth takes BASIC_AUTH_USER and BASIC_AUTH_PASS"
            )
    user, password = environ.get("BASIC_AUTH_USER", ""), environ.get("BASIC_AUTH_PASS", "")
    if not user and not password:
        return None
    if not password:
        raise UserError("BASIC_AUTH_USER", "is set without BASIC_AUTH_PASS: set both or neither")
    if not user:
        raise UserError("BASIC_AUTH_PASS", "is set without BASIC_AUTH_USER: set both or neither")
    if ":" in user:  # basic auth sends "user:password": such a user could never log in
        raise UserError("BASIC_AUTH_USER", "must not contain ':'")
    return user, password


def exposed_without_auth(settings: BackendSettings, host: str) -> str | None:
    """The warning for listening on `host` without basic auth, None when that is safe (auth
    is on, or only this machine can connect): without auth, anyone who reaches the port can
    run the model and cancel jobs."""
    if settings.basic_auth is not None or _is_loopback(host):
        return None
    return (
        f"no basic auth, and listening on {host or 'all addresses'}: anyone who reaches this "
        "port can use the backend; set BASIC_AUTH_USER and BASIC_AUTH_PASS"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UserError(name, f"must be a positive number, not {raw!r}")
    return value


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise UserError(name, f"must be on or off, not {raw!r}")


def _setup_hosts(environ: Mapping[str, str]) -> tuple[Origin, ...]:
    name = "LABELME_SAM2_SETUP_HOSTS"
    origins = []
    for entry in (e.strip() for e in environ.get(name, "").split(",") if e.strip()):
        parsed = Origin.parse(entry)
        if parsed is None:
            raise UserError(name, f"{entry!r} is not an http(s) origin like http://ls:8080")
        origins.append(parsed)
    return tuple(origins)
