"""How a prompt set splits into independent stretches of tracking.

Each object's keyframes cut the video into segments. The frames before its first keyframe
are tracked backward from it; the frames between two keyframes forward from the earlier one,
with both keyframes as SAM 2's conditioning memory; the frames after the last keyframe forward
from it. A segment reads nothing outside itself but its bounding keyframes' prompts, so:

- tracking memory never grows with the number of keyframes or the video's length, and
- after a user edits the prompt on frame k, only the segments touching k (from k to that
  object's neighbouring keyframes, each way) can change: the rest is kept, exactly
  (labelme_sam2/reruns.py).

SAM 2 itself attends to every conditioning frame of an object (max_cond_frames_in_attn=-1);
restricting it to the two bounding ones is what makes the segments independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labelme_sam2.core.prompts import ObjectKey, PromptSet


@dataclass(frozen=True)
class Segment:
    """Frames `anchor` (exclusive) up to `stop` (exclusive), tracked from keyframe `anchor`.

    `stop` is the next keyframe in the direction of travel; for the first and last segments it
    is the video's edge: -1 going backward, the frame count going forward.
    """

    key: ObjectKey
    anchor: int
    stop: int
    reverse: bool

    @property
    def frames(self) -> range:
        if self.reverse:
            return range(self.anchor - 1, self.stop, -1)
        return range(self.anchor + 1, self.stop)

    def conditioning(self, keyframes: Mapping[int, object]) -> list[int]:
        """The keyframes SAM 2 remembers over this segment: its anchor and its far end."""
        return [self.anchor] + ([self.stop] if self.stop in keyframes else [])


@dataclass(frozen=True)
class TrackingPlan:
    """What a tracker computes: these segments, and the masks on these objects' keyframes."""

    segments: tuple[Segment, ...]
    keyframes: frozenset[tuple[ObjectKey, int]]

    @classmethod
    def everything(cls, prompts: PromptSet, *, frame_count: int) -> TrackingPlan:
        return cls(
            segments=tuple(plan_segments(prompts, frame_count=frame_count)),
            keyframes=frozenset(
                (key, frame) for key, keyframes in prompts.objects.items() for frame in keyframes
            ),
        )

    def objects_by_frame(self) -> dict[int, set[ObjectKey]]:
        """For each frame this plan gives a mask on, the objects it gives one for."""
        wanted: dict[int, set[ObjectKey]] = {}
        for key, frame_index in self.keyframes:
            wanted.setdefault(frame_index, set()).add(key)
        for segment in self.segments:
            for frame_index in segment.frames:
                wanted.setdefault(frame_index, set()).add(segment.key)
        return wanted

    def frames(self) -> set[int]:
        """The frames this plan gives a mask on, for at least one object."""
        covered = {frame for _, frame in self.keyframes}
        for segment in self.segments:
            covered.update(segment.frames)
        return covered


def plan_segments(prompts: PromptSet, *, frame_count: int) -> list[Segment]:
    """Every segment of every object; together with the keyframes they cover every frame once."""
    segments: list[Segment] = []
    for key, keyframes in prompts.objects.items():
        ordered = sorted(keyframes)
        if ordered[0] > 0:
            segments.append(Segment(key, ordered[0], -1, reverse=True))
        for anchor, stop in zip(ordered, [*ordered[1:], frame_count], strict=True):
            if stop > anchor + 1:
                segments.append(Segment(key, anchor, stop, reverse=False))
    return segments
