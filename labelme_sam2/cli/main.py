"""Entry point: parse the command line, run one subcommand, turn user errors into one line.

Subcommand modules are imported only when chosen, so `download` runs without torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from labelme_sam2 import __version__
from labelme_sam2.cli.model_loading import add_model_arguments
from labelme_sam2.cli.outputs import add_output_arguments
from labelme_sam2.cli.strobe import add_strobe_parser
from labelme_sam2.errors import UserError
from labelme_sam2.models.registry import MODELS

PLUGIN_GROUP = "labelme_sam2.commands"


def build_parser(plugins: Sequence[CommandPlugin] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelme-sam2",
        description="Propagate LabelMe boxes and clicks through a video with SAM 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    track = commands.add_parser(
        "track",
        help="masks for every frame of a LabelMe frame folder, a video, or chunk folders",
        description="Read the LabelMe files, propagate their prompts with SAM 2 through every "
        "frame, and write the masks back. A re-run after editing prompts recomputes only the "
        "frames those edits affect.",
    )
    track.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="a folder of frames (.jpg/.png) with LabelMe files; a video file (with --prompts); "
        "or a folder of chunk folders from `extract --chunk-seconds`, tracked as one video",
    )
    track.add_argument(
        "--prompts",
        type=Path,
        default=None,
        metavar="DIR",
        help="for a video: the folder of LabelMe files named by frame number (00012.json is "
        "frame 12); the masks are written there, one file per frame",
    )
    track.add_argument(
        "--full",
        action="store_true",
        help="recompute every frame instead of only those the edited prompts affect",
    )
    add_model_arguments(track)
    track.add_argument(
        "--as",
        dest="shape_format",
        choices=["polygon", "mask"],
        default="polygon",
        help="how masks go into the LabelMe files (default: polygon; mask keeps holes exactly)",
    )
    add_output_arguments(track)

    render = commands.add_parser(
        "render",
        help="videos, mask layers and pictures from the last `track` run, without the model",
        description="Write the outputs `track` can write (videos, mask layers, previews, a "
        "contact sheet) from the masks of the last `track` run on PATH. The model is not "
        "loaded; PATH's frames and prompts must be as that run left them.",
    )
    render.add_argument("path", type=Path, metavar="PATH", help="what `track` was given")
    render.add_argument("--prompts", type=Path, default=None, metavar="DIR", help="as for track")
    add_output_arguments(render)
    add_strobe_parser(commands)

    add_extract_parser(commands)
    for plugin in plugins:
        plugin.add_parser(commands)

    download = commands.add_parser(
        "download", help="download and verify a SAM 2 checkpoint into the checkpoints folder"
    )
    download.add_argument("model", choices=list(MODELS), metavar="MODEL", help=", ".join(MODELS))
    download.add_argument("--checkpoints-dir", type=Path, default=None)
    return parser


def add_extract_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    extract = commands.add_parser(
        "extract",
        help="a video's frames as numbered images (a frame folder for LabelMe and track)",
        description="Decode a video into 00000.jpg, 00001.jpg ... plus a manifest.json that maps "
        "every file to its source frame number and time. Re-running into the same folder "
        "rewrites it; a folder holding anything else is refused.",
    )
    extract.add_argument("video", type=Path, help="video file (.mp4, .mov, .mkv, .avi ...)")
    extract.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: the video's path without its extension: clip.mp4 -> clip/)",
    )
    extract.add_argument(
        "--start",
        type=float,
        default=None,
        metavar="S",
        help="first second to take: frames at S s or later (default: 0)",
    )
    extract.add_argument(
        "--end",
        type=float,
        default=None,
        metavar="S",
        help="take frames before S s only, S excluded (default: to the end)",
    )
    thin = extract.add_mutually_exclusive_group()
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
    extract.add_argument(
        "--chunk-seconds",
        type=float,
        default=None,
        metavar="S",
        help="split into folders of S seconds of video each, named 001_f000000-000599 ... "
        "(chunk number, first-last source frame) (default: one folder)",
    )
    extract.add_argument(
        "--format",
        choices=["jpg", "png"],
        default="jpg",
        help="image files: jpg, or png for lossless and larger (default: jpg)",
    )
    extract.add_argument(
        "--quality",
        type=int,
        default=None,
        metavar="Q",
        help="JPEG quality, 1 to 100 (default: 95)",
    )


class CommandPlugin(Protocol):
    """A subcommand another package adds (entry point group `labelme_sam2.commands`), such as
    the Label Studio backend's `serve`: this package never imports those packages itself."""

    NAME: str

    def add_parser(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def installed_plugins() -> list[CommandPlugin]:
    """Every installed command plugin; one that fails to load is named and left out, so the
    other commands still work."""
    plugins = []
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugins.append(entry.load())
        except (ImportError, AttributeError) as error:
            print(
                f"labelme-sam2: warning: command {entry.name!r} not loaded ({error})",
                file=sys.stderr,
            )
    return plugins


def main(argv: Sequence[str] | None = None) -> int:
    plugins = {plugin.NAME: plugin for plugin in installed_plugins()}
    args = build_parser(list(plugins.values())).parse_args(argv)
    try:
        if args.command in plugins:
            return plugins[args.command].run(args)
        if args.command == "track":
            from labelme_sam2.cli.track import run_track

            return run_track(args)
        if args.command == "render":
            from labelme_sam2.cli.render import run_render

            return run_render(args)
        if args.command == "strobe":
            from labelme_sam2.cli.strobe import run_strobe

            return run_strobe(args)
        if args.command == "extract":
            from labelme_sam2.cli.extract import run_extract

            return run_extract(args)
        from labelme_sam2.cli.download import run_download

        return run_download(args)
    except UserError as error:
        print(f"labelme-sam2: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labelme-sam2: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
