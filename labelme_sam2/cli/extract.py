"""`labelme-sam2 extract VIDEO`: the video's frames as numbered images, through
labelme_sam2.api.extract."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelme_sam2.api import extract
from labelme_sam2.cli.progress_json import extract_done_event, run_with_json_events
from labelme_sam2.cli.reporters import Reporter, ToPerson, add_progress_argument

NAME = "extract"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="a video's frames as numbered images (a frame folder for LabelMe and track)",
        description="Decode a video into 00000.jpg, 00001.jpg ... plus a manifest.json that maps "
        "every file to its source frame number and time. Re-running into the same folder "
        "rewrites it; a folder holding anything else is refused.",
    )
    parser.add_argument("video", type=Path, help="video file (.mp4, .mov, .mkv, .avi ...)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: the video's path without its extension: clip.mp4 -> clip/)",
    )
    parser.add_argument(
        "--start",
        type=float,
        default=None,
        metavar="S",
        help="first second to take: frames at S s or later (default: 0)",
    )
    parser.add_argument(
        "--end",
        type=float,
        default=None,
        metavar="S",
        help="take frames before S s only, S excluded (default: to the end)",
    )
    thin = parser.add_mutually_exclusive_group()
    thin.add_argument(
        "--every",
        type=int,
        default=None,
        metavar="N",
        help="keep every Nth frame of those between --start and --end (default: 1, all)",
    )
    thin.add_argument(
        "--fps",
        type=float,
        default=None,
        metavar="F",
        help="keep about F frames a second, picked by timestamp, never repeated; at or above "
        "the video's rate all are kept (default: all frames)",
    )
    parser.add_argument(
        "--chunk-seconds",
        type=float,
        default=None,
        metavar="S",
        help="split into folders of S seconds of video each, named 001_f000000-000599 ... "
        "(chunk number, first-last source frame) (default: one folder)",
    )
    parser.add_argument(
        "--format",
        choices=["jpg", "png"],
        default="jpg",
        help="image files: jpg, or png for lossless and larger (default: jpg)",
    )
    parser.add_argument(
        "--quality",
        type=int,
        default=None,
        metavar="Q",
        help="JPEG quality, 1 to 100 (default: 95)",
    )
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.progress == "json":
        return run_with_json_events(lambda events: extract_and_report(args, reporter=events))
    return extract_and_report(args, reporter=ToPerson("extracting"))


def extract_and_report(args: argparse.Namespace, *, reporter: Reporter) -> int:
    with reporter.progress() as on_progress:
        summary = extract(
            args.video,
            out=args.out,
            start=args.start,
            end=args.end,
            every=args.every,
            fps=args.fps,
            chunk_seconds=args.chunk_seconds,
            image_format=args.format,
            quality=args.quality,
            on_progress=on_progress,
            warn=reporter.warn,
        )
    print(summary.line(), flush=True)
    reporter.finished(extract_done_event(summary))
    return 0
