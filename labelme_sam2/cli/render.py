"""`labelme-sam2 render PATH`: videos, mask layers and pictures from the last `track` run's
masks, without loading the model."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelme_sam2.api import render
from labelme_sam2.cli.cancel_signals import cancel_on_signals
from labelme_sam2.cli.console import INTERRUPTED
from labelme_sam2.cli.output_flags import add_output_arguments, output_options
from labelme_sam2.cli.progress_json import render_done_event, run_with_json_events
from labelme_sam2.cli.reporters import Reporter, ToPerson, add_progress_argument

NAME = "render"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="videos, mask layers and pictures from the last `track` run, without the model",
        description="Write the outputs `track` can write (videos, mask layers, previews, a "
        "contact sheet) from the masks of the last `track` run on PATH. The model is not "
        "loaded; PATH's frames and prompts must be as that run left them. Ctrl-C (or SIGTERM) "
        "stops after the frame being written, every file old or new, exit code 130.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="what `track` was given")
    parser.add_argument("--prompts", type=Path, default=None, metavar="DIR", help="as for track")
    add_output_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.progress == "json":
        return run_with_json_events(lambda events: render_and_report(args, reporter=events))
    return render_and_report(args, reporter=ToPerson("rendering"))


def render_and_report(args: argparse.Namespace, *, reporter: Reporter) -> int:
    outputs = output_options(args)
    with cancel_on_signals() as cancel, reporter.progress() as on_progress:
        result = render(
            args.path,
            prompts=args.prompts,
            outputs=outputs,
            on_progress=on_progress,
            cancel=cancel,
            warn=reporter.warn,
        )
    print(result.line(), flush=True)
    reporter.finished(render_done_event(result))
    return INTERRUPTED if result.cancelled else 0
