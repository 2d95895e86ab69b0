"""Task media -> local files: Label Studio's uploads, local-files storage and cloud storage
(through its presign endpoint), and plain http(s) URLs when allowed.

Files Label Studio shares on this machine (local-files storage, uploads in its data folder) are
read in place. Others are downloaded (ls_backend.media_download: timeouts, a size cap, no
internal addresses, cancellable) into the cache folder, streamed into a temp file there and
renamed when whole, so a download cut short is never served. The cache is keyed by origin and
path: sha256("scheme://host:port/path?query") of the URL fetched, Label Studio's origin for
its own relative URLs and cloud URIs, so one origin's bytes never answer another's URL. It
keeps to `cache_bytes`, least recently used files evicted first (ls_backend.media_cache).

One URL is downloaded once at a time (callers asking for it meanwhile wait for that download,
and may cancel their wait); no lock is held across the network, so a stalled host holds up no
other URL.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from appdirs import user_data_dir
from label_studio_sdk._extensions.label_studio_tools.core.utils.io import (
    VERIFY_SSL,
    resolve_local_storage_file,
)

from ls_backend.errors import RequestError
from ls_backend.media_addresses import AddressPolicy, Origin, canonical
from ls_backend.media_cache import MediaCache
from ls_backend.media_download import CancelSignal, Limits, download_to
from ls_backend.media_errors import DownloadCancelled, DownloadError, HttpStatusError

log = logging.getLogger(__name__)
# What Label Studio itself serves or presigns: read with its token, never an arbitrary host.
LABEL_STUDIO_PATHS = ("/data/", "data/", "/upload", "upload", "/storage-data/", "/tasks/")
CLOUD_SCHEMES = ("s3", "gs", "azure-blob")
DEFAULT_CACHE_BYTES = 10 * 2**30
WAIT_SECONDS = 0.1  # how often a caller waiting on another's download looks at its cancel


@dataclass(frozen=True)
class LabelStudioAccess:
    url: str  # how this backend reaches Label Studio, e.g. http://127.0.0.1:8080
    api_key: str


class MediaCancelled(RequestError):
    """The caller's `cancel` event was set while its media downloaded (or while it waited for
    another caller's download of the same URL). A job should end as cancelled, not failed."""


@dataclass(frozen=True)
class _Source:
    """Where one task URL is downloaded from."""

    urls: tuple[str, ...]  # absolute, tried in order (an upload: the proxy, then its old path)
    key: str  # what the cache is keyed by: origin + path?query
    name: str  # the file name kept (decoders look at its suffix)


