"""One segment's SAM 2 memory, holding only the frames SAM 2 can still read.

SAM 2 keeps every tracked frame's output (memory features, low-res mask logits, object
pointer) for the whole run, so memory grows with the video. Tracking frame u reads only:

- the conditioning frames (here: the segment's bounding keyframes),
- memory features of the frames u-1 and ((u-2)//r)*r - j*r for j < num_maskmem-2 (stride r),
- object pointers of the frames u-1 ... u-(max_obj_ptrs_in_encoder-1),

(mirrored when tracking backward; sam2/modeling/sam2_base.py,
_prepare_memory_conditioned_features). Once frame t is done, a frame further back than
`reach` can never be read again and is dropped: the masks are identical (tests prove it).
SAM 2 1.1.0's own clear_non_cond_mem_around_input crashes, and clears something else anyway.

Objects whose segments span the same frames the same way share one memory, batched: row i of
every tensor is object i (stack_outputs), and SAM 2 steps them all in one track_step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from sam2.modeling.sam2_base import SAM2Base


def memory_reach(model: SAM2Base) -> int:
    """How far back (in frames) tracking the next frame can read a non-conditioning output."""
    stride = model.memory_temporal_stride_for_eval
    features = (model.num_maskmem - 2) * stride
    pointers = model.max_obj_ptrs_in_encoder - 2 if model.use_obj_ptrs_in_encoder else 0
    return max(features, pointers, 0)


class SegmentMemory:
    """The output dict SAM 2's track_step reads and writes, for the objects of one segment."""

    def __init__(self, *, conditioning: dict[int, Any], reverse: bool, reach: int | None) -> None:
        self.output_dict: dict[str, dict[int, Any]] = {
            "cond_frame_outputs": conditioning,
            "non_cond_frame_outputs": {},
        }
        self._reverse = reverse
        self._reach = reach  # None keeps everything, as SAM 2 does

    def add(self, frame_index: int, output: Any) -> None:
        kept = self.output_dict["non_cond_frame_outputs"]
        kept[frame_index] = output
        if self._reach is None:
            return
        # Frames are added one step at a time, so at most one falls out of reach per step.
        oldest = frame_index + self._reach + 1 if self._reverse else frame_index - self._reach - 1
        kept.pop(oldest, None)

    @property
    def held_frames(self) -> int:
        return len(self.output_dict["non_cond_frame_outputs"])


def stack_outputs(outputs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several objects' SAM 2 outputs of one frame as one batched output, object i in row i."""
    if len(outputs) == 1:
        return outputs[0]
    return {name: _stack([output[name] for output in outputs]) for name in outputs[0]}


def _stack(values: list[Any]) -> Any:
    first = values[0]
    if first is None:  # e.g. no memory features when SAM 2 runs without memory
        return None
    if isinstance(first, torch.Tensor):
        return torch.cat(values)
    if isinstance(first, list):  # maskmem_pos_enc: one tensor per feature level
        return [torch.cat(level) for level in zip(*values, strict=True)]
    raise TypeError(f"cannot batch a SAM 2 output of type {type(first).__name__}")
