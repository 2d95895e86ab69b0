"""`labelme-sam2 track PATH`: masks for every frame, through labelme_sam2.api.track."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelme_sam2.api import track
from labelme_sam2.cli.cancel_signals import cancel_on_signals
from labelme_sam2.cli.console import INTERRUPTED, NOT_UPDATED
from labelme_sam2.cli.model_flags import add_model_arguments, model_options
from labelme_sam2.cli.output_flags import add_output_arguments, output_options
from labelme_sam2.cli.progress_json import done_event, run_with_json_events
from labelme_sam2.cli.reporters import Reporter, ToPerson, add_progress_argument
from labelme_sam2.cli.server_client import SERVER_AUTH_ENV
from labelme_sam2.cli.track_on_server import (
    check_server_flags,
    track_on_server,
    with_model_defaults,
)
from labelme_sam2.options import SHAPE_FORMATS

NAME = "track"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="masks for every frame of a LabelMe frame folder, a video, or chunk folders",
        description="Read the LabelMe files, propagate their prompts with SAM 2 through every "
        "frame, and write the masks back. A re-run after editing prompts recomputes only the "
        "frames those edits affect. Ctrl-C (or SIGTERM) stops after the frame being written, "
        "every file old or new, prints the summary and exits with code 130; a second Ctrl-C "
        "stops at once. Exit codes: 0 done, 2 bad input or options (one line says which), 3 "
        "done but LabelMe files saved during the run were left as saved, 130 cancelled.",
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
    # None when not given: --server refuses them given, a local run fills in the defaults.
    parser.set_defaults(model=None, device=None)
    parser.add_argument(
        "--server",
        default=None,
        metavar="URL",
        help="track on a team server's model (`labelme-sam2 serve`, e.g. http://sam2:9090) "
        "instead of here: PATH must be a folder on a disk the server shares, at the same path, "
        f"under its LABELME_SAM2_MEDIA_ROOTS; basic auth from {SERVER_AUTH_ENV}=user:password. "
        "Progress, summary and exit codes as a local run; the model flags and outputs other "
        "than the LabelMe files are not taken",
    )
    parser.add_argument(
        "--as",
        dest="shape_format",
        choices=list(SHAPE_FORMATS),
        default="polygon",
        help="how masks go into the LabelMe files (default: polygon; mask keeps holes exactly)",
    )
    add_output_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.progress == "json":
        return run_with_json_events(lambda events: track_and_report(args, reporter=events))
    return track_and_report(args, reporter=ToPerson("tracking"))


def track_and_report(args: argparse.Namespace, *, reporter: Reporter) -> int:
    if args.server is not None:
        check_server_flags(args)
        return track_on_server(args, reporter=reporter)
    # Everything the user can get wrong is checked before torch is even imported.
    model = model_options(with_model_defaults(args))
    outputs = output_options(args)
    with cancel_on_signals() as cancel, reporter.progress() as on_progress:
        result = track(
            args.path,
            prompts=args.prompts,
            model=model,
            outputs=outputs,
            full=args.full,
            on_progress=on_progress,
            cancel=cancel,
            warn=reporter.warn,
        )
    print(result.line(), flush=True)
    for skipped in result.not_updated:
        reporter.warn(f"{skipped.path}: not updated: {skipped.reason}")
    reporter.finished(done_event(result))
    if result.cancelled:
        return INTERRUPTED
    return NOT_UPDATED if result.not_updated else 0