class MediaResolver:
    """`roots`: when given, local files are read only under them (symlinks resolved).
    `allow_urls`: http(s) media on hosts other than Label Studio's are fetched only when set,
    and then never from internal addresses unless their host name or network is in
    `allowed_hosts` (Label Studio's own origin always is).
    `max_bytes`: the largest media file downloaded. `cache_bytes`: the cache folder's size,
    beyond which least recently used files are deleted (never one used in the last
    `cache_grace_seconds`). Timeouts in seconds: `connect_timeout` to connect, `read_timeout`
    for each wait for bytes, `total_timeout` for a whole download (None: no limit).
    `verify_tls`: requests' `verify` (the SDK's VERIFY_SSL by default)."""

    def __init__(
        self,
        *,
        cache_dir: Path,
        roots: tuple[Path, ...] = (),
        allow_urls: bool = False,
        allowed_hosts: tuple[str, ...] = (),
        max_bytes: int = 2**30,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        total_timeout: float | None = 900.0,
        max_redirects: int = 5,
        cache_grace_seconds: float = 900.0,
        verify_tls: bool | str = VERIFY_SSL,
    ) -> None:
        self.cache_dir = cache_dir
        self.roots = tuple(root.resolve() for root in roots)
        self.allow_urls = allow_urls
        self.policy = AddressPolicy(allowed_hosts)  # ValueError: a bad entry, at start
        self.limits = Limits(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            total_timeout=total_timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
            verify=verify_tls,
        )
        self.cache = MediaCache(cache_dir, max_bytes=cache_bytes, grace_seconds=cache_grace_seconds)
        self._guard = threading.Lock()  # held only to look at the cache and _in_flight
        self._in_flight: dict[str, threading.Event] = {}  # key -> set when its download ends

    def local_path(
        self,
        url: object,
        *,
        task_id: object,
        access: LabelStudioAccess | None,
        cancel: CancelSignal | None = None,
    ) -> Path:
        """The media at `url` as a local file. RequestError (422) when it cannot be read;
        MediaCancelled (a RequestError) when `cancel` (a threading.Event, or anything with
        is_set()) is set while it downloads or waits for another caller's download of the
        same URL: within about WAIT_SECONDS, or `connect_timeout` while connecting.
        A downloaded file that then does not decode should be dropped with forget()."""
        if not isinstance(url, str) or not url:
            raise RequestError(f"task {task_id}: media URL {url!r} is not a string")
        try:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https"):
                canonical(url)  # a host, a port that is a number
        except ValueError as error:
            raise RequestError(
                f"task {task_id}: media {url!r} is not a valid URL", status=422
            ) from error
        self._check_source(url, task_id=task_id, access=access)
        if url.startswith("/data/") and "?d=" in url:
            try:
                in_place = resolve_local_storage_file(url)
            except (FileNotFoundError, ValueError) as error:  # ValueError: a path out of root
                raise RequestError(f"task {task_id}: {error}", status=422) from error
            if in_place is not None and Path(in_place).is_file():
                return self._inside_roots(Path(in_place), url=url, task_id=task_id)
        upload = _upload_in_place(url)
        if upload is not None:
            return self._inside_roots(upload, url=url, task_id=task_id)
        source = self._source(url, task_id=task_id, access=access)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self._cached_or_downloaded(
            source, url=url, task_id=task_id, access=access, cancel=cancel
        )

    def forget(self, path: Path) -> None:
        """Drop `path` from the cache: for a download that turned out not to decode, so the
        next request fetches it again. Media read in place is never touched."""
        if self.cache.forget(path):
            log.info("media cache: forgot %s", path)

    def _cached_or_downloaded(
        self,
        source: _Source,
        *,
        url: str,
        task_id: object,
        access: LabelStudioAccess | None,
        cancel: CancelSignal | None,
    ) -> Path:
        key = hashlib.sha256(source.key.encode()).hexdigest()[:32]
        target = self.cache_dir / f"{key}__{source.name}"
        while True:
            with self._guard:
                if target.is_file():
                    self.cache.touch(target)
                    return target
                running = self._in_flight.get(key)
                if running is None:
                    done = self._in_flight[key] = threading.Event()
            if running is not None:  # another caller downloads it: wait for that, then look
                while not running.wait(WAIT_SECONDS):
                    if cancel is not None and cancel.is_set():
                        raise MediaCancelled(
                            f"task {task_id}: cannot read media {url!r}: the download was "
                            "cancelled",
                            status=422,
                        )
                continue
            try:
                self._download(
                    source, target, url=url, task_id=task_id, access=access, cancel=cancel
                )
            finally:
                with self._guard:
                    del self._in_flight[key]
                done.set()
            self.cache.added(target)
            return target

    def _download(
        self,
        source: _Source,
        target: Path,
        *,
        url: str,
        task_id: object,
        access: LabelStudioAccess | None,
        cancel: CancelSignal | None,
    ) -> None:
        trusted = Origin.parse(access.url) if access is not None else None
        auth = {"Authorization": _authorization(access.api_key)} if access is not None else {}
        for index, fetched in enumerate(source.urls):
            try:
                size = download_to(
                    fetched,
                    target,
                    limits=self.limits,
                    policy=self.policy,
                    trusted=trusted,
                    auth=auth,
                    cancel=cancel,
                )
            except DownloadError as error:
                log.info("task %s: cannot fetch %s: %s", task_id, fetched, error)
                retry = isinstance(error, HttpStatusError) and error.trusted
                if retry and index < len(source.urls) - 1:
                    continue  # an upload the storage proxy does not have: its old /data/ path
                kind = MediaCancelled if isinstance(error, DownloadCancelled) else RequestError
                raise kind(
                    f"task {task_id}: cannot read media {url!r}: {error.public}", status=422
                ) from error
            log.info("task %s: downloaded %s (%d bytes)", task_id, fetched, size)
            return

    def _source(self, url: str, *, task_id: object, access: LabelStudioAccess | None) -> _Source:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            return _Source(urls=(url,), key=canonical(url), name=_file_name(parts.path))
        if access is None:
            raise RequestError(
                f"task {task_id}: cannot read media {url!r}: it is Label Studio's; set "
                "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY",
                status=422,
            )
        try:
            origin = Origin.of(access.url)
        except ValueError as error:
            raise RequestError(
                f"task {task_id}: cannot read media {url!r}: LABEL_STUDIO_URL is not an "
                "http(s) URL",
                status=422,
            ) from error
        if parts.scheme in CLOUD_SCHEMES:
            fileuri = base64.urlsafe_b64encode(url.encode()).decode()
            presign = _join(access.url, f"/tasks/{task_id}/presign/?fileuri={fileuri}")
            return _Source(urls=(presign,), key=f"{origin}|{url}", name=_file_name(parts.path))
        path = url if url.startswith("/") else "/" + url
        if path.startswith("/upload"):
            path = "/data" + path
        if path.startswith("/data/upload/"):  # the storage proxy first, as the SDK does
            upload = path.removeprefix("/data/")
            urls: tuple[str, ...] = (
                _join(access.url, f"/storage-data/uploaded/?filepath={upload}"),
                _join(access.url, path),
            )
            return _Source(urls=urls, key=canonical(urls[1]), name=_file_name(upload))
        absolute = _join(access.url, path)
        query = parse_qs(urlsplit(path).query)
        named = (query.get("d") or query.get("filepath") or [urlsplit(path).path])[-1]
        if "fileuri" in query:  # a presign URL: the cloud object's name
            named = _decoded_uri(query["fileuri"][-1]) or named
        return _Source(urls=(absolute,), key=canonical(absolute), name=_file_name(named))

    def _check_source(self, url: str, *, task_id: object, access: LabelStudioAccess | None) -> None:
        parts = urlsplit(url)
        if parts.scheme in CLOUD_SCHEMES:
            return
        if not parts.scheme and url.startswith(LABEL_STUDIO_PATHS):
            return
        if parts.scheme in ("http", "https"):
            if access is not None and _same_origin(url, access.url):
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


