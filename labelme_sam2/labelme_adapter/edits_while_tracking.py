"""LabelMe files the user saves while `track` runs (LabelMe stays open beside it): never
overwritten with what we read before.

At write time each file is compared with what was read (or with its absence). A file that
changed keeps the user's new content: when its prompts are the ones we tracked, our masks are
merged into it; otherwise it is left alone, and the run says so (exit code 3).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.core.prompts import ObjectKey, PromptSet, prompt_fingerprint
from labelme_sam2.errors import InputError
from labelme_sam2.formats.labelme_json import (
    LabelmeDocument,
    check_labelme_file,
    read_document,
)
from labelme_sam2.labelme_adapter.shapes_to_prompts import add_shapes


@dataclass(frozen=True)
class FileState:
    """What a file held when it was read: size and time (the fast check), and its bytes' hash
    (the sure one, for an editor that rewrites a file within one timestamp tick)."""

    size: int
    mtime_ns: int
    sha256: str


def file_state(path: Path) -> FileState | None:
    """The file as it is now; None when there is none. Only a regular file of sane size is
    read (check_labelme_file): a FIFO or /dev/zero in its place would never end."""
    if not path.exists():
        return None
    check_labelme_file(path)
    digest = hashlib.sha256()
    try:
        stat = path.stat()
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(path, f"cannot read ({error.strerror or error})") from error
    return FileState(stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def unchanged(path: Path, read: FileState | None) -> bool:
    """Whether `path` still holds what was read (or is still absent)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return read is None
    if read is None:
        return False
    if (stat.st_size, stat.st_mtime_ns) == (read.size, read.mtime_ns):
        return True
    try:
        now = file_state(path)
    except InputError:  # no longer a file we can read: not what we read
        return False
    return now is not None and now.sha256 == read.sha256


@dataclass(frozen=True)
class NotUpdated:
    """A LabelMe file this run left as the user saved it, and why."""

    path: Path
    reason: str


def user_version(
    path: Path,
    *,
    tracked: LabelmeDocument | None,
    frame_index: int,
    width: int,
    height: int,
) -> LabelmeDocument | NotUpdated:
    """The document to merge our masks into, now that the user saved `path` during the run:
    theirs, when its prompts are what was tracked (`tracked`; None for a file that was not
    there); else why we leave it alone."""
    try:
        saved = read_document(path)
        same = _prompts(saved, path=path, frame_index=frame_index, width=width, height=height)
    except (InputError, OSError) as error:
        return NotUpdated(path, f"saved during the run and now unreadable ({error})")
    before = (
        {}
        if tracked is None
        else _prompts(tracked, path=path, frame_index=frame_index, width=width, height=height)
    )
    if same != before:
        return NotUpdated(path, "its prompts changed during the run; track again to use them")
    return saved


def _prompts(
    document: LabelmeDocument, *, path: Path, frame_index: int, width: int, height: int
) -> dict[ObjectKey, str]:
    """What SAM 2 would get from this file: each object's prompt, fingerprinted."""
    prompts = PromptSet()
    add_shapes(
        prompts,
        document["shapes"],
        frame_index=frame_index,
        source=os.fspath(path),
        width=width,
        height=height,
        skipped_types=set(),
    )
    return {key: prompt_fingerprint(frames[frame_index]) for key, frames in prompts.objects.items()}
