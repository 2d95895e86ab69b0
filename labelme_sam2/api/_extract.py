"""extract(): a video's frames as numbered images with a manifest, ready for LabelMe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from labelme_sam2.video.extract import DEFAULT_QUALITY, ExtractSummary, ImageFormat, extract_video

log = logging.getLogger("labelme_sam2")


def extract(
    video: Path | str,
    *,
    out: Path | str | None = None,
    start: float | None = None,
    end: float | None = None,
    every: int | None = None,
    fps: float | None = None,
    chunk_seconds: float | None = None,
    image_format: ImageFormat = "jpg",
    quality: int | None = None,
    warn: Callable[[str], None] | None = None,
) -> ExtractSummary:
    """Write the chosen frames of `video` as 00000.jpg ... and manifest.json into `out`
    (default: the video's path without its extension), or into chunk folders of
    `chunk_seconds` each. `quality`: JPEG quality, 1 to 100 (default 95)."""
    warn = warn or log.warning
    if quality is not None and image_format != "jpg":
        warn(f"--quality applies to jpg only; {image_format} is lossless")
    return extract_video(
        Path(video),
        out=None if out is None else Path(out),
        start=start,
        end=end,
        every=every,
        fps=fps,
        chunk_seconds=chunk_seconds,
        image_format=image_format,
        quality=DEFAULT_QUALITY if quality is None else quality,
        warn=warn,
    )
