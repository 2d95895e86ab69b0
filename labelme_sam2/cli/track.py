"""`labelme-sam2 track PATH`: masks for every frame, through labelme_sam2.api.track."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelme_sam2.api import track
from labelme_sam2.cli.console import progress_bar, warn
from labelme_sam2.cli.model_flags import add_model_arguments, model_options
from labelme_sam2.cli.output_flags import add_output_arguments, output_options
from labelme_sam2.options import SHAPE_FORMATS

NAME = "track"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="masks for every frame of a LabelMe frame folder, a video, or chunk folders",
        description="Read the LabelMe files, propagate their prompts with SAM 2 through every "
        "frame, and write the masks back. A re-run after editing prompts recomputes only the "
        "frames those edits affect.",
    )
    parser.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="a folder of frames (.jpg/.png) with LabelMe files; a video file (with --prompts); "
        "or a folder of chunk folders from `extract --chunk-seconds`, tracked as one video",
    )
    parser.add_argument(
        "--prompts",
        type=Path,
        default=None,
        metavar="DIR",
        help="for a video: the folder of LabelMe files named by frame number (00012.json is "
        "frame 12); the masks are written there, one file per frame",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="recompute every frame instead of only those the edited prompts affect",
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--as",
        dest="shape_format",
        choices=list(SHAPE_FORMATS),
        default="polygon",
        help="how masks go into the LabelMe files (default: polygon; mask keeps holes exactly)",
    )
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    # Everything the user can get wrong is checked before torch is even imported.
    model = model_options(args)
    outputs = output_options(args)
    with progress_bar("tracking") as on_progress:
        result = track(
            args.path,
            prompts=args.prompts,
            model=model,
            outputs=outputs,
            full=args.full,
            on_progress=on_progress,
            warn=warn,
        )
    print(result.line())
    for skipped in result.not_updated:
        warn(f"{skipped.path}: not updated: {skipped.reason}")
    # 3: finished, but some LabelMe files were saved meanwhile and keep the user's version
    return 3 if result.not_updated else 0
