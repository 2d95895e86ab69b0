"""How a prompt set splits into independent stretches of tracking.

Each object's keyframes cut the video into segments. The frames before its first keyframe
are tracked backward from it; the frames between two keyframes forward from the earlier one,
with both keyframes as SAM 2's conditioning memory; the frames after the last keyframe forward
from it. A segment reads nothing outside itself but its bounding keyframes' prompts, so:

- tracking memory never grows with the number of keyframes or the video's length, and
- after a user edits the prompt on frame k, only the segments touching k (from k to that
  object's neighbouring keyframes, each way) can change: the rest is kept, exactly.

SAM 2 itself attends to every conditioning frame of an object (max_cond_frames_in_attn=-1);
restricting it to the two bounding ones is what makes the segments independent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from labelme_sam2.core.prompts import FramePrompt, ObjectKey, PromptSet


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

    def object_frames(self) -> int:
        """How many (object, frame) masks this plan computes."""
        return len(self.keyframes) + sum(len(s.frames) for s in self.segments)

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


def prompt_fingerprint(prompt: FramePrompt) -> str:
    """Changes whenever anything SAM 2 would see of this prompt changes."""
    digest = hashlib.sha256()
    box = prompt.box
    digest.update(
        json.dumps(
            {
                "box": None if box is None else [box.x0, box.y0, box.x1, box.y1],
                "clicks": [[c.x, c.y, c.positive] for c in prompt.clicks],
            }
        ).encode()
    )
    if prompt.mask is not None:
        digest.update(np.packbits(prompt.mask).tobytes())
        digest.update(str(prompt.mask.shape).encode())
    return digest.hexdigest()[:16]


def segment_fingerprint(segment: Segment, prompts: PromptSet) -> str:
    """Same fingerprint, same masks: the segment's own frames and bounding keyframes' prompts."""
    keyframes = prompts.objects[segment.key]
    ends = segment.conditioning(keyframes)
    parts = [
        segment.key.label,
        str(segment.key.group_id),
        str(segment.anchor),
        str(segment.stop),
        str(segment.reverse),
        *(f"{frame}:{prompt_fingerprint(keyframes[frame])}" for frame in ends),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def keyframe_fingerprint(key: ObjectKey, frame_index: int, prompt: FramePrompt) -> str:
    return f"{key.label}\x1f{key.group_id}\x1f{frame_index}\x1f{prompt_fingerprint(prompt)}"


def fingerprints(plan: TrackingPlan, prompts: PromptSet) -> tuple[list[str], list[str]]:
    """(segments, keyframes) fingerprints of what `plan` computes, for the run's record."""
    segments = sorted(segment_fingerprint(s, prompts) for s in plan.segments)
    keyframes = sorted(
        keyframe_fingerprint(key, frame, prompts.objects[key][frame])
        for key, frame in plan.keyframes
    )
    return segments, keyframes


def plan_changes(
    prompts: PromptSet, *, frame_count: int, done_segments: set[str], done_keyframes: set[str]
) -> TrackingPlan:
    """What is left to compute when a finished run already computed the `done` fingerprints:
    after an edit on frame k, the segments from k to the object's neighbouring keyframes."""
    everything = TrackingPlan.everything(prompts, frame_count=frame_count)
    return TrackingPlan(
        segments=tuple(
            s for s in everything.segments if segment_fingerprint(s, prompts) not in done_segments
        ),
        keyframes=frozenset(
            (key, frame)
            for key, frame in everything.keyframes
            if keyframe_fingerprint(key, frame, prompts.objects[key][frame]) not in done_keyframes
        ),
    )
