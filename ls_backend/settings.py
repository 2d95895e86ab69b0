"""Backend settings, from the environment as label-studio-ml backends take them; `serve`'s and
`worker`'s flags override."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.api import UserError
from ls_backend.media import LabelStudioAccess


@dataclass(frozen=True)
class BackendSettings:
    access: LabelStudioAccess | None  # LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY
    basic_auth: tuple[str, str] | None  # BASIC_AUTH_USER + BASIC_AUTH_PASS
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
    media_roots: tuple[Path, ...] = ()  # LABELME_SAM2_MEDIA_ROOTS (os.pathsep-separated)
    allow_urls: bool = False  # LABELME_SAM2_ALLOW_URLS=1: media from any http(s) host
    # LABELME_SAM2_FEATURE_CACHE_MB: clicked images' SAM 2 features kept on the model's device
    # (about 100 MB each at 1024 px), so the next click on an image skips the encoder.
    feature_cache_bytes: int = 1024 * 2**20


def settings_from_env(environ: Mapping[str, str] = os.environ) -> BackendSettings:
    url = environ.get("LABEL_STUDIO_URL", "").rstrip("/")
    key = environ.get("LABEL_STUDIO_API_KEY", "")
    user, password = environ.get("BASIC_AUTH_USER", ""), environ.get("BASIC_AUTH_PASS", "")
    masks = environ.get("LABELME_SAM2_MASKS_DIR", "")
    cache = environ.get("LABELME_SAM2_MEDIA_CACHE", "")
    roots = environ.get("LABELME_SAM2_MEDIA_ROOTS", "")
    return BackendSettings(
        access=LabelStudioAccess(url=url, api_key=key) if url and key else None,
        basic_auth=(user, password) if user else None,
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
        media_roots=tuple(Path(p) for p in roots.split(os.pathsep) if p),
        allow_urls=_switch(environ, "LABELME_SAM2_ALLOW_URLS", False),
        feature_cache_bytes=int(_number(environ, "LABELME_SAM2_FEATURE_CACHE_MB", 1024) * 2**20),
    )


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
