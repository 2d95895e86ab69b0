"""A chunk's frames decoded once for every reader, on any thread.

The tracker and each writer read frames on threads of their own (core/stages.py), the writers
a few frames behind the tracker. Each frame is decoded once between them: the frames
decoded last are kept, a frame being decoded is waited for rather than decoded again, and while the
tracker reads forward the next frames are decoded ahead on a thread of their own (PyAV and
Pillow release the GIL while they decode), so the model does not wait for the decoder.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from labelme_sam2.core.frames import ChunkFrames

# The tracker runs at most stages.FRAMES_AHEAD (64) frames ahead of the writers: 72 frames
# keep what it read for them; 1080p frames are 6 MB: 41 fit in KEEP_BYTES, and a writer
# further behind decodes again (a video reader keeps its own recent frames).
KEEP_FRAMES = 72
KEEP_BYTES = 256 * 2**20
READ_AHEAD = 3


class SharedFrames:
    def __init__(
        self,
        frames: ChunkFrames,
        *,
        keep_frames: int = KEEP_FRAMES,
        keep_bytes: int = KEEP_BYTES,
        read_ahead: int = READ_AHEAD,
    ) -> None:
        self._frames = frames
        frame_bytes = max(1, frames.width * frames.height * 3)
        self._capacity = max(2, min(keep_frames, keep_bytes // frame_bytes))
        self._read_ahead = min(read_ahead, self._capacity - 1)
        self._kept: OrderedDict[int, Future[np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self._source = threading.Lock()  # a video decoder is for one thread at a time
        self._furthest = -1  # the furthest frame read: the next one means reading forward
        self._ahead: threading.Thread | None = None

    @property
    def width(self) -> int:
        return self._frames.width

    @property
    def height(self) -> int:
        return self._frames.height

    @property
    def stems(self) -> Sequence[str]:
        return self._frames.stems

    def __len__(self) -> int:
        return len(self._frames)

    def read_rgb(self, index: int) -> np.ndarray:
        """Frame `index` as uint8 height x width x 3, read-only: every reader shares it."""
        if not 0 <= index < len(self._frames):
            raise IndexError(f"frame {index} of {len(self._frames)}")
        with self._lock:
            found, mine = self._claim(index)
            forward = index == self._furthest + 1
            self._furthest = max(self._furthest, index)
        if mine:
            self._decode(index, found)
        if forward:
            self._start_reading_ahead(index + 1)
        return found.result()

    def _claim(self, index: int) -> tuple[Future[np.ndarray], bool]:
        """(the frame's future, whether this caller must decode it); under the lock."""
        found = self._kept.get(index)
        if found is not None:
            # Not moved to the end: the oldest decoded goes first. Writers read each frame
            # after the tracker did; had their reads kept frames, those they had passed would
            # stay and the ones they need next would go (300 frames: 5,306 decodes, not 300).
            return found, False
        found = Future()
        self._kept[index] = found
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)  # whoever waits on it still holds it
        return found, True

    def _decode(self, index: int, future: Future[np.ndarray]) -> None:
        try:
            with self._source:
                rgb = self._frames.read_rgb(index)
            rgb.flags.writeable = False
        except BaseException as error:
            with self._lock:  # not kept: the next read tries again
                if self._kept.get(index) is future:
                    del self._kept[index]
            future.set_exception(error)
            return
        future.set_result(rgb)

    def _start_reading_ahead(self, start: int) -> None:
        with self._lock:
            if self._ahead is not None and self._ahead.is_alive():
                return
            wanted = [
                i
                for i in range(start, min(start + self._read_ahead, len(self._frames)))
                if i not in self._kept
            ]
            claimed = [(i, self._claim(i)[0]) for i in wanted]
            if not claimed:
                return
            self._ahead = threading.Thread(
                target=self._decode_all, args=(claimed,), name="decode-ahead", daemon=True
            )
            self._ahead.start()

    def _decode_all(self, claimed: list[tuple[int, Future[np.ndarray]]]) -> None:
        for index, future in claimed:
            self._decode(index, future)  # an error waits in the future for its reader
