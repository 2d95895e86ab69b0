"""The media cache's size: least recently used files go first once it is over its cap.

A file's mtime is when it was last used (set when it is downloaded, touched on every hit).
Files used within `grace_seconds` are never evicted, even over the cap: a task that is
running reads its frames by path, later. Only files this backend writes are ever deleted:
names `<hex key>__<name>`, and partial downloads (`.part-*`) no write has touched for an hour
(left by a killed process); anything else in the folder is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from pathlib import Path

from ls_backend.media_download import PARTIAL_PREFIX

log = logging.getLogger(__name__)
ENTRY = re.compile(r"^(?:[0-9a-f]{16}|[0-9a-f]{32})__")  # this module's keys, and the old ones
STALE_PARTIAL_SECONDS = 3600.0
RESCAN_SECONDS = 60.0  # other processes (workers) share the folder: count it again this often


class MediaCache:
    def __init__(self, folder: Path, *, max_bytes: int, grace_seconds: float) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.grace_seconds = grace_seconds
        self._lock = threading.Lock()
        self._usage: int | None = None  # bytes, as last counted plus what was added since
        self._counted_at = 0.0

    @staticmethod
    def touch(path: Path) -> None:
        with contextlib.suppress(OSError):  # evicted by another process: downloaded anew
            os.utime(path)

    def added(self, path: Path) -> None:
        """After `path` was downloaded: evict least recently used files while over the cap."""
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        with self._lock:
            if self._usage is not None:
                self._usage += size
            stale = time.monotonic() - self._counted_at > RESCAN_SECONDS
            if self._usage is None or self._usage > self.max_bytes or stale:
                self._evict(keep=path)

    def forget(self, path: Path) -> bool:
        """Delete `path` if it is a file of this cache (True), else leave it (False)."""
        try:
            real = path.resolve()
            if real.parent != self.folder.resolve() or not ENTRY.match(real.name):
                return False
            size = real.stat().st_size
            real.unlink()
        except OSError:
            return False
        with self._lock:
            if self._usage is not None:
                self._usage = max(0, self._usage - size)
        return True

    def _evict(self, *, keep: Path) -> None:
        now = time.time()
        entries: list[tuple[float, str, int]] = []
        total = 0
        try:
            listing = list(os.scandir(self.folder))
        except OSError as error:
            log.info("media cache %s: cannot list (%s)", self.folder, error)
            return
        for entry in listing:
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.name.startswith(PARTIAL_PREFIX):
                if now - stat.st_mtime > STALE_PARTIAL_SECONDS:
                    Path(entry.path).unlink(missing_ok=True)
                else:
                    total += stat.st_size  # a download under way takes room too
                continue
            if ENTRY.match(entry.name):
                total += stat.st_size
                entries.append((stat.st_mtime, entry.path, stat.st_size))
        entries.sort()  # least recently used first
        for used, path, size in entries:
            if total <= self.max_bytes or now - used < self.grace_seconds:
                break
            if path == str(keep):
                continue
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= size
            log.info("media cache: evicted %s (%d bytes)", path, size)
        if total > self.max_bytes:
            log.info(
                "media cache %s: %d bytes, over its %d: the rest was used in the last %g s",
                self.folder,
                total,
                self.max_bytes,
                self.grace_seconds,
            )
        self._usage = total
        self._counted_at = time.monotonic()
