"""SAM 2's mask logits to boolean masks at the video's size, on the model's device, and to the
host in one copy per frame.

The resize is the one SAM 2 applies to its outputs (_get_orig_video_res_output: bilinear,
align_corners=False, on the logits), then > 0. On CUDA the copy goes into pinned memory without
blocking, so the GPU can run the next frame while the host waits for this one's masks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from labelme_sam2.core.mask import Mask


def video_masks(logits: torch.Tensor, *, height: int, width: int) -> torch.Tensor:
    """N x 1 x h x w mask logits -> N x height x width booleans, on the logits' device."""
    if logits.shape[-2:] != (height, width):
        logits = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
    return logits[:, 0] > 0.0


class HostMasks:
    """One frame's N x H x W boolean masks, copied to the host; result() waits for the copy."""

    def __init__(self, masks: torch.Tensor | None) -> None:
        self._event: torch.cuda.Event | None = None
        self._source: torch.Tensor | None = None
        if masks is None or masks.device.type != "cuda":
            # CPU: already there; MPS: a plain (blocking) copy.
            self._host = None if masks is None else masks.cpu()
            return
        self._host = torch.empty(masks.shape, dtype=masks.dtype, pin_memory=True)
        self._host.copy_(masks, non_blocking=True)
        self._event = torch.cuda.Event()
        self._event.record(torch.cuda.current_stream(masks.device))
        # The source stays referenced until the copy is done, so that its memory cannot be
        # handed to other work meanwhile, whichever stream that work runs on.
        self._source = masks

    def result(self) -> list[Mask]:
        if self._host is None:
            return []
        if self._event is not None:
            # The pinned buffer is only valid once the copy is done; its contents are then
            # copied out, so no mask handed out pins host memory while it lives.
            self._event.synchronize()
            self._source = None
            masks: np.ndarray = self._host.numpy().copy()
        else:
            masks = self._host.numpy()
        return list(masks)
