"""Which source frames `extract` takes, and into which folders (chunks by source time).

Times are exact fractions of the stream's time base: a frame sitting exactly on a --start,
--end or chunk boundary always lands on the same side.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from labelme_sam2.errors import InputError
from labelme_sam2.video.manifest import ManifestChunk
from labelme_sam2.video.probe import VideoInfo


def no_warning(message: str) -> None:
    del message


@dataclass(frozen=True)
class Selection:
    """The source frames to extract, and where the range that --start/--end covers stops
    (the frame count when it runs to the end)."""

    frames: tuple[int, ...]
    range_stop: int


@dataclass(frozen=True)
class FolderPlan:
    """One output folder: its source frames, in order, and its chunk (None when unchunked)."""

    path: Path
    frames: tuple[int, ...]
    chunk: ManifestChunk | None


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
    warn: Callable[[str], None] = no_warning,
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
    return Selection(frames=tuple(chosen), range_stop=range_stop)


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
