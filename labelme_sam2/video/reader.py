"""A video file as frames: pictures decoded on demand, cheap in order either way.

A frame is known by its presentation timestamp (video/probe.py): decoders reorder B-frames and
seeks land on keyframes, so counting pictures after a seek would drift; matching pts never does.
"""

from __future__ import annotations

import bisect
import operator
from collections import OrderedDict
from collections.abc import Collection, Generator, Iterator
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np
from av.video.frame import VideoFrame

from labelme_sam2.errors import InputError
from labelme_sam2.video.probe import VideoInfo, frame_stem, open_container, probe_video, reason

# What one seek costs, in decoded frames (demuxer reposition, decoder flush and threads refill):
# going on decoding is preferred over a seek that would save fewer frames than this.
_SEEK_COST = 8


class _Overshoot(Exception):
    """A seek landed after the keyframe it was asked for."""


class _Decoder:
    """One open decoder that hands out frames by index, in presentation order.

    After `seek_keyframe(k)` the next frame out is k; after that, k+1, k+2 ... A picture the
    decoder skips, cannot decode or never produces (the file ends) raises InputError naming
    the first frame not handed out.
    """

    def __init__(self, info: VideoInfo, index_of: dict[int, int]) -> None:
        self._info = info
        self._index_of = index_of
        self._container = open_container(info.path)
        self._stream = self._container.streams.video[info.video_stream]
        # Frame threads decode several pictures at once: faster on a multi-core machine.
        self._stream.thread_type = "AUTO"
        self.next_index = 0
        self._fresh_seek = False
        self._held: tuple[int, VideoFrame] | None = None
        self._frames = self._decode()

    def close(self) -> None:
        self._frames.close()
        self._container.close()

    def seek_keyframe(self, index: int) -> None:
        """Go to the keyframe at or before `index`; the next frame out is that keyframe."""
        keyframes = self._info.keyframes
        position = bisect.bisect_right(keyframes, index) - 1
        # A demuxer that seeks by decode time can land on the keyframe after the one asked
        # for; then the keyframe before it, then the very start, are tried.
        candidates = dict.fromkeys([keyframes[position], keyframes[max(position - 1, 0)], 0])
        for keyframe in candidates:
            self._frames.close()
            self._container.seek(
                self._info.pts[keyframe], stream=self._stream, backward=True, any_frame=False
            )
            self._frames = self._decode()
            self.next_index = keyframe
            self._fresh_seek = True
            try:
                self._held = self.next_frame()
            except _Overshoot:
                continue
            self.next_index = keyframe
            return
        raise InputError(self._info.path, f"frame {index}: seeking cannot reach this frame")

    def next_frame(self) -> tuple[int, VideoFrame]:
        """The frame `next_index`, decoded; pictures before it (from a seek) are skipped."""
        if self._held is not None:
            held, self._held = self._held, None
            self.next_index = held[0] + 1
            return held
        for index, frame in self._frames:
            if index < self.next_index:
                # Pictures between the keyframe a seek landed on and the one asked for, or
                # leading pictures of an open GOP that reference the previous one.
                continue
            if index > self.next_index:
                if self._fresh_seek:
                    raise _Overshoot
                raise InputError(
                    self._info.path,
                    f"frame {self.next_index}: the decoder gives no picture for it (damaged file?)",
                )
            self._fresh_seek = False
            self.next_index = index + 1
            return index, frame
        raise InputError(
            self._info.path,
            f"frame {self.next_index}: the video ends before this frame (truncated copy?)",
        )

    def _decode(self) -> Generator[tuple[int, VideoFrame], None, None]:
        path = self._info.path
        try:
            for packet in self._container.demux(self._stream):
                if packet.is_corrupt:
                    # Data cut off mid-picture: decoding would fail or hide the gap with junk.
                    raise InputError(
                        path,
                        f"frame {self.next_index}: the file's data stops or is damaged here "
                        "(truncated copy?)",
                    )
                if packet.size == 0 and packet.pts is not None:
                    continue  # an AVI "dropped frame": sending it would end the decoding
                for frame in packet.decode():
                    index = self._index_of.get(frame.pts) if frame.pts is not None else None
                    if index is None:
                        raise InputError(
                            path,
                            f"frame {self.next_index}: the decoder gives a picture with "
                            f"timestamp {frame.pts}, which no packet has",
                        )
                    if frame.width != self._info.width or frame.height != self._info.height:
                        raise InputError(
                            path,
                            f"frame {index}: is {frame.width}x{frame.height} but the video "
                            f"starts at {self._info.width}x{self._info.height}",
                        )
                    yield index, frame
        except av.error.FFmpegError as error:
            raise InputError(
                path, f"frame {self.next_index}: cannot decode ({reason(error)})"
            ) from error


def _to_rgb(frame: VideoFrame) -> np.ndarray:
    # PyAV converts with the frame's own colour matrix (BT.709 for HD) into a fresh array.
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))


