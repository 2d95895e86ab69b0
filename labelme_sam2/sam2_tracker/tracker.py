"""SAM 2 video propagation over a prompt set, both directions from every keyframe."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sam2 import sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

from labelme_sam2.core.frames import FrameSequence
from labelme_sam2.core.prompts import FramePrompt, PromptSet
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.mask_codec import PackedMask
from labelme_sam2.sam2_tracker.device import inference_context
from labelme_sam2.sam2_tracker.frame_source import Sam2FrameSource

# SAM 2 draws its own tqdm bar per propagation pass; ours counts the whole run instead.
sam2_video_predictor.tqdm = lambda iterable, **_: iterable


class Sam2Tracker:
    """Tracks all objects in one pass per direction.

    Forward from the earliest keyframe to the end, then backward from the latest "first
    keyframe" to the start. A frame's mask for an object comes from the forward pass once
    that object has had a keyframe, from the backward pass before it, so frames before an
    object's first prompt get masks too.
    """

    def __init__(self, predictor: SAM2VideoPredictor) -> None:
        self._predictor = predictor

    def track(self, frames: FrameSequence, prompts: PromptSet) -> Iterator[FrameMasks]:
        keys = list(prompts.objects)
        first_keyframe = [min(prompts.objects[key]) for key in keys]
        forward_start = min(first_keyframe)
        backward_start = max(first_keyframe)
        # Frames in [forward_start, backward_start) mix both passes: the forward halves wait here.
        waiting: dict[int, dict[int, PackedMask]] = {}
        with inference_context(self._predictor.device):
            state = self._new_state(frames)
            for obj_id, key in enumerate(keys):
                for frame_index, prompt in sorted(prompts.objects[key].items()):
                    self._add_prompt(state, frame_index, obj_id, prompt)
            for frame_index, masks in self._propagate(state, forward_start, reverse=False):
                if frame_index >= backward_start:
                    yield FrameMasks(frame_index, dict(zip(keys, masks, strict=True)))
                else:
                    waiting[frame_index] = {
                        i: PackedMask.pack(masks[i])
                        for i, first in enumerate(first_keyframe)
                        if first <= frame_index
                    }
            if backward_start == 0:
                return
            for frame_index, masks in self._propagate(state, backward_start, reverse=True):
                if frame_index == backward_start:
                    continue  # already given by the forward pass
                forward = waiting.pop(frame_index, {})
                merged = [forward[i].unpack() if i in forward else m for i, m in enumerate(masks)]
                yield FrameMasks(frame_index, dict(zip(keys, merged, strict=True)))

    def _propagate(
        self, state: dict[str, Any], start: int, *, reverse: bool
    ) -> Iterator[tuple[int, list[np.ndarray]]]:
        for frame_index, _, logits in self._predictor.propagate_in_video(
            state, start_frame_idx=start, reverse=reverse
        ):
            masks = (logits[:, 0] > 0.0).cpu().numpy()
            yield frame_index, list(masks)

    def _add_prompt(
        self, state: dict[str, Any], frame_index: int, obj_id: int, prompt: FramePrompt
    ) -> None:
        if prompt.mask is not None:
            self._predictor.add_new_mask(state, frame_index, obj_id, torch.from_numpy(prompt.mask))
            return
        points = [[c.x, c.y] for c in prompt.clicks]
        labels = [1 if c.positive else 0 for c in prompt.clicks]
        box = prompt.box
        self._predictor.add_new_points_or_box(
            state,
            frame_index,
            obj_id,
            points=points or None,
            labels=labels or None,
            box=None if box is None else [box.x0, box.y0, box.x1, box.y1],
        )

    def _new_state(self, frames: FrameSequence) -> dict[str, Any]:
        """SAM 2's inference state (the keys init_state makes), fed by our frame source.

        init_state would insist on its own loader; everything else is SAM 2's own code.
        """
        device = self._predictor.device
        return {
            "images": Sam2FrameSource(frames, image_size=self._predictor.image_size),
            "num_frames": len(frames),
            "offload_video_to_cpu": True,
            "offload_state_to_cpu": False,
            "video_height": frames.height,
            "video_width": frames.width,
            "device": device,
            "storage_device": device,
            "point_inputs_per_obj": {},
            "mask_inputs_per_obj": {},
            "cached_features": {},
            "constants": {},
            "obj_id_to_idx": OrderedDict(),
            "obj_idx_to_id": OrderedDict(),
            "obj_ids": [],
            "output_dict_per_obj": {},
            "temp_output_dict_per_obj": {},
            "frames_tracked_per_obj": {},
        }
