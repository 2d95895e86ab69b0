"""Backend settings, from the environment as label-studio-ml backends take them; `serve`'s
flags override."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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
    max_request_bytes: int = 256 * 1024 * 1024  # brush RLEs of a long frame sequence are big


def settings_from_env(environ: Mapping[str, str] = os.environ) -> BackendSettings:
    url = environ.get("LABEL_STUDIO_URL", "").rstrip("/")
    key = environ.get("LABEL_STUDIO_API_KEY", "")
    user, password = environ.get("BASIC_AUTH_USER", ""), environ.get("BASIC_AUTH_PASS", "")
    masks = environ.get("LABELME_SAM2_MASKS_DIR", "")
    cache = environ.get("LABELME_SAM2_MEDIA_CACHE", "")
    batch = environ.get("LABELME_SAM2_BATCH_SECONDS", "")
    return BackendSettings(
        access=LabelStudioAccess(url=url, api_key=key) if url and key else None,
        basic_auth=(user, password) if user else None,
        masks_root=Path(masks) if masks else None,
        media_cache=Path(cache) if cache else Path(tempfile.gettempdir()) / "labelme-sam2-media",
        batch_seconds=float(batch) if batch else 80.0,
    )
