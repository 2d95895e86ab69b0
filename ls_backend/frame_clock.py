"""Label Studio's video frame numbers <-> decoded frame indices.

Label Studio numbers video frames from 1 at the <Video> tag's frameRate; a decoded frame has its
own timestamp. The two agree frame for frame when frameRate is the video's rate; otherwise a
Label Studio frame maps to the decoded frame its editor shows at that time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

SEEK_SLACK = 0.002  # seconds Label Studio's editor seeks past a frame's time


@dataclass(frozen=True)
class FrameClock:
    timestamps: Sequence[float]  # seconds from the first frame, one per decoded frame, sorted
    frame_rate: float  # the <Video> tag's frameRate

    def index_of(self, frame_number: int) -> int | None:
        """The decoded frame shown at Label Studio frame `frame_number` (1-based): the last one
        whose time is at or before it (Label Studio seeks 2 ms past a frame's time); None when
        that frame lies past the video's end."""
        if frame_number < 1:
            return None
        time = (frame_number - 1) / self.frame_rate
        if time >= self.duration:
            return None
        return max(0, bisect.bisect_right(self.timestamps, time + SEEK_SLACK) - 1)

    def frame_number(self, index: int) -> int:
        """The first Label Studio frame (1-based) that shows decoded frame `index`."""
        first = math.ceil((self.timestamps[index] - SEEK_SLACK) * self.frame_rate - 1e-9)
        return max(1, first + 1)

    def shown(self, index: int) -> bool:
        """Whether Label Studio shows decoded frame `index` at all (not when its frameRate is
        below the video's: then some frames fall between its frame numbers)."""
        return self.index_of(self.frame_number(index)) == index

    def time(self, index: int) -> float:
        return self.timestamps[index]

    @property
    def frames_count(self) -> int:
        """How many frames Label Studio counts in the video (its round(duration * fps))."""
        return round(self.duration * self.frame_rate)

    @property
    def duration(self) -> float:
        return self.timestamps[-1] + self._frame_duration()

    def _frame_duration(self) -> float:
        if len(self.timestamps) < 2:
            return 1 / self.frame_rate
        return (self.timestamps[-1] - self.timestamps[0]) / (len(self.timestamps) - 1)
