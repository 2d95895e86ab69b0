"""`labelme-sam2 render PATH`: videos, mask layers and pictures from the last `track` run's
masks, without loading the model."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelme_sam2.api import render
from labelme_sam2.cli.console import progress_bar, warn
from labelme_sam2.cli.output_flags import add_output_arguments, output_options

NAME = "render"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="videos, mask layers and pictures from the last `track` run, without the model",
        description="Write the outputs `track` can write (videos, mask layers, previews, a "
        "contact sheet) from the masks of the last `track` run on PATH. The model is not "
        "loaded; PATH's frames and prompts must be as that run left them.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="what `track` was given")
    parser.add_argument("--prompts", type=Path, default=None, metavar="DIR", help="as for track")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with progress_bar("rendering") as on_progress:
        result = render(
            args.path,
            prompts=args.prompts,
            outputs=output_options(args),
            on_progress=on_progress,
            warn=warn,
        )
    print(result.line())
    return 0
