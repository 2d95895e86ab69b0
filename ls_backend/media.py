"""Task media -> local files, through label-studio-sdk (uploads, local-files storage, cloud
storage via Label Studio, plain http).

Files Label Studio shares on this machine (local-files storage, uploads in its data folder) are
read in place. Others are downloaded once into the cache: into a private temp folder first and
then renamed, so a download cut short or raced by a second request is never served as whole.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from label_studio_sdk._extensions.label_studio_tools.core.utils.io import (
    get_local_path,
    resolve_local_storage_file,
)

from ls_backend.errors import RequestError

log = logging.getLogger(__name__)
LOCK_STRIPES = 64  # one lock per URL hash stripe: the same URL is fetched once at a time
# What Label Studio itself serves or presigns: read with its token, never an arbitrary host.
LABEL_STUDIO_PATHS = ("/data/", "data/", "/upload", "upload", "/storage-data/", "/tasks/")
CLOUD_SCHEMES = ("s3", "gs", "azure-blob")


@dataclass(frozen=True)
class LabelStudioAccess:
    url: str  # how this backend reaches Label Studio, e.g. http://127.0.0.1:8080
    api_key: str


class MediaResolver:
    """`roots`: when given, local files are read only under them (symlinks resolved).
    `allow_urls`: http(s) media on hosts other than Label Studio's are fetched only when set."""

    def __init__(
        self, *, cache_dir: Path, roots: tuple[Path, ...] = (), allow_urls: bool = False, **_: object
    ) -> None:
        self.cache_dir = cache_dir
        self.roots = tuple(root.resolve() for root in roots)
        self.allow_urls = allow_urls
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def forget(self, path: object) -> None:
        pass

    def local_path(self, url: object, *, task_id: object, access: LabelStudioAccess | None, cancel: object = None) -> Path:
        if not isinstance(url, str) or not url:
            raise RequestError(f"task {task_id}: media URL {url!r} is not a string")
        self._check_source(url, task_id=task_id, access=access)
        if url.startswith("/data/") and "?d=" in url:
            try:
                in_place = resolve_local_storage_file(url)
            except (FileNotFoundError, ValueError) as error:  # ValueError: a path out of root
                raise RequestError(f"task {task_id}: {error}", status=422) from error
            if in_place is not None and Path(in_place).is_file():
                return self._inside_roots(Path(in_place), url=url, task_id=task_id)
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        with self._locks[int(key, 16) % LOCK_STRIPES]:
            cached = next(self.cache_dir.glob(f"{key}__*"), None)
            if cached is not None:
                return cached
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".download-") as temp:
                path = self._fetch(url, task_id=task_id, access=access, into=Path(temp))
                if Path(temp) not in path.parents:  # an upload Label Studio keeps here
                    return self._inside_roots(path, url=url, task_id=task_id)
                cached = self.cache_dir / f"{key}__{path.name}"
                os.replace(path, cached)
        return cached

    def _check_source(self, url: str, *, task_id: object, access: LabelStudioAccess | None) -> None:
        parts = urlsplit(url)
        if parts.scheme in CLOUD_SCHEMES:
            return
        if not parts.scheme and url.startswith(LABEL_STUDIO_PATHS):
            return
        if parts.scheme in ("http", "https"):
            if access is not None and _origin(url) == _origin(access.url):
                return
            if self.allow_urls:
                return
            raise RequestError(
                f"task {task_id}: media {url!r} is on a host other than Label Studio's; "
                f"set LABELME_SAM2_ALLOW_URLS=1 to fetch such URLs",
                status=422,
            )
        raise RequestError(
            f"task {task_id}: media {url!r} is neither Label Studio storage nor an http(s) URL",
            status=422,
        )

    def _inside_roots(self, path: Path, *, url: str, task_id: object) -> Path:
        real = path.resolve()
        if self.roots and not any(real.is_relative_to(root) for root in self.roots):
            raise RequestError(
                f"task {task_id}: media {url!r} is outside LABELME_SAM2_MEDIA_ROOTS", status=422
            )
        return real

    @staticmethod
    def _fetch(url: str, *, task_id: object, access: LabelStudioAccess | None, into: Path) -> Path:
        try:
            path = get_local_path(
                url,
                cache_dir=str(into),
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


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class MediaCancelled(RequestError):
    pass
