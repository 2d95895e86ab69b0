"""Route a run over several chunks (chunk folders) to each chunk's own writers."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from labelme_sam2.core.pipeline import FrameWriter, abort_all
from labelme_sam2.core.tracking import FrameMasks


class WritersByChunk:
    """Frame i of the whole run is frame i - offsets[c] of chunk c, for that chunk's writers."""

    def __init__(self, offsets: Sequence[int], writers: Sequence[Sequence[FrameWriter]]) -> None:
        if len(offsets) != len(writers) or list(offsets) != sorted(offsets):
            raise ValueError("one ascending offset per chunk")
        self._offsets = list(offsets)
        self._writers = [list(chunk) for chunk in writers]

    def write(self, result: FrameMasks) -> None:
        chunk = bisect.bisect_right(self._offsets, result.frame_index) - 1
        local = FrameMasks(result.frame_index - self._offsets[chunk], result.masks)
        for writer in self._writers[chunk]:
            writer.write(local)

    def close(self) -> None:
        for chunk in self._writers:
            for writer in chunk:
                writer.close()

    def abort(self) -> None:
        abort_all([writer for chunk in self._writers for writer in chunk])

    def lanes(self) -> list[WritersByChunk]:
        """One writer per kind of output across the chunks (the first of each chunk's, the
        second ...): each may write on a thread of its own (core/stages.py)."""
        width = max((len(chunk) for chunk in self._writers), default=0)
        return [
            WritersByChunk(self._offsets, [chunk[k : k + 1] for chunk in self._writers])
            for k in range(width)
        ]
