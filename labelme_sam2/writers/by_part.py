"""Route a run over several parts (chunk folders) to each part's own writers."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from labelme_sam2.core.pipeline import FrameWriter, abort_all
from labelme_sam2.core.tracking import FrameMasks


class WritersByPart:
    """Frame i of the whole run is frame i - offsets[p] of part p, for that part's writers."""

    def __init__(self, offsets: Sequence[int], writers: Sequence[Sequence[FrameWriter]]) -> None:
        if len(offsets) != len(writers) or list(offsets) != sorted(offsets):
            raise ValueError("one ascending offset per part")
        self._offsets = list(offsets)
        self._writers = [list(part) for part in writers]

    def write(self, result: FrameMasks) -> None:
        part = bisect.bisect_right(self._offsets, result.frame_index) - 1
        local = FrameMasks(result.frame_index - self._offsets[part], result.masks)
        for writer in self._writers[part]:
            writer.write(local)

    def close(self) -> None:
        for part in self._writers:
            for writer in part:
                writer.close()

    def abort(self) -> None:
        abort_all([writer for part in self._writers for writer in part])
