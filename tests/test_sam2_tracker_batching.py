"""The model side of a tracking run: each frame's image features computed once per run, objects
over the same frames stepped in one batched forward, masks made on the model's device and
copied to the host once per frame.

Real SAM 2.1 tiny, random weights, 256 px, CPU. Random masks mean nothing, but they are a
deterministic function of everything SAM 2 reads, so equal masks with and without sharing
features and batching objects show both change nothing.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from labelme_sam2.core.prompts import FramePrompt, ObjectKey, PromptSet
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.labelme_adapter.chunk import LabelmeChunk, read_folder
from labelme_sam2.sam2_tracker.frame_features import FrameFeatures
from labelme_sam2.sam2_tracker.frame_source import Sam2FrameSource
from labelme_sam2.sam2_tracker.host_masks import HostMasks, video_masks
from labelme_sam2.sam2_tracker.inference_state import new_inference_state
from labelme_sam2.sam2_tracker.segment_batches import batch_segments
from labelme_sam2.sam2_tracker.tracker import Sam2Tracker
from tests.conftest import copy_bedroom, shape

BOY = [[145.0, 130.0], [292.0, 405.0]]
GIRL = [[310.0, 0.0], [515.0, 395.0]]
PILLOW = [[600.0, 300.0], [800.0, 290.0], [850.0, 450.0], [700.0, 500.0], [620.0, 480.0]]
KEYS = [ObjectKey("boy", None), ObjectKey("girl", None), ObjectKey("pillow", None)]


def write_prompts(folder: Path, frame: int, shapes: list[dict[str, Any]]) -> None:
    document = {"shapes": shapes, "imagePath": f"{frame:05d}.jpg"}
    (folder / f"{frame:05d}.json").write_text(json.dumps(document))


def twelve_frames(tmp_path: Path) -> LabelmeChunk:
    """The boy from frame 0, the girl and the pillow (a polygon: a mask prompt) from frame 4,
    all three again on frame 8. Batches: girl+pillow backward 3..0 and forward 5..7, the boy
    alone 1..7, all three 9..11. Frames 0-8 are read by the keyframe decode or the backward
    pass and again by the forward sweep."""
    folder = copy_bedroom(tmp_path, frames=12)
    (folder / "00060.json").unlink(missing_ok=True)  # in the shared clip, beyond 12 frames
    write_prompts(folder, 0, [shape("boy", "rectangle", BOY)])
    write_prompts(
        folder,
        4,
        [shape("girl", "rectangle", GIRL), shape("pillow", "polygon", PILLOW)],
    )
    write_prompts(
        folder,
        8,
        [
            shape("boy", "rectangle", BOY),
            shape("girl", "point", [[400.0, 200.0]]),
            shape("pillow", "point", [[700.0, 400.0]]),
        ],
    )
    return read_folder(folder, warn=lambda _: None)


class ModelSpy:
    """Counts SAM 2's encoder calls (and which frames were read for them), its track_step calls
    with their batch sizes, and the tracker's after_step calls."""

    def __init__(self, sam2_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.encoded = 0
        self.frames_read: list[int] = []
        self.batch_sizes: list[int] = []
        self.hooks = 0
        forward_image, track_step = sam2_model.forward_image, sam2_model.track_step
        read = Sam2FrameSource.__getitem__

        def spy_forward_image(*args: Any, **kwargs: Any) -> Any:
            self.encoded += 1
            return forward_image(*args, **kwargs)

        def spy_track_step(*args: Any, **kwargs: Any) -> Any:
            self.batch_sizes.append(kwargs["current_vision_feats"][-1].shape[1])
            return track_step(*args, **kwargs)

        def spy_read(source: Sam2FrameSource, index: int) -> torch.Tensor:
            self.frames_read.append(index)
            return read(source, index)

        monkeypatch.setattr(sam2_model, "forward_image", spy_forward_image)
        monkeypatch.setattr(sam2_model, "track_step", spy_track_step)
        monkeypatch.setattr(Sam2FrameSource, "__getitem__", spy_read)

    def reset(self) -> None:
        self.encoded, self.frames_read, self.batch_sizes, self.hooks = 0, [], [], 0

    def hook(self) -> None:
        self.hooks += 1


def run(tracker: Sam2Tracker, chunk: LabelmeChunk, spy: ModelSpy) -> list[FrameMasks]:
    spy.reset()
    return list(tracker.track(chunk.frames, chunk.prompts, after_step=spy.hook))


def assert_same_masks(got: list[FrameMasks], expected: list[FrameMasks], *, pixels: int) -> None:
    """The same frames and objects, each mask differing in at most `pixels` pixels."""
    assert [r.frame_index for r in got] == [r.frame_index for r in expected] == list(range(12))
    for a, b in zip(got, expected, strict=True):
        assert list(a.masks) == list(b.masks) == KEYS
        for key in KEYS:
            differ = np.count_nonzero(a.masks[key] != b.masks[key])
            assert differ <= pixels, (a.frame_index, key, differ)


@pytest.mark.sam2
def test_each_frame_is_encoded_once_and_objects_over_the_same_frames_step_together(
    tmp_path: Path, tiny_sam2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunk = twelve_frames(tmp_path)
    spy = ModelSpy(tiny_sam2, monkeypatch)
    # SAM 2 decodes each of the 6 keyframe prompts with a track_step of its own, too.
    steps_one_by_one = [1] * (6 + 2 * 4 + 7 + 2 * 3 + 3 * 3)

    # The reference: one object per step, every visit to a frame encoding it again (as
    # SAM 2's one-frame feature cache does).
    reference = run(Sam2Tracker(tiny_sam2, max_batch_objects=1, kept_features_bytes=0), chunk, spy)
    assert spy.encoded == 3 + 4 + 10  # keyframes 0, 4, 8; backward 3..0; forward 1..7, 9..11
    assert spy.batch_sizes == steps_one_by_one
    # Not trivially equal masks: objects and frames differ.
    assert not np.array_equal(reference[10].masks[KEYS[0]], reference[10].masks[KEYS[1]])
    assert not np.array_equal(reference[2].masks[KEYS[1]], reference[10].masks[KEYS[1]])

    # Features kept for the frames read again: one encoder call per frame, the same masks.
    shared = run(Sam2Tracker(tiny_sam2, max_batch_objects=1), chunk, spy)
    assert spy.encoded == 12 and sorted(spy.frames_read) == list(range(12))
    assert spy.batch_sizes == steps_one_by_one
    assert_same_masks(shared, reference, pixels=0)

    # And objects batched: girl+pillow backward (4 frames), the boy alone (7), girl+pillow
    # (3), all three (3). Batched float sums round differently (logits differ by ~3e-7 here),
    # which can flip a pixel whose logit is ~0: random weights give logits of +-0.3 only.
    # Measured on an H200 at 1024, 3 objects over 30 frames: float32, 0-1 pixel per frame;
    # bfloat16 autocast, ~3-4.5k of 1.5M pixels per frame, not growing over the frames, where
    # bfloat16 against float32 (one object at a time) already differs in ~6-12k.
    batched = run(Sam2Tracker(tiny_sam2), chunk, spy)
    assert spy.encoded == 12 and sorted(spy.frames_read) == list(range(12))
    assert sorted(spy.batch_sizes) == sorted([1] * 6 + [2] * 4 + [1] * 7 + [2] * 3 + [3] * 3)
    # The hook runs after each encoder call, keyframe prompt and batch step.
    assert spy.hooks == 12 + 6 + 17
    assert_same_masks(batched, shared, pixels=3)


def test_segments_over_the_same_frames_are_batched_in_object_order_at_most_n_at_a_time() -> None:
    a, b, c, d = (ObjectKey(name, None) for name in "abcd")
    keyframes = {a: [0, 8], b: [0, 8], c: [0, 8], d: [0]}
    plan = TrackingPlan.everything(
        PromptSet({k: {f: FramePrompt(source="test") for f in fs} for k, fs in keyframes.items()}),
        frame_count=12,
    )
    forward = [s for s in plan.segments if not s.reverse]

    def batches(max_objects: int) -> list[tuple[list[str], int, int, tuple[int, ...]]]:
        found = batch_segments(
            reversed(forward),  # in object order whatever the plan's order
            conditioning=lambda s: s.conditioning(keyframes[s.key]),
            order={k: i for i, k in enumerate((a, b, c, d))},
            max_objects=max_objects,
        )
        return [
            ([k.label for k in x.keys], x.frames.start, x.frames.stop, x.conditioning)
            for x in found
        ]

    # d's segment from 0 ends at the video's end, the others' at their keyframe 8.
    assert sorted(batches(8)) == [
        (["a", "b", "c"], 1, 8, (0, 8)),
        (["a", "b", "c"], 9, 12, (8,)),
        (["d"], 1, 12, (0,)),
    ]
    assert sorted(batches(2)) == [
        (["a", "b"], 1, 8, (0, 8)),
        (["a", "b"], 9, 12, (8,)),
        (["c"], 1, 8, (0, 8)),
        (["c"], 9, 12, (8,)),
        (["d"], 1, 12, (0,)),
    ]
    assert all(len(keys) == 1 for keys, *_ in batches(1))


@pytest.mark.sam2
def test_position_encodings_are_the_same_for_every_frame(tmp_path: Path, tiny_sam2: Any) -> None:
    """Why kept frames can share one copy of them (frame_features.py)."""
    chunk = read_folder(copy_bedroom(tmp_path, frames=3), warn=lambda _: None)
    source = new_inference_state(tiny_sam2, chunk.frames)["images"]
    with torch.inference_mode():
        first, last = (tiny_sam2.forward_image(source[i].unsqueeze(0)) for i in (0, 2))
    assert not torch.equal(first["backbone_fpn"][-1], last["backbone_fpn"][-1])
    for a, b in zip(first["vision_pos_enc"], last["vision_pos_enc"], strict=True):
        assert torch.equal(a, b)


@pytest.mark.sam2
def test_a_finished_run_is_freed_at_once(tmp_path: Path, tiny_sam2: Any) -> None:
    """No reference cycle keeps a run's state (GPU memory, on CUDA) for the garbage collector."""
    from labelme_sam2.sam2_tracker import tracker as tracker_module

    folder = copy_bedroom(tmp_path, frames=2)
    (folder / "00060.json").unlink(missing_ok=True)
    chunk = read_folder(folder, warn=lambda _: None)
    gc.collect()
    gc.disable()
    try:
        assert len(list(Sam2Tracker(tiny_sam2).track(chunk.frames, chunk.prompts))) == 2
        alive = [o for o in gc.get_objects() if type(o) is tracker_module._Run]
    finally:
        gc.enable()
    assert alive == []


def fake_features(value: float) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
    """256 bytes of image and 256 of feature maps, plus position encodings (not counted)."""
    return torch.full((64,), float(value)), {
        "backbone_fpn": [torch.full((64,), float(value))],
        "vision_pos_enc": [torch.zeros(64)],
    }


def test_frames_read_again_are_kept_within_the_budget_furthest_next_read_out_first() -> None:
    encoded: list[int] = []

    def encode(frame: int) -> Any:
        encoded.append(frame)
        return fake_features(frame)

    # Keyframes 0 and 5, backward 4..0, forward 1..7: the shape of a run's reads.
    visits = [0, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7]
    features = FrameFeatures(visits, max_bytes=10_000)
    for frame in visits:
        assert features.visit(frame, encode)[0][0] == frame
        assert features.visit(frame, encode)[0][0] == frame  # several reads of one visit
    assert encoded == [0, 5, 4, 3, 2, 1, 6, 7]  # each frame once
    assert features.peak_kept == 5  # 0 and 5 (keyframes), then 4, 3 and 2 (backward)
    assert features.peek(7) is not None and features.peek(3) is None

    # Room for two kept frames: those read again soonest stay, the others are encoded again.
    encoded.clear()
    features = FrameFeatures(visits, max_bytes=2 * 512)
    for frame in visits:
        assert features.visit(frame, encode)[0][0] == frame
    assert features.peak_kept == 2
    # Through the backward pass 0 stays (read again first), with the frame read just before
    # (5, then 4, 3, 2): at its end 0, 1 and 2 are held, 3, 4 and 5 are encoded again.
    assert encoded == [0, 5, 4, 3, 2, 1, 3, 4, 5, 6, 7]

    # Kept frames share one copy of the position encodings.
    features = FrameFeatures([0, 1, 2, 1, 0])
    for frame in (0, 1, 2):
        features.visit(frame, encode)
    kept = [features.peek(frame) for frame in (0, 1)]
    assert kept[0] is not None and kept[1] is not None
    assert kept[0][1]["vision_pos_enc"][0] is kept[1][1]["vision_pos_enc"][0]

    # Nothing kept: every visit encodes (what SAM 2's one-frame cache does).
    encoded.clear()
    features = FrameFeatures(visits, max_bytes=0)
    for frame in visits:
        features.visit(frame, encode)
    assert encoded == visits


def test_a_seeded_frame_is_not_encoded() -> None:
    encoded: list[int] = []
    seed = fake_features(0)

    def encode(frame: int) -> Any:
        encoded.append(frame)
        return fake_features(frame)

    features = FrameFeatures([0], seed={0: seed})
    assert features.visit(0, encode) is seed and encoded == []
    assert features.peek(0) is seed


def test_masks_are_resized_as_sam2_does_and_copied_once_per_frame(tiny_sam2: Any) -> None:
    logits = torch.randn(3, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 4
    state = {"device": torch.device("cpu"), "video_height": 54, "video_width": 96}
    _, theirs = tiny_sam2._get_orig_video_res_output(state, logits)
    ours = video_masks(logits, height=54, width=96)
    assert ours.shape == (3, 54, 96) and ours.dtype == torch.bool
    assert torch.equal(ours, theirs[:, 0] > 0.0)
    # One object at a time gives the same masks as all of them at once.
    for i in range(3):
        assert torch.equal(video_masks(logits[i : i + 1], height=54, width=96)[0], ours[i])
    # Already at the video's size: only the threshold.
    assert torch.equal(video_masks(logits, height=64, width=64), logits[:, 0] > 0)

    host = HostMasks(ours).result()
    assert len(host) == 3 and all(m.dtype == bool and m.shape == (54, 96) for m in host)
    assert all(np.array_equal(m, ours[i].numpy()) for i, m in enumerate(host))
    assert HostMasks(None).result() == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_copy_goes_through_pinned_memory_and_is_complete_when_read() -> None:
    logits = torch.randn(4, 1, 256, 256, device="cuda") * 4
    masks = video_masks(logits, height=1080, width=1920)
    copying = HostMasks(masks)
    torch.cuda._sleep(50_000_000)  # keeps the stream busy after the copy was queued
    expected = masks.cpu().numpy()
    host = copying.result()
    assert all(np.array_equal(m, expected[i]) for i, m in enumerate(host))
    assert not any(torch.from_numpy(m).is_pinned() for m in host)  # copied out of the buffer
    # The resize matches the one on the host.
    on_host = video_masks(logits.cpu(), height=1080, width=1920).numpy()
    assert np.count_nonzero(on_host != expected) <= 0.0001 * on_host.size
