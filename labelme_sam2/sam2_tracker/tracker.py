"""SAM 2 video propagation over a tracking plan, streaming frame by frame.

SAM 2 decodes each keyframe's prompts, then tracks each segment (core/segments.py) from its
anchor keyframe with the segment's bounding keyframes as conditioning memory. Segments of
different objects that span the same frames the same way (same anchor, end and direction: the
common case of objects prompted on the same keyframes) form a batch, and SAM 2 steps its
objects (up to MAX_BATCH_OBJECTS) in one forward, object i in batch row i; other segments step
on their own. Batched sums round differently, which can flip pixels whose logit is about 0:
on CPU a pixel or two per frame, under CUDA's bfloat16 less than bfloat16 itself changes
against float32 (tests/test_sam2_tracker_batching.py).

Frames are decoded when SAM 2 first needs them, and each frame's image features are computed
once per run, even when the keyframe decode, a backward segment and the forward sweep all read
that frame (frame_features.py keeps such frames, within a byte budget). Each batch keeps only
the outputs SAM 2 can still read (segment_memory.py), so memory stays flat however long the
video is.

Results come out in frame order. Backward segments (the frames before an object's first
keyframe) run first; their masks wait, zlib-packed, until the forward sweep reaches them.
Masks are resized and thresholded on the model's device and reach the host in one copy per
frame (host_masks.py); a frame is handed out once the next frame's steps are queued, so on
CUDA the GPU runs frame t+1 while the caller handles frame t.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from sam2.sam2_video_predictor import SAM2VideoPredictor

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import FramePrompt, ObjectKey, PromptSet
from labelme_sam2.core.segments import Segment, TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, StepHook
from labelme_sam2.formats.mask_codec import PackedMask
from labelme_sam2.sam2_tracker.device import inference_context
from labelme_sam2.sam2_tracker.feature_cache import FeatureKey, ImageFeatureCache, image_key
from labelme_sam2.sam2_tracker.frame_features import DEFAULT_MAX_BYTES, Features, FrameFeatures
from labelme_sam2.sam2_tracker.host_masks import HostMasks, video_masks
from labelme_sam2.sam2_tracker.inference_state import new_inference_state
from labelme_sam2.sam2_tracker.segment_batches import SegmentBatch, batch_segments
from labelme_sam2.sam2_tracker.segment_memory import SegmentMemory, memory_reach, stack_outputs

# Objects stepped together at most: a batch's transient GPU memory grows with its objects.
MAX_BATCH_OBJECTS = 8


class Sam2Tracker:
    def __init__(
        self,
        sam2_model: SAM2VideoPredictor,
        *,
        prune_memory: bool = True,
        max_batch_objects: int = MAX_BATCH_OBJECTS,
        kept_features_bytes: int = DEFAULT_MAX_BYTES,
        feature_cache: ImageFeatureCache | None = None,
    ) -> None:
        self._sam2 = sam2_model
        # Single images only: SAM 2 keeps one frame's features per state, and a click on an
        # image is the interactive case worth skipping the encoder for.
        self._feature_cache = feature_cache
        # Off only to prove pruning changes nothing, and to measure what it saves.
        self._reach = memory_reach(sam2_model) if prune_memory else None
        # 1 (one object per step) only to prove batching changes nothing, and to time it.
        self._max_batch_objects = max_batch_objects
        # Image features of frames a run reads again, kept for it (0: encode on every read).
        self._kept_features_bytes = kept_features_bytes
        self.peak_held_frames = 0  # most non-conditioning outputs held at once, all objects

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
                max_batch_objects=self._max_batch_objects,
                kept_features_bytes=self._kept_features_bytes,
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


@dataclass
class _PendingFrame:
    """A frame's masks: those already on the host, packed, and those still being copied."""

    frame_index: int
    packed: dict[ObjectKey, PackedMask]
    stepped: list[ObjectKey]
    copying: HostMasks

    def masks(self, order: list[ObjectKey]) -> FrameMasks:
        masks: dict[ObjectKey, Mask] = {key: p.unpack() for key, p in self.packed.items()}
        masks.update(zip(self.stepped, self.copying.result(), strict=True))
        return FrameMasks(self.frame_index, {key: masks[key] for key in order if key in masks})


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
        max_batch_objects: int,
        kept_features_bytes: int,
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
        self._keys = sorted(
            {s.key for s in plan.segments} | {key for key, _ in plan.keyframes},
            key=list(prompts.objects).index,
        )
        self._index = {key: obj_idx for obj_idx, key in enumerate(self._keys)}
        self._keyframes = self._keyframes_to_decode()
        self._backward = self._batched(reverse=True, max_objects=max_batch_objects)
        self._forward = self._batched(reverse=False, max_objects=max_batch_objects)
        self._backward_frames = sorted({f for b in self._backward for f in b.frames}, reverse=True)
        forward_frames = sorted({f for b in self._forward for f in b.frames})
        # The order in which the run reads frames' features: keyframes, backward, forward.
        visits = [*self._keyframes, *self._backward_frames, *forward_frames]
        self._features = FrameFeatures(
            visits,
            max_bytes=kept_features_bytes,
            # frame 0's (image, backbone output), as SAM 2 caches them
            seed=None if features is None else {0: features},
        )
        self._keyframe_masks: dict[tuple[ObjectKey, int], PackedMask] = {}
        self._decode_keyframes()

    def image_features(self, frame_index: int) -> Any:
        """SAM 2's (image, backbone output) of `frame_index`, if the run still holds them."""
        return self._features.peek(frame_index)

    def masks_in_frame_order(self) -> Iterator[FrameMasks]:
        backward = self._track_backward()
        forward_by_frame: dict[int, list[SegmentBatch]] = defaultdict(list)
        for batch in self._forward:
            for frame_index in batch.frames:
                forward_by_frame[frame_index].append(batch)
        memories: dict[SegmentBatch, SegmentMemory] = {}
        pending: _PendingFrame | None = None
        for frame_index in sorted(self._plan.frames()):
            packed: dict[ObjectKey, PackedMask] = {}
            for key in self._keys:
                found = self._keyframe_masks.pop((key, frame_index), None)
                if found is None:
                    found = backward.pop((key, frame_index), None)
                if found is not None:
                    packed[key] = found
            stepped = forward_by_frame.pop(frame_index, [])
            logits = []
            for batch in stepped:
                if batch not in memories:
                    memories[batch] = self._batch_memory(batch)
                logits.append(self._step(memories[batch], frame_index, batch))
                if frame_index == batch.frames[-1]:
                    del memories[batch]
            self._note_held(memories)
            current = _PendingFrame(
                frame_index, packed, [k for b in stepped for k in b.keys], self._to_host(logits)
            )
            # This frame's steps are queued: hand out the previous frame meanwhile.
            if pending is not None:
                yield pending.masks(self._keys)
            pending = current
        if pending is not None:
            yield pending.masks(self._keys)

    def _track_backward(self) -> dict[tuple[ObjectKey, int], PackedMask]:
        """Every backward batch, all sharing each frame's image features."""
        memories = {batch: self._batch_memory(batch) for batch in self._backward}
        results: dict[tuple[ObjectKey, int], PackedMask] = {}
        pending: _PendingFrame | None = None
        for frame_index in self._backward_frames:
            stepped = [batch for batch in self._backward if frame_index in batch.frames]
            logits = [self._step(memories[batch], frame_index, batch) for batch in stepped]
            self._note_held(memories)
            current = _PendingFrame(
                frame_index, {}, [k for b in stepped for k in b.keys], self._to_host(logits)
            )
            if pending is not None:
                self._pack(pending, results)
            pending = current
        if pending is not None:
            self._pack(pending, results)
        return results

    @staticmethod
    def _pack(frame: _PendingFrame, into: dict[tuple[ObjectKey, int], PackedMask]) -> None:
        for key, mask in zip(frame.stepped, frame.copying.result(), strict=True):
            into[(key, frame.frame_index)] = PackedMask.pack(mask)

    def _step(self, memory: SegmentMemory, frame_index: int, batch: SegmentBatch) -> torch.Tensor:
        """One batch's objects one frame on; their low-res mask logits, on the model's device."""
        self._use_frame(frame_index)
        # SAM 2's own single-frame step, as propagate_in_video runs it, here for all of the
        # batch's objects at once; a private method of the pinned sam2==1.1.0.
        output, low_res = self._sam2._run_single_frame_inference(
            inference_state=self._state,
            output_dict=memory.output_dict,
            frame_idx=frame_index,
            batch_size=len(batch.segments),
            is_init_cond_frame=False,
            point_inputs=None,
            mask_inputs=None,
            reverse=batch.reverse,
            run_mem_encoder=True,
        )
        memory.add(frame_index, output)
        self._after_step()
        logits: torch.Tensor = low_res
        return logits

    def _to_host(self, logits: list[torch.Tensor]) -> HostMasks:
        """One frame's stepped masks, at the video's size, on their way to the host."""
        if not logits:
            return HostMasks(None)
        batched = logits[0] if len(logits) == 1 else torch.cat(logits)
        return HostMasks(video_masks(batched, height=self._frames.height, width=self._frames.width))

    def _batched(self, *, reverse: bool, max_objects: int) -> list[SegmentBatch]:
        return batch_segments(
            [s for s in self._plan.segments if s.reverse == reverse],
            conditioning=self._conditioning,
            order=self._index,
            max_objects=max_objects,
        )

    def _conditioning(self, segment: Segment) -> list[int]:
        return segment.conditioning(self._prompts.objects[segment.key])

    def _batch_memory(self, batch: SegmentBatch) -> SegmentMemory:
        outputs = self._state["output_dict_per_obj"]
        conditioning = {
            frame_index: stack_outputs(
                [outputs[self._index[key]]["cond_frame_outputs"][frame_index] for key in batch.keys]
            )
            for frame_index in batch.conditioning
        }
        return SegmentMemory(conditioning=conditioning, reverse=batch.reverse, reach=self._reach)

    def _keyframes_to_decode(self) -> dict[int, list[ObjectKey]]:
        """Frame by frame (ascending), the objects whose prompt there must be decoded: the
        plan's keyframes and its segments' conditioning keyframes."""
        needed: set[tuple[ObjectKey, int]] = set(self._plan.keyframes)
        for segment in self._plan.segments:
            needed.update((segment.key, f) for f in self._conditioning(segment))
        by_frame: dict[int, list[ObjectKey]] = {}
        for key, frame_index in sorted(needed, key=lambda kf: (kf[1], self._index[kf[0]])):
            by_frame.setdefault(frame_index, []).append(key)
        return by_frame

    def _decode_keyframes(self) -> None:
        """Each keyframe's prompt decoded on its own (SAM on that image), then memory-encoded."""
        for obj_idx in range(len(self._keys)):
            # Registers the objects in order, so SAM 2's object index is our index in _keys.
            self._sam2._obj_id_to_idx(self._state, obj_idx)
        for frame_index, keys in self._keyframes.items():
            self._use_frame(frame_index)
            on_device: dict[ObjectKey, torch.Tensor] = {}
            for key in keys:
                prompt = self._prompts.objects[key][frame_index]
                mask = self._add_prompt(frame_index, self._index[key], prompt)
                self._encode_memory(frame_index, self._index[key])
                self._after_step()
                if (key, frame_index) not in self._plan.keyframes:
                    continue  # conditioning only: its mask is not wanted
                if isinstance(mask, torch.Tensor):
                    on_device[key] = mask
                else:
                    self._keyframe_masks[(key, frame_index)] = PackedMask.pack(mask)
            if on_device:
                copied = HostMasks(torch.stack(list(on_device.values()))).result()
                for key, host_mask in zip(on_device, copied, strict=True):
                    self._keyframe_masks[(key, frame_index)] = PackedMask.pack(host_mask)
        # Every output is in place already; SAM 2 checks each object has a keyframe.
        self._sam2.propagate_in_video_preflight(self._state)

    def _add_prompt(
        self, frame_index: int, obj_idx: int, prompt: FramePrompt
    ) -> Mask | torch.Tensor:
        """The prompt's mask: on the host for a mask prompt, else on the model's device."""
        if prompt.mask is not None:
            self._sam2.add_new_mask(
                self._state, frame_index, obj_idx, torch.from_numpy(prompt.mask)
            )
            # SAM 2 stores the mask at its low resolution; on its own frame the user's mask is
            # the answer, exactly.
            return prompt.mask
        box = prompt.box
        _, obj_ids, video_res = self._sam2.add_new_points_or_box(
            self._state,
            frame_index,
            obj_idx,
            points=[[c.x, c.y] for c in prompt.clicks] or None,
            labels=[1 if c.positive else 0 for c in prompt.clicks] or None,
            box=None if box is None else [box.x0, box.y0, box.x1, box.y1],
        )
        mask: torch.Tensor = video_res[list(obj_ids).index(obj_idx), 0] > 0.0
        return mask

    def _encode_memory(self, frame_index: int, obj_idx: int) -> None:
        """What propagate_in_video_preflight does to a prompted frame's output: SAM 2's memory
        encoder on its mask, the output moved to the object's conditioning outputs. Done here,
        while the frame's features are at hand; the preflight would revisit every keyframe."""
        output = self._state["temp_output_dict_per_obj"][obj_idx]["cond_frame_outputs"].pop(
            frame_index
        )
        if output["maskmem_features"] is None:
            size = self._sam2.image_size
            high_res = F.interpolate(
                output["pred_masks"].to(self._state["device"]),
                size=(size, size),
                mode="bilinear",
                align_corners=False,
            )
            output["maskmem_features"], output["maskmem_pos_enc"] = self._sam2._run_memory_encoder(
                inference_state=self._state,
                frame_idx=frame_index,
                batch_size=1,
                high_res_masks=high_res,
                object_score_logits=output["object_score_logits"],
                is_mask_from_pts=True,  # as the preflight has it for every prompt
            )
        self._state["output_dict_per_obj"][obj_idx]["cond_frame_outputs"][frame_index] = output

    def _use_frame(self, frame_index: int) -> None:
        # SAM 2's _get_image_feature finds the frame here and never runs the encoder itself.
        features = self._features.visit(frame_index, self._encode)
        self._state["cached_features"] = {frame_index: features}

    def _encode(self, frame_index: int) -> Features:
        # What SAM 2's _get_image_feature does when a frame is not cached.
        image = self._state["images"][frame_index].to(self._state["device"]).float().unsqueeze(0)
        backbone_out = self._sam2.forward_image(image)
        self._after_step()
        return image, backbone_out

    def _note_held(self, memories: Mapping[SegmentBatch, SegmentMemory]) -> None:
        held = sum(m.held_frames * len(b.segments) for b, m in memories.items())
        self.peak_held_frames = max(self.peak_held_frames, held)
