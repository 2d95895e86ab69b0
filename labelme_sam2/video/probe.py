"""What a video file holds, from its packets alone: exact frame count, rate, size, timestamps.

Frames are numbered 0, 1, 2 ... in presentation order, and a frame is known by its
presentation timestamp (pts): frame i is the picture whose pts is the i-th smallest of the
stream's packets. Demuxing without decoding is fast (about 30 ms for a 300-frame clip).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.video.stream import VideoStream

from labelme_sam2.errors import InputError

# Demuxers that open still images as one-frame "videos": such a file is a picture, not a clip.
_IMAGE_DEMUXERS = ("image2", "_pipe")


def stem_width(count: int) -> int:
    """Digits in the frame file names of `count` frames: 5, or more when the count needs them."""
    return max(5, len(str(max(count - 1, 0))))


def frame_stem(index: int, count: int) -> str:
    """00000, 00001 ... for frame `index` of `count`; the same rule as extract's file names."""
    return f"{index:0{stem_width(count)}d}"


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds, read from its packets without decoding a picture."""

    path: Path
    frame_count: int
    fps: float
    """Average frame rate; for a variable-rate video the timestamps are the truth."""
    fps_exact: Fraction
    width: int
    height: int
    timestamps: tuple[float, ...] = field(repr=False)
    """Presentation time of each frame in seconds, from the first frame (0.0), increasing."""
    time_base: Fraction = field(repr=False)
    pts: tuple[int, ...] = field(repr=False)
    """Presentation timestamps of the frames in `time_base` units, sorted."""
    keyframes: tuple[int, ...] = field(repr=False)
    """Indices of the frames that decoding can start from (seek points); always has 0."""
    declared_frame_count: int = field(repr=False)
    """Frames an MP4/MOV header lists (0 for other containers, which do not say exactly)."""
    video_stream: int = field(repr=False)
    """Position of the stream in the container's video streams."""
    problem: str | None = field(default=None, repr=False)
    """Why the file has no frames after the last one probed (a truncated copy), or None.

    Damage inside the frames that are there shows when they are decoded."""

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        return float(self.end_time)

    @property
    def end_time(self) -> Fraction:
        last = self.exact_time(self.frame_count - 1)
        if self.frame_count > 1:
            # The last frame lasts as long as the average one.
            return last + (last / (self.frame_count - 1))
        return last + 1 / self.fps_exact

    def exact_time(self, index: int) -> Fraction:
        """Frame `index`'s time in seconds from the first frame, exactly."""
        return (self.pts[index] - self.pts[0]) * self.time_base

    def check_complete(self) -> None:
        """Raise if the file ends before the frames its header lists (a truncated copy)."""
        if self.problem is not None:
            raise InputError(self.path, f"frame {self.frame_count}: {self.problem}")


def probe_video(path: Path | str) -> VideoInfo:
    """Frame count, rate, size and per-frame timestamps of the first video stream.

    Only packets are read (about 30 ms for a 10 s 720p clip): their sorted pts give an exact
    count and the presentation order even with B-frames or a variable frame rate, where the
    container's own frame count or duration x rate can be wrong or missing.

    A copy that was cut short probes fine up to where its data stops: `problem` says so, and
    decoding (a picture cut in half) or `check_complete` (the frames after it) names the first
    frame that is missing.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such video file")
    if not path.is_file():
        raise InputError(path, "not a video file")
    with open_container(path) as container:
        stream, video_stream = _video_stream(container, path)
        time_base = stream.time_base
        if time_base is None or time_base <= 0:
            raise InputError(path, "the video stream has no time base; cannot order its frames")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InputError(path, "the video stream has no picture size")
        pts: list[int] = []
        keyframe_pts: list[int] = []
        packets = 0
        problem: str | None = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    # PyAV's end-of-stream marker, or an AVI "dropped frame": no picture.
                    if packet.pts is not None:
                        packets += 1
                    continue
                packets += 1
                if packet.is_discard:
                    continue  # cut by an edit list: the decoder drops it too
                if packet.pts is None:
                    raise InputError(
                        path,
                        "its packets have no timestamps (a raw stream?); remux it first, "
                        "e.g. ffmpeg -i VIDEO -c copy VIDEO.mp4",
                    )
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframe_pts.append(packet.pts)
        except av.error.FFmpegError as error:
            if not pts:
                raise InputError(path, f"cannot read the video ({reason(error)})") from error
            # Keep what could be read: the frames before the error are still good.
            problem = f"reading the file stops here with an error ({reason(error)})"
        # Only MP4/MOV headers count samples exactly (AVI's counts time ticks, MKV has none).
        exact_header = any(name in container.format.name for name in ("mp4", "mov"))
        declared = max(stream.frames, 0) if exact_header else 0
        rates = (stream.average_rate, stream.guessed_rate)
    if not pts:
        raise InputError(path, "the video stream has no frames")
    pts.sort()
    for a, b in itertools.pairwise(pts):
        if a == b:
            raise InputError(path, f"two frames share the timestamp {a}; cannot order them")
    if problem is None and declared > packets:
        problem = (
            f"the file ends after {len(pts)} frames but its header lists {declared} "
            "(truncated copy?)"
        )
    index_of = {value: i for i, value in enumerate(pts)}
    keyframes = sorted({0} | {index_of[value] for value in keyframe_pts})
    timestamps = tuple(float((value - pts[0]) * time_base) for value in pts)
    fps_exact = _frame_rate(rates, pts, time_base)
    return VideoInfo(
        path=path,
        frame_count=len(pts),
        fps=float(fps_exact),
        fps_exact=fps_exact,
        width=width,
        height=height,
        timestamps=timestamps,
        time_base=time_base,
        pts=tuple(pts),
        keyframes=tuple(keyframes),
        declared_frame_count=declared,
        video_stream=video_stream,
        problem=problem,
    )


def _frame_rate(
    rates: tuple[Fraction | None, ...], pts: list[int], time_base: Fraction
) -> Fraction:
    for rate in rates:
        if rate is not None and rate > 0:
            return Fraction(rate)
    span = (pts[-1] - pts[0]) * time_base
    if len(pts) > 1 and span > 0:
        return (len(pts) - 1) / span
    return Fraction(1)  # one frame and no rate: any rate describes it


def open_container(path: Path) -> InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise InputError(path, f"not a video that can be read ({reason(error)})") from error


def _video_stream(container: InputContainer, path: Path) -> tuple[VideoStream, int]:
    if any(part in container.format.name for part in _IMAGE_DEMUXERS):
        raise InputError(path, "a still image, not a video")
    for position, stream in enumerate(container.streams.video):
        # Cover art in audio files shows up as a one-picture video stream.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream, position
    raise InputError(path, "no video stream in the file")


def reason(error: av.error.FFmpegError) -> str:
    return str(error.strerror or error).strip()
