"""One `track` at a time per folder: a second run on the same LabelMe files would interleave
its writes with the first's.

The lock is the operating system's advisory lock on the folder itself (flock on its open
directory), so it creates no file and a killed run leaves nothing stuck: the lock goes with
its process. Where the platform has no flock (Windows), runs are not serialised.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from labelme_sam2.errors import InputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def only_run_in(folder: Path) -> Iterator[None]:
    """Hold `folder` for this run; InputError at once if another run holds it."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                folder, "another `labelme-sam2 track` is running on this folder; wait until it ends"
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock
