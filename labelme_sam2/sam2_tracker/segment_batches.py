"""Which segments SAM 2 steps together: those of several objects over the same frames, the
same way, with the same conditioning keyframes (tracker.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.segments import Segment


@dataclass(frozen=True)
class SegmentBatch:
    """Segments of several objects over the same frames, the same way, with the same
    conditioning keyframes: SAM 2 steps them together, object i in batch row i."""

    segments: tuple[Segment, ...]  # in object order
    conditioning: tuple[int, ...]

    @property
    def keys(self) -> list[ObjectKey]:
        return [segment.key for segment in self.segments]

    @property
    def reverse(self) -> bool:
        return self.segments[0].reverse

    @property
    def frames(self) -> range:
        return self.segments[0].frames


def batch_segments(
    segments: Iterable[Segment],
    *,
    conditioning: Callable[[Segment], list[int]],
    order: Mapping[ObjectKey, int],
    max_objects: int,
) -> list[SegmentBatch]:
    """Segments of one direction batched by the frames they span, in objects' `order`.

    A batch's transient GPU memory grows with its objects (at 1024, about 150 MB each on
    SAM 2.1 tiny, mostly memory attention), hence at most `max_objects` per batch.
    """
    by_span: dict[tuple[int, ...], list[Segment]] = defaultdict(list)
    for segment in segments:
        by_span[(segment.anchor, segment.stop, *conditioning(segment))].append(segment)
    batches = []
    for spanning in by_span.values():
        ordered = sorted(spanning, key=lambda s: order[s.key])
        for start in range(0, len(ordered), max_objects):
            chunk = tuple(ordered[start : start + max_objects])
            batches.append(SegmentBatch(chunk, tuple(conditioning(chunk[0]))))
    return batches
