"""Route a run over several chunks (chunk folders) to each chunk's own writers."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from labelme_sam2.core.pipeline import FrameWriter, abort_all
from labelme_sam2.core.stages import Preparing
from labelme_sam2.core.tracking import FrameMasks


class WritersByChunk:
    """Frame i of the whole run is frame i - offsets[c] of chunk c, for that chunk's writers."""

    def __init__(self, offsets: Sequence[int], writers: Sequence[Sequence[FrameWriter]]) -> None:
        if len(offsets) != len(writers) or list(offsets) != sorted(offsets):
            raise ValueError("one ascending offset per chunk")
        self._offsets = list(offsets)
        self._writers = [list(chunk) for chunk in writers]

    def write(self, result: FrameMasks) -> None:
        chunk, local = self._route(result)
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
        second ...): each may write on a thread of its own (core/stages.py), and prepare
        frames on the pipeline's pool where all its writers can."""
        width = max((len(chunk) for chunk in self._writers), default=0)
        lanes: list[WritersByChunk] = []
        for k in range(width):
            lane = [chunk[k : k + 1] for chunk in self._writers]
            kind = PreparingByChunk if all(map(_prepares, lane)) else WritersByChunk
            lanes.append(kind(self._offsets, lane))
        return lanes

    def _route(self, result: FrameMasks) -> tuple[int, FrameMasks]:
        chunk = bisect.bisect_right(self._offsets, result.frame_index) - 1
        return chunk, FrameMasks(result.frame_index - self._offsets[chunk], result.masks)


@dataclass(frozen=True)
class _Prepared:
    chunk: int
    parts: list[object]  # one per writer of that chunk


class PreparingByChunk(WritersByChunk):
    """A lane whose writers all prepare and commit (Preparing): so does the lane."""

    def __init__(self, offsets: Sequence[int], writers: Sequence[Sequence[FrameWriter]]) -> None:
        super().__init__(offsets, writers)
        self._preparing = [[cast(Preparing, writer) for writer in chunk] for chunk in writers]

    def prepare(self, result: FrameMasks) -> object:
        chunk, local = self._route(result)
        return _Prepared(chunk, [writer.prepare(local) for writer in self._preparing[chunk]])

    def commit(self, prepared: object) -> None:
        assert isinstance(prepared, _Prepared)
        for writer, part in zip(self._preparing[prepared.chunk], prepared.parts, strict=True):
            writer.commit(part)


def _prepares(writers: Sequence[FrameWriter]) -> bool:
    return all(isinstance(writer, Preparing) for writer in writers)
