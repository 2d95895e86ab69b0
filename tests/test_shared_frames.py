"""core/shared_frames.py: each frame decoded once for the tracker and every writer, on any
thread; the next frames decoded ahead while reading forward; a bounded number kept."""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np
import pytest

from labelme_sam2.core.shared_frames import SharedFrames


class CountingFrames:
    """Frames whose decode is slow and counted; frame `broken` does not decode."""

    width, height = 8, 4

    def __init__(self, count: int, *, broken: int | None = None, seconds: float = 0.01) -> None:
        self.count, self.broken, self.seconds = count, broken, seconds
        self.decoded: Counter[int] = Counter()
        self.inside = 0  # decodes running at once: must never be more than one
        self.most_inside = 0

    @property
    def stems(self) -> list[str]:
        return [f"{i:05d}" for i in range(self.count)]

    def __len__(self) -> int:
        return self.count

    def read_rgb(self, index: int) -> np.ndarray:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        time.sleep(self.seconds)
        self.inside -= 1
        self.decoded[index] += 1
        if index == self.broken:
            raise OSError(f"frame {index} is broken")
        return np.full((self.height, self.width, 3), index % 256, dtype=np.uint8)


def test_readers_on_several_threads_share_each_decode():
    source = CountingFrames(30)
    shared = SharedFrames(source, keep_frames=40, read_ahead=0)

    def reader() -> None:
        for i in range(30):
            assert shared.read_rgb(i)[0, 0, 0] == i

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert source.decoded == Counter(range(30)) and source.most_inside == 1
    with pytest.raises(ValueError):
        shared.read_rgb(3)[0, 0, 0] = 9  # shared, so read-only


def test_reading_forward_decodes_the_next_frames_ahead():
    source = CountingFrames(10, seconds=0.05)
    shared = SharedFrames(source, read_ahead=3)
    shared.read_rgb(0)
    deadline = time.monotonic() + 5
    while set(source.decoded) != {0, 1, 2, 3} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(source.decoded) == {0, 1, 2, 3}
    shared.read_rgb(1)  # from the read-ahead, not decoded again
    assert source.decoded[1] == 1


def test_only_so_many_frames_are_kept():
    source = CountingFrames(20)
    shared = SharedFrames(source, keep_frames=5, read_ahead=0)
    for i in range(20):
        shared.read_rgb(i)
    shared.read_rgb(19)
    shared.read_rgb(0)  # long gone: decoded again
    assert source.decoded[19] == 1 and source.decoded[0] == 2
    # and by bytes: 8x4 RGB frames are 96 bytes, so 200 bytes keep 2 (at least 2 always)
    assert SharedFrames(source, keep_bytes=200)._capacity == 2


def test_a_frame_that_fails_to_decode_is_not_kept():
    source = CountingFrames(5, broken=2)
    shared = SharedFrames(source, read_ahead=0)
    for _ in range(2):
        with pytest.raises(OSError, match="frame 2 is broken"):
            shared.read_rgb(2)
    assert source.decoded[2] == 2
    with pytest.raises(IndexError):
        shared.read_rgb(5)


def test_a_writer_behind_the_tracker_finds_every_frame_still_kept():
    # The tracker reads frame i while a writer reads frame i - 8: with 10 kept, every frame
    # is decoded once. (Keeping what was read last instead evicted what the writer needed
    # next: 5,306 decodes for 300 frames of a video.)
    source = CountingFrames(60, seconds=0.0)
    shared = SharedFrames(source, keep_frames=10, read_ahead=0)
    for i in range(60 + 8):
        if i < 60:
            shared.read_rgb(i)
        if i >= 8:
            shared.read_rgb(i - 8)
    assert source.decoded == Counter(range(60))