class VideoFrames:
    """A video file as `Frames` (labelme_sam2.core.frames): frame i in presentation order.

    Reading in order, forward or backward, is cheap. Forward reads go on with the open decoder.
    A read before the decoder's position seeks to a keyframe and decodes forward up to the
    frame, keeping the last frames on the way (at most `cache_frames`, and `cache_bytes` of
    pixels: 96 frames of 720p, 41 of 1080p) so the frames before it come from memory: a
    backward pass decodes each stretch once per cache-full instead of once per frame. The
    whole video is never held. `info`, when given, is a probe of `path` already made. Not for
    use from several threads at once.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        info: VideoInfo | None = None,
        cache_frames: int = 96,
        cache_bytes: int = 256 * 2**20,
    ) -> None:
        self.info = info if info is not None else probe_video(path)
        self._index_of = {value: i for i, value in enumerate(self.info.pts)}
        frame_bytes = self.info.width * self.info.height * 3
        self._capacity = max(1, min(cache_frames, cache_bytes // frame_bytes))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._decoder: _Decoder | None = None
        self._stems: tuple[str, ...] | None = None

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def stems(self) -> tuple[str, ...]:
        if self._stems is None:
            count = len(self)
            self._stems = tuple(frame_stem(i, count) for i in range(count))
        return self._stems

    def __len__(self) -> int:
        return self.info.frame_count

    @property
    def cache_capacity(self) -> int:
        """Decoded frames kept at most: `cache_frames`, fewer when `cache_bytes` says so."""
        return self._capacity

    def read_rgb(self, index: int) -> np.ndarray:
        """Frame `index` as uint8 height x width x 3 (read-only: it may be shared)."""
        index = operator.index(index)
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} of {len(self)}")
        cached = self._cache.get(index)
        if cached is None:
            self._decode_up_to(index)
            cached = self._cache[index]
        self._cache.move_to_end(index)
        return cached

    def iter_rgb(
        self, start: int = 0, stop: int | None = None, *, only: Collection[int] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(index, rgb) of frames start .. stop-1 in order, from one forward decode.

        `only` limits which of them are converted and yielded (the rest are decoded, as they
        must be, but skip the colour conversion). Uses its own decoder: read_rgb's position and
        cache are left alone.
        """
        stop = len(self) if stop is None else stop
        if not 0 <= start <= stop <= len(self):
            raise IndexError(f"frames {start}..{stop} of {len(self)}")
        if start == stop:
            return
        decoder = _Decoder(self.info, self._index_of)
        try:
            if start > 0:
                decoder.seek_keyframe(start)
            while True:
                index, frame = decoder.next_frame()
                if index >= start and (only is None or index in only):
                    yield index, _to_rgb(frame)
                if index >= stop - 1:
                    return
        finally:
            decoder.close()

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._cache.clear()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _decode_up_to(self, index: int) -> None:
        keyframes = self.info.keyframes
        keyframe = keyframes[bisect.bisect_right(keyframes, index) - 1]
        decoder = self._decoder
        if (
            decoder is not None
            and decoder.next_index <= index
            and keyframe <= decoder.next_index + _SEEK_COST
        ):
            # No keyframe after the decoder's position is worth seeking to: go on decoding.
            keep_from = max(decoder.next_index, index - self._capacity + 1)
        else:
            backward = decoder is not None and index < decoder.next_index
            start = self._block_start(index, keyframe) if backward else keyframe
            try:
                if decoder is None:
                    decoder = self._decoder = _Decoder(self.info, self._index_of)
                if start > 0 or decoder.next_index > 0:
                    decoder.seek_keyframe(start)
            except BaseException:
                self.close()
                raise
            keep_from = max(start, index - self._capacity + 1)
        try:
            while True:
                found, frame = decoder.next_frame()
                if found >= keep_from:
                    self._remember(found, _to_rgb(frame))
                if found >= index:
                    return
        except BaseException:
            # The decoder's state is unknown now: the next read starts afresh.
            self.close()
            raise

    def _block_start(self, index: int, keyframe: int) -> int:
        """Where to start decoding for a backward read: a keyframe, chosen per frame served.

        Starting at the keyframe before `index` serves the frames from it to `index`; starting
        at the keyframe before `index - capacity + 1` serves a full cache of frames, and costs
        more only when keyframes are close together. The cheaper per frame served wins.
        """
        first = max(0, index - self._capacity + 1)
        keyframes = self.info.keyframes
        earlier = keyframes[bisect.bisect_right(keyframes, first) - 1]
        near_cost = (index - keyframe + 1 + _SEEK_COST) / (index - max(keyframe, first) + 1)
        far_cost = (index - earlier + 1 + _SEEK_COST) / (index - first + 1)
        return earlier if far_cost <= near_cost else keyframe

    def _remember(self, index: int, rgb: np.ndarray) -> None:
        rgb.flags.writeable = False
        self._cache[index] = rgb
        self._cache.move_to_end(index)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
