"""Build SAM 2's video model (sam2's SAM2VideoPredictor) from a resolved model choice."""

from __future__ import annotations

import pickle
import warnings
import zipfile
from typing import Any

import torch
from sam2.build_sam import build_sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

from labelme_sam2.errors import CheckpointError
from labelme_sam2.models.registry import ModelChoice, check_image_size

RANDOM_WEIGHTS_SEED = 0


def build_sam2(
    choice: ModelChoice, *, device: torch.device, image_size: int | None = None
) -> SAM2VideoPredictor:
    check_image_size(image_size)
    overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
    # Without the optional CUDA extension (SAM2_BUILD_CUDA=0) SAM 2 only skips hole filling
    # of tiny mask holes, and says so on every run; that is expected here.
    warnings.filterwarnings("ignore", message=r"cannot import name '_C' from 'sam2'")
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)  # random weights are the same on every run
            sam2_model = build_sam2_video_predictor(
                choice.config,
                ckpt_path=None if choice.checkpoint is None else str(choice.checkpoint),
                device=device,
                hydra_overrides_extra=overrides,
            )
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, KeyError) as error:
        where = choice.checkpoint or choice.config
        detail = str(error) or "its weights do not match the model config"
        raise CheckpointError(
            where, f"cannot load {choice.label} ({detail}); check --model matches the file"
        ) from error
    if device.type != "cuda":
        sam2_model.memory_attention.register_forward_pre_hook(_float32_memory, with_kwargs=True)
    return sam2_model


def _float32_memory(
    module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # SAM 2 always stores memory features as bfloat16 to save space; without CUDA autocast
    # they must be float32 again before they meet float32 weights.
    return args, {
        name: value.float()
        if isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16
        else value
        for name, value in kwargs.items()
    }
