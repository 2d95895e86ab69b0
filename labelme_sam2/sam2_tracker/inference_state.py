"""SAM 2's inference state, fed by our frame source instead of init_state's loader."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sam2.sam2_video_predictor import SAM2VideoPredictor

from labelme_sam2.core.frames import Frames
from labelme_sam2.sam2_tracker.frame_source import Sam2FrameSource


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
