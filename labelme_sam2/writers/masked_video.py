"""FOLDER_masked.mp4: the frames with every tracked object filled (anonymised), H.264."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any, Literal

import imageio_ffmpeg
import numpy as np

from labelme_sam2.core.frames import Frames
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import replace_atomically

Fill = Literal["white", "avg"]


def fill_masks(rgb: np.ndarray, masks: list[np.ndarray], *, fill: Fill) -> np.ndarray:
    """White paint, or each object's region painted with its own mean colour on this frame."""
    out = rgb.copy()
    for mask in masks:
        if not mask.any():
            continue
        out[mask] = 255 if fill == "white" else rgb[mask].mean(axis=0).round().astype(np.uint8)
    return out


class MaskedVideoWriter:
    """Encodes each frame as it arrives (the pipeline delivers them in order)."""

    def __init__(self, frames: Frames, *, path: Path, fill: Fill, fps: float) -> None:
        self._frames = frames
        self._fill: Fill = fill
        self._fps = fps
        self.path = path
        self._next = 0
        self._temp: Path | None = None
        self._encoder: Generator[Any, Any, None] | None = None

    def write(self, result: FrameMasks) -> None:
        if result.frame_index != self._next:
            raise RuntimeError(f"video expected frame {self._next}, got {result.frame_index}")
        rgb = self._frames.read_rgb(self._next)
        self._encode(fill_masks(rgb, list(result.masks.values()), fill=self._fill))
        self._next += 1

    def close(self) -> None:
        if self._next != len(self._frames) or self._encoder is None or self._temp is None:
            raise RuntimeError(f"video got {self._next} of {len(self._frames)} frames")
        self._encoder.close()
        self._encoder = None
        replace_atomically(self._temp, self.path)

    def abort(self) -> None:
        if self._encoder is not None:
            self._encoder.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)

    def _encode(self, rgb: np.ndarray) -> None:
        if self._encoder is None:
            fd, name = tempfile.mkstemp(
                prefix=f".{self.path.stem}.", suffix=".mp4", dir=self.path.parent
            )
            os.close(fd)
            self._temp = Path(name)
            self._encoder = imageio_ffmpeg.write_frames(
                name,
                (self._frames.width, self._frames.height),
                fps=self._fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                macro_block_size=1,
                quality=None,
                ffmpeg_log_level="error",
                # yuv420p needs even sides; bitexact keeps re-runs byte-identical.
                output_params=[
                    "-crf",
                    "18",
                    "-vf",
                    "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                    "-fflags",
                    "+bitexact",
                    "-movflags",
                    "+faststart",
                ],
            )
            self._encoder.send(None)
        self._encoder.send(np.ascontiguousarray(rgb))