def _upload_in_place(url: str) -> Path | None:
    """An upload Label Studio keeps in its data folder on this machine (as the SDK reads it)."""
    path = url if url.startswith("/") else "/" + url
    if path.startswith("/upload"):
        path = "/data" + path
    if not path.startswith("/data/upload/") or "?" in path:
        return None
    project, name = path.split("/")[-2:]
    if not project.isdigit():  # ".." would step out of the upload folder
        return None
    candidate = Path(user_data_dir(appname="label-studio")) / "media" / "upload" / project / name
    return candidate if name and candidate.is_file() else None


def _authorization(key: str) -> str:
    """Label Studio's header: `Token <key>` for a legacy token, `Bearer` for a JWT (as the
    SDK sends media requests)."""
    return f"Bearer {key}" if key.count(".") == 2 else f"Token {key}"


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def _same_origin(url: str, other: str) -> bool:
    origin = Origin.parse(url)
    return origin is not None and origin == Origin.parse(other)


def _decoded_uri(encoded: str) -> str | None:
    try:
        return urlsplit(base64.urlsafe_b64decode(encoded + "==").decode()).path
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None


def _file_name(path: str) -> str:
    """The last part of `path`, safe as a file name (its suffix kept), never empty."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", path.rsplit("/", 1)[-1])[-100:].lstrip(".")
    return name or "media"
