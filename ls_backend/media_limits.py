"""How much media one task may bring: frames per task (a video's, or a frame sequence's URLs)
and pixels per frame. Over a limit is a 4xx that names it and the setting that raises it,
before the frames are decoded (the core refuses over 8192x8192 pixels in any case)."""

from __future__ import annotations

from dataclasses import dataclass

from labelme_sam2.api import Frames
from ls_backend.errors import RequestError

DEFAULT_MAX_FRAMES = 20_000  # LABELME_SAM2_MAX_FRAMES: about 11 minutes at 30 fps
DEFAULT_MAX_FRAME_PIXELS = 4096 * 4096  # LABELME_SAM2_MAX_FRAME_MEGAPIXELS: 4K and then some


@dataclass(frozen=True)
class MediaLimits:
    max_frames: int = DEFAULT_MAX_FRAMES
    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS

    def check_count(self, frames: int, *, where: str) -> None:
        if frames > self.max_frames:
            raise RequestError(
                f"{where}: {frames} frames, over the limit of {self.max_frames} per task "
                "(LABELME_SAM2_MAX_FRAMES raises it)",
                status=413,
            )

    def check(self, frames: Frames, *, where: str) -> None:
        self.check_count(len(frames), where=where)
        pixels = frames.width * frames.height
        if pixels > self.max_frame_pixels:
            raise RequestError(
                f"{where}: frames of {frames.width}x{frames.height} are over the limit of "
                f"{self.max_frame_pixels / 1e6:g} megapixels (LABELME_SAM2_MAX_FRAME_MEGAPIXELS "
                "raises it)",
                status=413,
            )
