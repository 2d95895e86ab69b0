"""SAM 2 video propagation over a tracking plan, streaming frame by frame.

SAM 2 decodes each keyframe's prompts, then tracks each segment (core/segments.py) from its
anchor keyframe with the segment's bounding keyframes as conditioning memory. Frames are
decoded when SAM 2 first needs them, every step's image features serve all objects on that
frame, and each segment keeps only the outputs SAM 2 can still read (segment_memory.py), so
memory stays flat however long the video is.

Results come out in frame order. Backward segments (the frames before an object's first
keyframe) run first; their masks wait, zlib-packed, until the forward sweep reaches them.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import FramePrompt, ObjectKey, PromptSet
from labelme_sam2.core.segments import Segment, TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, StepHook
from labelme_sam2.formats.mask_codec import PackedMask
from labelme_sam2.sam2_tracker.device import inference_context
from labelme_sam2.sam2_tracker.feature_cache import FeatureKey, ImageFeatureCache, image_key
from labelme_sam2.sam2_tracker.frame_source import Sam2FrameSource
from labelme_sam2.sam2_tracker.segment_memory import SegmentMemory, memory_reach


class Sam2Tracker:
    def __init__(
        self,
        sam2_model: SAM2VideoPredictor,
        *,
        prune_memory: bool = True,
        feature_cache: ImageFeatureCache | None = None,
    ) -> None:
        self._sam2 = sam2_model
        # Single images only: SAM 2 keeps one frame's features per state, and a click on an
        # image is the interactive case worth skipping the encoder for.
        self._feature_cache = feature_cache
        # Off only to prove pruning changes nothing, and to measure what it saves.
        self._reach = memory_reach(sam2_model) if prune_memory else None
        self.peak_held_frames = 0  # most non-conditioning outputs held at once, all segments

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        plan = plan or TrackingPlan.everything(prompts, frame_count=len(frames))
        if not plan.segments and not plan.keyframes:
            return  # nothing changed since the last run
        key = self._feature_key(frames)
        cached = (
            None if key is None or self._feature_cache is None else self._feature_cache.get(key)
        )
        with inference_context(self._sam2.device):
            run = _Run(
                self._sam2,
                frames,
                prompts,
                plan,
                reach=self._reach,
                features=cached,
                after_step=after_step or _no_hook,
            )
            yield from run.masks_in_frame_order()
            self.peak_held_frames = max(self.peak_held_frames, run.peak_held_frames)
            if key is not None and self._feature_cache is not None and cached is None:
                computed = run.image_features(0)
                if computed is not None:
                    self._feature_cache.put(key, computed)

    def _feature_key(self, frames: Frames) -> FeatureKey | None:
        paths = getattr(frames, "paths", None)
        if self._feature_cache is None or len(frames) != 1 or not paths:
            return None
        return image_key(paths[0], self._sam2.image_size)


def _no_hook() -> None:
    pass


def new_inference_state(sam2_model: SAM2VideoPredictor, frames: Frames) -> dict[str, Any]:
    """SAM 2's inference state (the keys init_state makes), fed by our frame source.

    init_state would load every frame up front with its own loader; everything that reads
    this state is SAM 2's own code. tests/test_sam2_inference_state.py checks the keys
    against the pinned sam2's init_state.
    """
    device = sam2_model.device
    return {
        "images": Sam2FrameSource(frames, image_size=sam2_model.image_size),
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


class _Run:
    """One track() call: SAM 2's inference state plus the segments being tracked."""

    def __init__(
        self,
        sam2_model: SAM2VideoPredictor,
        frames: Frames,
        prompts: PromptSet,
        plan: TrackingPlan,
        *,
        reach: int | None,
        features: Any = None,
        after_step: StepHook,
    ) -> None:
        self._sam2 = sam2_model
        self._after_step = after_step
        self._frames = frames
        self._prompts = prompts
        self._plan = plan
        self._reach = reach
        self.peak_held_frames = 0
        self._state = new_inference_state(sam2_model, frames)
        if features is not None:  # frame 0's (image, backbone output), as SAM 2 caches them
            self._state["cached_features"] = {0: features}
        self._keys = sorted(
            {s.key for s in plan.segments} | {key for key, _ in plan.keyframes},
            key=list(prompts.objects).index,
        )
        self._keyframe_masks: dict[tuple[ObjectKey, int], PackedMask] = {}
        self._decode_keyframes()

    def image_features(self, frame_index: int) -> Any:
        """SAM 2's cached (image, backbone output) of `frame_index`, if it still holds them."""
        return self._state["cached_features"].get(frame_index)

    def masks_in_frame_order(self) -> Iterator[FrameMasks]:
        backward = self._track_backward()
        forward_by_frame: dict[int, list[Segment]] = defaultdict(list)
        for segment in self._plan.segments:
            if not segment.reverse:
                for frame_index in segment.frames:
                    forward_by_frame[frame_index].append(segment)
        memories: dict[Segment, SegmentMemory] = {}
        for frame_index in sorted(self._plan.frames()):
            masks: dict[ObjectKey, Mask] = {}
            for key in self._keys:
                packed = self._keyframe_masks.pop((key, frame_index), None)
                if packed is None:
                    packed = backward.pop((key, frame_index), None)
                if packed is not None:
                    masks[key] = packed.unpack()
            for segment in forward_by_frame.pop(frame_index, []):
                if segment not in memories:
                    memories[segment] = self._segment_memory(segment)
                masks[segment.key] = self._step(memories[segment], frame_index, segment)
                if frame_index == segment.frames[-1]:
                    del memories[segment]
            self._note_held(memories.values())
            yield FrameMasks(frame_index, {key: masks[key] for key in self._keys if key in masks})

    def _track_backward(self) -> dict[tuple[ObjectKey, int], PackedMask]:
        """Every backward segment, all objects sharing each frame's image features."""
        segments = [s for s in self._plan.segments if s.reverse]
        memories = {s: self._segment_memory(s) for s in segments}
        results: dict[tuple[ObjectKey, int], PackedMask] = {}
        frames = sorted({f for s in segments for f in s.frames}, reverse=True)
        for frame_index in frames:
            for segment in segments:
                if segment.stop < frame_index < segment.anchor:
                    mask = self._step(memories[segment], frame_index, segment)
                    results[(segment.key, frame_index)] = PackedMask.pack(mask)
            self._note_held(memories.values())
        return results

    def _step(self, memory: SegmentMemory, frame_index: int, segment: Segment) -> Mask:
        # SAM 2's own single-frame step, as propagate_in_video runs it for one object;
        # a private method of the pinned sam2==1.1.0.
        output, low_res = self._sam2._run_single_frame_inference(
            inference_state=self._state,
            output_dict=memory.output_dict,
            frame_idx=frame_index,
            batch_size=1,
            is_init_cond_frame=False,
            point_inputs=None,
            mask_inputs=None,
            reverse=segment.reverse,
            run_mem_encoder=True,
        )
        memory.add(frame_index, output)
        mask = self._to_video_mask(low_res)
        self._after_step()
        return mask

    def _segment_memory(self, segment: Segment) -> SegmentMemory:
        obj_idx = self._keys.index(segment.key)
        outputs = self._state["output_dict_per_obj"][obj_idx]["cond_frame_outputs"]
        keyframes = self._prompts.objects[segment.key]
        conditioning = {f: outputs[f] for f in segment.conditioning(keyframes)}
        return SegmentMemory(conditioning=conditioning, reverse=segment.reverse, reach=self._reach)

    def _decode_keyframes(self) -> None:
        """Each keyframe's prompt decoded on its own (SAM on that image), then memory-encoded."""
        for obj_idx in range(len(self._keys)):
            # Registers the objects in order, so SAM 2's object index is our index in _keys.
            self._sam2._obj_id_to_idx(self._state, obj_idx)
        needed: set[tuple[ObjectKey, int]] = set(self._plan.keyframes)
        for segment in self._plan.segments:
            keyframes = self._prompts.objects[segment.key]
            needed.update((segment.key, f) for f in segment.conditioning(keyframes))
        for key, frame_index in sorted(needed, key=lambda kf: (kf[1], self._keys.index(kf[0]))):
            prompt = self._prompts.objects[key][frame_index]
            mask = self._add_prompt(frame_index, self._keys.index(key), prompt)
            self._after_step()
            if (key, frame_index) in self._plan.keyframes:
                self._keyframe_masks[(key, frame_index)] = PackedMask.pack(mask)
        # Runs SAM 2's memory encoder on every keyframe output (what propagate_in_video does
        # before tracking).
        self._sam2.propagate_in_video_preflight(self._state)

    def _add_prompt(self, frame_index: int, obj_idx: int, prompt: FramePrompt) -> Mask:
        if prompt.mask is not None:
            self._sam2.add_new_mask(
                self._state, frame_index, obj_idx, torch.from_numpy(prompt.mask)
            )
            # SAM 2 stores the mask at its low resolution; on its own frame the user's mask is
            # the answer, exactly.
            return prompt.mask
        box = prompt.box
        _, obj_ids, video_masks = self._sam2.add_new_points_or_box(
            self._state,
            frame_index,
            obj_idx,
            points=[[c.x, c.y] for c in prompt.clicks] or None,
            labels=[1 if c.positive else 0 for c in prompt.clicks] or None,
            box=None if box is None else [box.x0, box.y0, box.x1, box.y1],
        )
        return self._mask_of(video_masks[list(obj_ids).index(obj_idx)])

    def _to_video_mask(self, low_res: torch.Tensor) -> Mask:
        _, video_res = self._sam2._get_orig_video_res_output(self._state, low_res)
        return self._mask_of(video_res[0])

    @staticmethod
    def _mask_of(logits: torch.Tensor) -> Mask:
        mask: Mask = (logits[0] > 0.0).cpu().numpy()
        return mask

    def _note_held(self, memories: Iterable[SegmentMemory]) -> None:
        held = sum(m.held_frames for m in memories)
        self.peak_held_frames = max(self.peak_held_frames, held)
