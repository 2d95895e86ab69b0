"""Label Studio's video frame numbers <-> decoded frame indices.

Label Studio numbers video frames from 1 at the <Video> tag's frameRate; a decoded frame has its
own timestamp. The two agree frame for frame when frameRate is the video's rate; otherwise a
Label Studio frame maps to the decoded frame nearest its time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FrameClock:
    timestamps: Sequence[float]  # seconds from the first frame, one per decoded frame, sorted
    frame_rate: float  # the <Video> tag's frameRate

    def index_of(self, frame_number: int) -> int | None:
        """The decoded frame shown at Label Studio frame `frame_number` (1-based); None when
        that frame lies past the video's end."""
        if frame_number < 1:
            return None
        time = (frame_number - 1) / self.frame_rate
        last = self.timestamps[-1] + self._frame_duration()
        if time >= last:
            return None
        right = bisect.bisect_left(self.timestamps, time)
        if right == 0:
            return 0
        if right == len(self.timestamps):
            return right - 1
        before, after = self.timestamps[right - 1], self.timestamps[right]
        return right if after - time < time - before else right - 1

    def frame_number(self, index: int) -> int:
        """Label Studio's 1-based frame number for decoded frame `index`."""
        return round(self.timestamps[index] * self.frame_rate) + 1

    def time(self, index: int) -> float:
        return self.timestamps[index]

    @property
    def frames_count(self) -> int:
        """How many frames Label Studio counts in the video."""
        return self.frame_number(len(self.timestamps) - 1)

    @property
    def duration(self) -> float:
        return self.timestamps[-1] + self._frame_duration()

    def _frame_duration(self) -> float:
        if len(self.timestamps) < 2:
            return 1 / self.frame_rate
        return (self.timestamps[-1] - self.timestamps[0]) / (len(self.timestamps) - 1)
