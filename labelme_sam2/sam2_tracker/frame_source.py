"""Frames as SAM 2 wants them, decoded on demand instead of all held in memory.

SAM 2's own loader takes only folders of integer-named JPEGs and keeps every frame as a
float32 tensor; this one reads any Frames (folder or video) and decodes a frame when SAM 2
asks for it.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from labelme_sam2.core.frames import Frames

# SAM 2's input normalisation (ImageNet mean and std), as in sam2.utils.misc.
IMAGE_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
IMAGE_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


class Sam2FrameSource:
    def __init__(self, frames: Frames, *, image_size: int) -> None:
        self._frames = frames
        self._image_size = image_size

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: int) -> torch.Tensor:
        """Frame `index` squashed to image_size x image_size (as SAM 2 does), normalised."""
        rgb = Image.fromarray(self._frames.read_rgb(index))
        square = rgb.resize((self._image_size, self._image_size), Image.Resampling.BICUBIC)
        pixels = torch.from_numpy(np.asarray(square, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (pixels - IMAGE_MEAN) / IMAGE_STD
