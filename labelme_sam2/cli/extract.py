"""`labelme-sam2 extract VIDEO`: the video's frames as numbered images, ready for LabelMe."""

from __future__ import annotations

import argparse

from labelme_sam2.cli.console import warn
from labelme_sam2.video.extract import DEFAULT_QUALITY, extract_video


def run_extract(args: argparse.Namespace) -> int:
    if args.quality is not None and args.format != "jpg":
        warn(f"--quality applies to jpg only; {args.format} is lossless")
    summary = extract_video(
        args.video,
        out=args.out,
        start=args.start,
        end=args.end,
        every=args.every,
        fps=args.fps,
        chunk_seconds=args.chunk_seconds,
        image_format=args.format,
        quality=DEFAULT_QUALITY if args.quality is None else args.quality,
        warn=warn,
    )
    print(summary.line())
    return 0
