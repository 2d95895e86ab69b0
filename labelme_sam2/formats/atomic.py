"""Atomic file replacement: a reader (or a crash) sees the old file or the new one, never half.

The rename is what makes a write atomic, for readers and for a process that dies at any
point. A power cut is another matter: the rename may reach the disk before the file's data
does, leaving an empty (or, on some filesystems, old) file. A `durable` write syncs the data
before the rename, so even then the file is old or new; it costs a disk flush (milliseconds)
per file, so files a run recomputes anyway (per-frame mask layers, the mask store) skip it,
and the store is synced once before the run record that vouches for it (sync_to_disk).
See docs/outputs.md.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from labelme_sam2.errors import OutputError


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Write `data` to `path` through a temp file and a rename; return False if it was unchanged.

    Skipping identical content keeps re-runs byte-identical and leaves modification times alone.
    `durable`: sync the data to disk before the rename (old or new after a power cut too).
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise _cannot_write(path, error) from error
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _cannot_write(path, error) from error
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            if durable:
                temp.flush()
                os.fsync(temp.fileno())
        _keep_mode(path, Path(temp_name))
        os.replace(temp_name, path)
    except BaseException as error:
        # A folder that turned read-only may refuse this too: the error to report is the first.
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            # Disk full, read-only, no permission: the old file is still there, whole.
            raise _cannot_write(path, error) from error
        raise
    return True


def replace_atomically(temp: Path, path: Path) -> bool:
    """Move a finished temp file (same folder) over `path`; return False if content was equal.

    Not durable: the temp file is not synced (a rendered video, which a run makes again)."""
    try:
        if path.exists() and _same_content(temp, path):
            temp.unlink()
            return False
        os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError):
            raise _cannot_write(path, error) from error
        raise
    return True


def sync_to_disk(paths: Sequence[Path]) -> None:
    """Put `paths`, written without `durable`, on disk before a record that vouches for them.

    One sync(2) of everything the system has yet to write (every output of the run with it):
    an fsync per file costs about as much as writing each one durably (each commits the
    filesystem's journal), sync(2) about one such commit, whatever the number of files (10 ms
    against 1.3 s for 300 new files on the dev VM). Where there is no sync(2), an fsync of
    each of `paths`.
    """
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:  # Windows
        try:
            with path.open("rb+") as file:
                os.fsync(file.fileno())
        except FileNotFoundError:
            continue  # gone: there is nothing of it to lose
        except OSError as error:
            raise _cannot_write(path, error) from error


def make_folder(path: Path) -> None:
    """`mkdir -p` for an output folder; what stands in its way is an OutputError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:
        raise OutputError(path, "cannot make the folder: a file is in the way") from error
    except OSError as error:
        raise OutputError(path, f"cannot make the folder ({error.strerror or error})") from error


def _cannot_write(path: Path, error: OSError) -> OutputError:
    if isinstance(error, IsADirectoryError):
        return OutputError(path, "cannot write: a folder is in the way")
    return OutputError(path, f"cannot write ({error.strerror or error})")


def _same_content(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            chunk_a, chunk_b = fa.read(1 << 20), fb.read(1 << 20)
            if chunk_a != chunk_b:
                return False
            if not chunk_a:
                return True


def _keep_mode(path: Path, temp: Path) -> None:
    # mkstemp makes 0600 files; a replaced file keeps its mode, a new one gets the umask default.
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temp, mode)
