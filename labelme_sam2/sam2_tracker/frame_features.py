"""Each frame's image features computed once per run, however many passes read the frame.

SAM 2 keeps only the last frame's features (inference_state["cached_features"]), so a frame
that the keyframe decode, a backward segment and the forward sweep all read was encoded up to
three times. A run knows the order of its frame visits up front (keyframes ascending, backward
frames descending, forward frames ascending), so a frame that will be visited again is kept
until then, within `max_bytes`. Over the budget the kept frame whose next visit is furthest
away goes first (Belady's rule: the fewest re-encodes for the budget); a frame dropped that way
is simply encoded again, with the same result.

Memory bound: the frame being visited, plus at most `max_bytes` of kept frames. A kept frame
is SAM 2's input image (3 x S x S float32) and its feature maps (32, 64 and 256 channels at
S/4, S/8 and S/16): at S = 1024, 12 MB + 16 MB in float32, 22 MB as measured under CUDA's
bfloat16 autocast. The position encodings (another 84 MB at 1024, 44 MB in bfloat16) are a
function of the maps' shape only, the same for every frame, so kept frames share one copy.
Typical plans keep few frames: the keyframes, and the frames that a backward segment and
another object's forward segment both cover.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

import torch

from labelme_sam2.sam2_tracker.feature_cache import tensor_bytes

Features = tuple[torch.Tensor, dict[str, Any]]  # SAM 2's (image, backbone_out) of one frame
DEFAULT_MAX_BYTES = 1 << 30  # at 1024: ~36 frames in float32, ~46 on CUDA; far more below
NEVER = float("inf")


class FrameFeatures:
    def __init__(
        self,
        visits: Sequence[int],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        seed: dict[int, Features] | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        # Where in the visit order each frame comes up again (repeats of one visit collapsed).
        self._visits: dict[int, deque[int]] = defaultdict(deque)
        previous = None
        for position, frame in enumerate(visits):
            if frame != previous:
                self._visits[frame].append(position)
            previous = frame
        self._clock = -1
        self._current: tuple[int, Features] | None = None
        # Seeded features belong to the caller's cache: not counted against the budget.
        self._kept: dict[int, tuple[Features, int]] = {
            frame: (features, 0) for frame, features in (seed or {}).items()
        }
        self._kept_bytes = 0
        self._position_encodings: dict[tuple[Any, ...], list[torch.Tensor]] = {}
        self.peak_kept = 0  # most frames kept at once besides the current one (for tests)

    def visit(self, frame: int, encode: Callable[[int], Features]) -> Features:
        """`frame`'s features, encoded (by `encode`) only if not held from an earlier visit."""
        if self._current is not None and self._current[0] == frame:
            return self._current[1]
        upcoming = self._visits.get(frame)
        if upcoming:
            self._clock = upcoming.popleft()
        kept = self._kept.pop(frame, None)
        if kept is not None:
            self._kept_bytes -= kept[1]
        self._set_aside_current()
        # `encode` is not stored: a run's own method would make a reference cycle, and the
        # run's GPU memory would wait for the garbage collector.
        features = encode(frame) if kept is None else kept[0]
        self._current = (frame, features)
        return features

    def peek(self, frame: int) -> Features | None:
        """`frame`'s features if they are held now; never encodes."""
        if self._current is not None and self._current[0] == frame:
            return self._current[1]
        kept = self._kept.get(frame)
        return None if kept is None else kept[0]

    def _next_visit(self, frame: int) -> float:
        upcoming = self._visits.get(frame)
        while upcoming and upcoming[0] <= self._clock:
            upcoming.popleft()  # a visit the run skipped
        return upcoming[0] if upcoming else NEVER

    def _set_aside_current(self) -> None:
        if self._current is None:
            return
        frame, features = self._current
        self._current = None
        if self._next_visit(frame) == NEVER:
            return
        features = self._share_position_encodings(features)
        size = tensor_bytes((features[0], features[1]["backbone_fpn"]))
        self._kept[frame] = (features, size)
        self._kept_bytes += size
        while self._kept_bytes > self._max_bytes:
            furthest = max(self._kept, key=self._next_visit)
            self._kept_bytes -= self._kept.pop(furthest)[1]
        self.peak_kept = max(self.peak_kept, len(self._kept))

    def _share_position_encodings(self, features: Features) -> Features:
        # SAM 2's sine position encoding depends on the feature map's shape alone
        # (sam2/modeling/position_encoding.py), so every frame's copy holds the same values.
        image, backbone_out = features
        encodings: list[torch.Tensor] = backbone_out["vision_pos_enc"]
        shape = tuple((e.shape, e.dtype, e.device) for e in encodings)
        shared = self._position_encodings.setdefault(shape, encodings)
        return image, {**backbone_out, "vision_pos_enc": list(shared)}
