"""Build SAM 2's video model (sam2's SAM2VideoPredictor) from a resolved model choice."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import shutil
import sys
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
    choice: ModelChoice,
    *,
    device: torch.device,
    image_size: int | None = None,
    compile: bool = False,
) -> SAM2VideoPredictor:
    """`compile`: sam2's vos_optimized model (SAM2VideoPredictorVOS), whose image encoder,
    memory attention, memory encoder, prompt encoder and mask decoder run torch.compile'd.
    It is a SAM2VideoPredictor overriding only those calls, so our tracker drives it as it
    is. The caller checks compile_unavailable(device) first."""
    check_image_size(image_size)
    overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
    # Without the optional CUDA extension (SAM2_BUILD_CUDA=0) SAM 2 only skips hole filling
    # of tiny mask holes, and says so on every run; that is expected here.
    warnings.filterwarnings("ignore", message=r"cannot import name '_C' from 'sam2'")
    # sam2 announces compiling with print(); stdout is for our own results.
    announcements = contextlib.redirect_stdout(sys.stderr) if compile else contextlib.nullcontext()
    try:
        with torch.random.fork_rng(devices=[]), announcements:
            torch.manual_seed(RANDOM_WEIGHTS_SEED)  # random weights are the same on every run
            sam2_model = build_sam2_video_predictor(
                choice.config,
                ckpt_path=None if choice.checkpoint is None else str(choice.checkpoint),
                device=device,
                hydra_overrides_extra=overrides,
                vos_optimized=compile,
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


def compile_unavailable(device: torch.device) -> str | None:
    """Why torch.compile of SAM 2 cannot run on `device`, or None when it can."""
    # sam2 compiles with mode="max-autotune" (Triton kernels, CUDA graphs): CUDA only.
    if device.type != "cuda":
        return f"needs a CUDA GPU, not {device.type}"
    if importlib.util.find_spec("triton") is None:
        return "needs triton, which is not installed"
    # Triton builds its kernel launcher with the C compiler it finds this way.
    if not (os.environ.get("CC") or shutil.which("gcc") or shutil.which("clang")):
        return "needs a C compiler for triton (gcc, clang or $CC), none found"
    return None


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
