"""FOLDER_masked.mp4 (objects filled: anonymised) and FOLDER_overlay.mp4 (the preview), each
optionally side by side with the original frame."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.render.fills import Fill, fill_masks
from labelme_sam2.render.overlay import draw_overlay, object_layers, side_by_side
from labelme_sam2.writers.h264_file import H264File

FrameDrawer = Callable[[np.ndarray, FrameMasks], np.ndarray]


def masked_drawer(fill: Fill) -> FrameDrawer:
    return lambda rgb, result: fill_masks(rgb, list(result.masks.values()), fill=fill)


def overlay_drawer(objects: Sequence[ObjectKey]) -> FrameDrawer:
    return lambda rgb, result: draw_overlay(rgb, object_layers(result.masks, objects))


class RenderedVideoWriter:
    """Encodes each frame as it arrives (the pipeline delivers them in order)."""

    def __init__(
        self,
        frames: Frames,
        *,
        path: Path,
        draw: FrameDrawer,
        fps: float,
        with_original: bool = False,
    ) -> None:
        self._frames = frames
        self._draw = draw
        self._with_original = with_original
        self._file = H264File(path, fps=fps)
        self.path = path

    def write(self, result: FrameMasks) -> None:
        expected = self._file.frames_written
        if result.frame_index != expected:
            raise RuntimeError(f"video expected frame {expected}, got {result.frame_index}")
        rgb = self._frames.read_rgb(result.frame_index)
        drawn = self._draw(rgb, result)
        self._file.add(side_by_side(rgb, drawn) if self._with_original else drawn)

    def close(self) -> None:
        if self._file.frames_written != len(self._frames):
            raise RuntimeError(
                f"video got {self._file.frames_written} of {len(self._frames)} frames"
            )
        self._file.finish()

    def abort(self) -> None:
        self._file.discard()
