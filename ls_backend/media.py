"""Task media -> local files, through label-studio-sdk (uploads, local-files storage, cloud
storage via Label Studio, plain http)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from label_studio_sdk._extensions.label_studio_tools.core.utils.io import (
    get_local_path,
    resolve_local_storage_file,
)

from ls_backend.errors import RequestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelStudioAccess:
    url: str  # how this backend reaches Label Studio, e.g. http://127.0.0.1:8080
    api_key: str


class MediaResolver:
    def __init__(self, *, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    def local_path(self, url: object, *, task_id: object, access: LabelStudioAccess | None) -> Path:
        if not isinstance(url, str) or not url:
            raise RequestError(f"task {task_id}: media URL {url!r} is not a string")
        if url.startswith("/data/") and "?d=" in url:
            # Local-files storage that this machine shares with Label Studio: read in place
            # instead of copying a long video into the cache.
            try:
                in_place = resolve_local_storage_file(url)
            except FileNotFoundError as error:
                raise RequestError(f"task {task_id}: {error}", status=422) from error
            if in_place is not None and Path(in_place).is_file():
                return Path(in_place)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            path = get_local_path(
                url,
                cache_dir=str(self.cache_dir),
                hostname=access.url if access else None,
                access_token=access.api_key if access else None,
                task_id=task_id,
            )
        except Exception as error:  # the SDK raises bare Exception, requests' and OS errors
            log.info("task %s: cannot fetch %s: %r", task_id, url, error)
            hint = "" if access else "; set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"
            raise RequestError(
                f"task {task_id}: cannot read media {url!r} ({error}){hint}", status=422
            ) from error
        return Path(path)
