"""Device choice and the numeric settings SAM 2 recommends per device, in one place."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

from labelme_sam2.errors import UserError

DeviceName = Literal["auto", "cuda", "mps", "cpu"]


def select_device(name: DeviceName) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda", "no CUDA device is available to torch")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps", "no MPS device is available to torch")
    return torch.device(name)


@contextlib.contextmanager
def inference_context(device: torch.device) -> Iterator[None]:
    """No autograd; on CUDA, bf16 autocast and TF32 matmuls as SAM 2's examples use them.

    CPU and MPS run in float32: bf16 autocast on CPU is about 6x slower here.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode())
        if device.type == "cuda":
            if torch.cuda.get_device_properties(device).major >= 8:
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True
            stack.enter_context(torch.autocast("cuda", dtype=torch.bfloat16))
        yield


def gpu_bytes_allocated(device: str) -> int:
    """What torch holds on the GPU now (0 off CUDA), for the backend's /metrics."""
    return int(torch.cuda.memory_allocated()) if device == "cuda" else 0
