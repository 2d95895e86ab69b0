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

import bisect
import contextlib
import io
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from labelme_sam2.errors import InputError, UserError
from labelme_sam2.formats.atomic import write_atomically
from labelme_sam2.video.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    Manifest,
    ManifestChunk,
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


def _no_warning(message: str) -> None:
    del message


@dataclass(frozen=True)
class Selection:
    """The source frames to extract, and the range of the video that --start/--end covers."""

    frames: tuple[int, ...]
    range_start: int
    range_stop: int


@dataclass(frozen=True)
class FolderPlan:
    """One output folder: its source frames, in order, and its chunk (None when unchunked)."""

    path: Path
    frames: tuple[int, ...]
    chunk: ManifestChunk | None


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
    video: Path,
    *,
    out: Path | None = None,
    start: float | None = None,
    end: float | None = None,
    every: int | None = None,
    fps: float | None = None,
    chunk_seconds: float | None = None,
    image_format: ImageFormat = "jpg",
    quality: int = DEFAULT_QUALITY,
    warn: Callable[[str], None] = _no_warning,
) -> ExtractSummary:
    """Write the chosen frames of `video` into `out` (default: the video's path without suffix).

    Raises UserError (InputError for the video) with one line for anything the user can fix:
    bad options, an unreadable or truncated video (naming the frame), an output folder that
    holds other files, a write that fails.
    """
    began = time.monotonic()
    video = Path(video)
    _check_options(
        start=start, end=end, every=every, fps=fps, chunk_seconds=chunk_seconds, quality=quality
    )
    if out is None:
        out = video.with_suffix("")
        if out == video:
            raise UserError(
                video, "has no file extension to drop for the output folder; give --out"
            )
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


def _exact(seconds: float) -> Fraction:
    # The decimal the user typed, exactly: Fraction(0.1) would be 0.1000000000000000055...,
    # which moves a frame that sits exactly on a boundary to the wrong side.
    return Fraction(str(seconds))


def select_frames(
    info: VideoInfo,
    *,
    start: float | None = None,
    end: float | None = None,
    every: int | None = None,
    fps: float | None = None,
    warn: Callable[[str], None] = _no_warning,
) -> Selection:
    """Source frames with a timestamp in [start, end), then every Nth of them or about F a second.

    --fps picks by timestamp: the first frame at or after each multiple of 1/F from the first
    chosen frame (within half a source frame), so no frame is taken twice and gaps in a
    variable-rate video stay gaps. At or above the video's average rate every frame is kept
    (and a warning says so when above): frames are never duplicated to reach a rate.
    """
    first = info.pts[0]
    offsets = [value - first for value in info.pts]
    low = Fraction(0) if start is None else _exact(start)
    # A frame at offset o (in time_base units) is in range when o * time_base >= low, that is
    # o >= ceil(low / time_base); likewise for the exclusive end.
    range_start = bisect.bisect_left(offsets, math.ceil(low / info.time_base))
    range_stop = info.frame_count
    if end is not None:
        range_stop = bisect.bisect_left(offsets, math.ceil(_exact(end) / info.time_base))
    if range_start >= info.frame_count:
        raise InputError(
            info.path,
            f"--start {start} s is at or after the end of the video, which is "
            f"{info.duration:.3f} s long",
        )
    if range_start >= range_stop:
        raise InputError(info.path, f"no frame from --start {start or 0} s to before --end {end} s")
    in_range = range(range_start, range_stop)
    chosen: Sequence[int] = in_range
    if every is not None:
        chosen = in_range[::every]
    elif fps is not None:
        chosen = _pick_by_rate(info, in_range, _exact(fps), warn=warn, requested=fps)
    return Selection(frames=tuple(chosen), range_start=range_start, range_stop=range_stop)


def _pick_by_rate(
    info: VideoInfo,
    candidates: range,
    rate: Fraction,
    *,
    warn: Callable[[str], None],
    requested: float,
) -> Sequence[int]:
    if rate >= info.fps_exact:
        if rate > info.fps_exact:
            warn(f"--fps {requested} is above the video's {info.fps:.3f} fps; keeping every frame")
        return candidates
    interval = 1 / rate
    # Half a source frame of slack: at F = source/2 exactly every other frame is kept even
    # though container timestamps are rounded.
    slack = 1 / (2 * info.fps_exact)
    kept: list[int] = []
    target = info.exact_time(candidates[0])
    for index in candidates:
        time_ = info.exact_time(index)
        if time_ >= target - slack:
            kept.append(index)
            # The next step after this frame (a gap in a variable-rate video skips steps).
            target += (math.floor((time_ + slack - target) / interval) + 1) * interval
    return kept


def plan_folders(
    info: VideoInfo,
    frames: Sequence[int],
    *,
    out: Path,
    chunk_seconds: float | None = None,
    start: float | None = None,
) -> list[FolderPlan]:
    """One folder, or consecutive chunk folders of `chunk_seconds` of source time from --start.

    Chunk folders are named NNN_fFIRST-LAST: the 1-based chunk number (3 digits or more) and
    the first and last source frame in it (6 digits or more). Stretches without a kept frame
    (a long gap in a variable-rate video) get no folder and no number.
    """
    if chunk_seconds is None:
        return [FolderPlan(path=out, frames=tuple(frames), chunk=None)]
    size = _exact(chunk_seconds)
    origin = Fraction(0) if start is None else _exact(start)
    slots: dict[int, list[int]] = {}
    for index in frames:
        slot = math.floor((info.exact_time(index) - origin) / size)
        slots.setdefault(slot, []).append(index)
    count = len(slots)
    number_width = max(3, len(str(count)))
    frame_width = max(6, len(str(info.frame_count - 1)))
    plans = []
    for number, (slot, members) in enumerate(slots.items(), start=1):
        name = (
            f"{number:0{number_width}d}_f{members[0]:0{frame_width}d}-{members[-1]:0{frame_width}d}"
        )
        chunk = ManifestChunk(
            number=number,
            count=count,
            start_seconds=float(origin + slot * size),
            end_seconds=float(origin + (slot + 1) * size),
        )
        plans.append(FolderPlan(path=out / name, frames=tuple(members), chunk=chunk))
    return plans


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
    buffer = io.BytesIO()
    image = Image.fromarray(rgb)
    if image_format == "jpg":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        # Lossless at any level; level 1 is 3-4x faster than the default 6 and ~5% larger.
        image.save(buffer, format="PNG", compress_level=1)
    write_atomically(path, buffer.getvalue())


def _write_folders(
    frames: VideoFrames,
    plan: list[FolderPlan],
    kept: Sequence[int],
    *,
    image_format: ImageFormat,
    quality: int,
    last_complete: bool,
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
        manifest = Manifest(
            format=MANIFEST_FORMAT,
            version=MANIFEST_VERSION,
            complete=complete,
            source=source,
            chunk=plan[number].chunk,
            frames=written[number],
        )
        write_manifest(plan[number].path, manifest)

    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool,
        tqdm(total=len(kept), unit="frame", desc="extracting", disable=None) as bar,
    ):

        def collect(limit: int) -> None:
            while len(pending) > limit:
                number, entry, future = pending.popleft()
                future.result()  # write_atomically's OutputError names the file
                written[number].append(entry)
                bar.update()

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
