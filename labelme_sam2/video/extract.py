"""`labelme-sam2 extract VIDEO`: a video's frames as numbered images in frame folders.

Each output folder holds 00000.jpg, 00001.jpg ... (numbering restarts in each chunk folder)
and a manifest.json (labelme_sam2.video.manifest) that maps every file back to its source
frame number and timestamp, so results on the frames map back to the video's time.

Every frame file and manifest is written through a temp file and a rename: a crash or a full
disk never leaves half a file. A folder's manifest is written first as a claim (complete:
false, no frames), then finally after its frames (complete: true). When the extract stops on
an error (a truncated video, a full disk, Ctrl-C) the folder being written keeps the frames
written so far, all whole, and its manifest lists exactly those (complete: false); a re-run
into the same place is allowed and rewrites.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from labelme_sam2.errors import InputError, UserError, Warn, log_warning
from labelme_sam2.formats.atomic import sync_to_disk, write_atomically
from labelme_sam2.formats.images import image_bytes
from labelme_sam2.video.frame_selection import (
    FolderPlan,
    plan_folders,
    select_frames,
)
from labelme_sam2.video.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    Manifest,
    ManifestFrame,
    ManifestSource,
    read_manifest,
    write_manifest,
)
from labelme_sam2.video.probe import VideoInfo, frame_stem, probe_video
from labelme_sam2.video.reader import VideoFrames

ImageFormat = Literal["jpg", "png"]
DEFAULT_QUALITY = 95

# Temp files that write_atomically leaves only when the process is killed mid-write.
_LEFTOVER_TEMP = re.compile(r"^\.(\d+\.(jpg|png)|manifest\.json)\..+\.tmp$")


@dataclass(frozen=True)
class ExtractSummary:
    frames: int
    folders: tuple[Path, ...]
    seconds: float
    out: Path

    def line(self) -> str:
        frames = "1 frame" if self.frames == 1 else f"{self.frames} frames"
        folders = "1 folder" if len(self.folders) == 1 else f"{len(self.folders)} folders"
        return f"extracted {frames} into {folders} in {self.seconds:.1f} s: {self.out}"


def extract_video(
    video: Path | str,
    *,
    out: Path | str | None = None,
    start: float | None = None,
    end: float | None = None,
    every: int | None = None,
    fps: float | None = None,
    chunk_seconds: float | None = None,
    image_format: ImageFormat = "jpg",
    quality: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    warn: Warn = log_warning,
) -> ExtractSummary:
    """Write the chosen frames of `video` as 00000.jpg ... and manifest.json into `out`
    (default: the video's path without its extension), or into chunk folders of
    `chunk_seconds` each. `quality`: JPEG quality, 1 to 100 (default 95). `on_progress(done,
    total)` runs after each frame file is written, in frame order.

    Raises UserError (InputError for the video) with one line for anything the user can fix:
    bad options, an unreadable or truncated video (naming the frame), an output folder that
    holds other files, a write that fails.
    """
    began = time.monotonic()
    video = Path(video)
    if quality is not None and image_format != "jpg":
        warn(f"--quality applies to jpg only; {image_format} is lossless")
    quality = DEFAULT_QUALITY if quality is None else quality
    _check_options(
        start=start, end=end, every=every, fps=fps, chunk_seconds=chunk_seconds, quality=quality
    )
    if out is None:
        out = video.with_suffix("")
        if out == video:
            raise UserError(
                video, "has no file extension to drop for the output folder; give --out"
            )
    out = Path(out)
    info = probe_video(video)
    selection = select_frames(info, start=start, end=end, every=every, fps=fps, warn=warn)
    plan = plan_folders(info, selection.frames, out=out, chunk_seconds=chunk_seconds, start=start)
    previous = _check_output(out, info, plan)
    _remove_stale(previous, plan, image_format=image_format, warn=warn)
    # A video cut short holds fewer frames than its header lists: when the extract runs to the
    # end of what is there, it still stops with an error naming the first missing frame.
    truncated_tail = info.problem is not None and selection.range_stop == info.frame_count
    with VideoFrames(video, info=info) as frames:
        _write_folders(
            frames,
            plan,
            selection.frames,
            image_format=image_format,
            quality=quality,
            last_complete=not truncated_tail,
            on_progress=on_progress or (lambda done, total: None),
        )
    if truncated_tail:
        info.check_complete()
    return ExtractSummary(
        frames=len(selection.frames),
        folders=tuple(folder.path for folder in plan),
        seconds=time.monotonic() - began,
        out=out,
    )


def _check_options(
    *,
    start: float | None,
    end: float | None,
    every: int | None,
    fps: float | None,
    chunk_seconds: float | None,
    quality: int,
) -> None:
    for name, value in (("--start", start), ("--end", end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UserError(name, f"must be 0 or more seconds, not {value}")
    if start is not None and end is not None and end <= start:
        raise UserError("--end", f"{end} s must be after --start {start} s")
    if every is not None and fps is not None:
        raise UserError("--every", "goes with --fps only one at a time")
    if every is not None and every < 1:
        raise UserError("--every", f"must be 1 or more, not {every}")
    for name, value in (("--fps", fps), ("--chunk-seconds", chunk_seconds)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserError(name, f"must be more than 0, not {value}")
    if not 1 <= quality <= 100:
        raise UserError("--quality", f"must be from 1 to 100, not {quality}")


def _source(info: VideoInfo) -> ManifestSource:
    return ManifestSource(
        path=str(info.path.resolve()),
        name=info.path.name,
        fps=info.fps,
        fps_exact=str(info.fps_exact),
        frame_count=info.frame_count,
        width=info.width,
        height=info.height,
    )


def _same_source(manifest: Manifest, info: VideoInfo) -> bool:
    """An earlier extract of this video: same file name, frame count and size.

    The path is not compared, so a moved or copied video still matches its old folders.
    """
    source = manifest["source"]
    return (source["name"], source["frame_count"], source["width"], source["height"]) == (
        info.path.name,
        info.frame_count,
        info.width,
        info.height,
    )


def _manifest_of(folder: Path) -> Manifest | None:
    try:
        return read_manifest(folder / MANIFEST_NAME)
    except InputError:
        return None


def _visible(folder: Path) -> list[Path]:
    # Hidden files (.DS_Store, our own temp leftovers) do not make a folder "not empty".
    return [entry for entry in folder.iterdir() if not entry.name.startswith(".")]


def _refusal(folder: Path, info: VideoInfo) -> UserError:
    manifest = _manifest_of(folder)
    if manifest is not None:
        problem = f"holds frames extracted from {manifest['source']['name']}, not {info.path.name}"
    else:
        problem = f"is not empty and is no extract of {info.path.name} (no {MANIFEST_NAME} of it)"
    return UserError(folder, f"{problem}; choose another --out or empty it")


def _check_output(out: Path, info: VideoInfo, plan: list[FolderPlan]) -> dict[Path, Manifest]:
    """Refuse folders that hold anything but an earlier extract of this video; return those."""
    if out.exists() and not out.is_dir():
        raise UserError(out, "exists and is not a folder; choose another --out")
    previous: dict[Path, Manifest] = {}
    if out.is_dir():
        entries = _visible(out)
        root = _manifest_of(out)
        if root is not None and _same_source(root, info):
            previous[out] = root
        ours_below = True
        for entry in entries:
            manifest = _manifest_of(entry) if entry.is_dir() else None
            if manifest is not None and _same_source(manifest, info):
                previous[entry] = manifest
            else:
                ours_below = False
        # Fine: empty, an unchunked extract (its manifest at the top), or chunk folders only.
        if entries and out not in previous and not ours_below:
            raise _refusal(out, info)
    for folder in plan:
        if folder.path.is_dir() and folder.path not in previous and _visible(folder.path):
            raise _refusal(folder.path, info)
    return previous


def _frame_names(folder: FolderPlan, image_format: ImageFormat) -> list[str]:
    count = len(folder.frames)
    return [f"{frame_stem(i, count)}.{image_format}" for i in range(count)]


def _remove_stale(
    previous: dict[Path, Manifest],
    plan: list[FolderPlan],
    *,
    image_format: ImageFormat,
    warn: Callable[[str], None],
) -> None:
    """Delete frames an earlier extract of this video wrote that this one will not rewrite.

    Only files its manifest lists go (LabelMe files a user added beside the frames stay), and
    before writing starts, so that a folder never mixes frames of two runs even when this one
    fails half-way.
    """
    planned = {folder.path: folder for folder in plan}
    for folder, manifest in previous.items():
        new = planned.get(folder)
        keep = set(_frame_names(new, image_format)) if new is not None else set()
        for frame in manifest["frames"]:
            if frame["file"] not in keep:
                _remove(folder / frame["file"])
        if new is not None:
            continue
        if [entry for entry in _visible(folder) if entry.name != MANIFEST_NAME]:
            # Files someone added: keep the folder, still marked as this video's, listing none.
            write_manifest(folder, {**manifest, "complete": False, "frames": []})
            warn(f"{folder}: kept, without frames: it holds files that this extract did not write")
        else:
            _remove(folder / MANIFEST_NAME)
            with contextlib.suppress(OSError):
                folder.rmdir()
    for planned_folder in plan:
        if planned_folder.path.is_dir():
            for entry in planned_folder.path.iterdir():
                if _LEFTOVER_TEMP.match(entry.name):
                    _remove(entry)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise UserError(path, f"cannot remove the old frame file ({_reason(error)})") from error


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _write_frame(path: Path, rgb: np.ndarray, image_format: ImageFormat, quality: int) -> None:
    if image_format == "jpg":
        data = image_bytes(rgb, kind="JPEG", quality=quality)
    else:
        # Lossless at any level; level 1 is 3-4x faster than the default 6 and ~5% larger.
        data = image_bytes(rgb, compress_level=1)
    # Not synced one by one (a disk flush per frame): save() syncs once before the manifest
    # that lists the frames.
    write_atomically(path, data, durable=False)


def _write_folders(
    frames: VideoFrames,
    plan: list[FolderPlan],
    kept: Sequence[int],
    *,
    image_format: ImageFormat,
    quality: int,
    last_complete: bool,
    on_progress: Callable[[int, int], None],
) -> None:
    """Decode once, forward; encode and write in worker threads (PIL and zlib let go of the GIL).

    Writes are collected in frame order, so the first failure by frame order is the one
    reported; on any error the writes in flight finish, and the manifest of the folder being
    written lists the frames that are whole on disk.
    """
    info = frames.info
    source = _source(info)
    where: dict[int, tuple[int, str]] = {}
    for number, folder in enumerate(plan):
        for index, name in zip(folder.frames, _frame_names(folder, image_format), strict=True):
            where[index] = (number, name)
    written: list[list[ManifestFrame]] = [[] for _ in plan]
    pending: deque[tuple[int, ManifestFrame, Future[None]]] = deque()
    workers = min(4, os.cpu_count() or 1)
    current = -1

    def save(number: int, *, complete: bool) -> None:
        if written[number]:  # on disk before the manifest that vouches for them
            sync_to_disk([plan[number].path / entry["file"] for entry in written[number]])
        manifest = Manifest(
            format=MANIFEST_FORMAT,
            version=MANIFEST_VERSION,
            complete=complete,
            source=source,
            chunk=plan[number].chunk,
            frames=written[number],
        )
        write_manifest(plan[number].path, manifest)

    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:

        def collect(limit: int) -> None:
            nonlocal done
            while len(pending) > limit:
                number, entry, future = pending.popleft()
                future.result()  # write_atomically's OutputError names the file
                written[number].append(entry)
                done += 1
                on_progress(done, len(kept))

        try:
            for index, rgb in frames.iter_rgb(kept[0], kept[-1] + 1, only=set(kept)):
                number, name = where[index]
                if number != current:
                    if current >= 0:
                        collect(0)
                        save(current, complete=True)
                    current = number
                    try:
                        plan[number].path.mkdir(parents=True, exist_ok=True)
                    except OSError as error:
                        raise UserError(
                            plan[number].path, f"cannot create ({_reason(error)})"
                        ) from error
                    save(number, complete=False)  # claims the folder for this video
                path = plan[number].path / name
                entry = ManifestFrame(
                    file=name, source_frame=index, timestamp=info.timestamps[index]
                )
                future = pool.submit(_write_frame, path, rgb, image_format, quality)
                pending.append((number, entry, future))
                collect(2 * workers)
            collect(0)
            save(current, complete=last_complete)
        except BaseException:
            for number, entry, future in pending:
                if future.exception() is None:
                    written[number].append(entry)
            pending.clear()
            if current >= 0:
                with contextlib.suppress(UserError):
                    save(current, complete=False)
            raise
