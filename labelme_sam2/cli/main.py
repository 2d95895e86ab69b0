"""Entry point: parse the command line, run one subcommand, turn user errors into one line.

Subcommand modules are imported only when chosen, so `download` runs without torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from labelme_sam2 import __version__
from labelme_sam2.errors import UserError
from labelme_sam2.models.registry import DEFAULT_MODEL, MODELS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelme-sam2",
        description="Propagate LabelMe boxes and clicks through a video with SAM 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    track = commands.add_parser(
        "track",
        help="masks for every frame of a LabelMe frame folder",
        description="Read the LabelMe files beside the frames, propagate their prompts with "
        "SAM 2 through every frame, and write the masks back.",
    )
    track.add_argument(
        "folder", type=Path, help="folder of frames (.jpg/.jpeg/.png) and LabelMe JSON"
    )
    add_model_arguments(track)
    track.add_argument(
        "--as",
        dest="shape_format",
        choices=["polygon", "mask"],
        default="polygon",
        help="how masks go into the LabelMe files (default: polygon; mask keeps holes exactly)",
    )
    track.add_argument(
        "--save-masks",
        action="store_true",
        help="also write FOLDER_masks/: one PNG per frame and a folder of PNGs per object",
    )
    track.add_argument(
        "--video", choices=["masked"], help="also write FOLDER_masked.mp4 (objects filled)"
    )
    track.add_argument(
        "--fill",
        choices=["white", "avg"],
        default="white",
        help="fill for --video masked: white, or each object's mean colour (default: white)",
    )
    track.add_argument("--fps", type=float, default=30.0, help="video frame rate (default: 30)")

    download = commands.add_parser(
        "download", help="download and verify a SAM 2 checkpoint into the checkpoints folder"
    )
    download.add_argument("model", choices=list(MODELS), metavar="MODEL", help=", ".join(MODELS))
    download.add_argument("--checkpoints-dir", type=Path, default=None)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=list(MODELS),
        metavar="NAME",
        help=f"SAM 2 model (default: {DEFAULT_MODEL}); one of: {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="weights file (default: CHECKPOINTS_DIR/<model>.pt)",
    )
    parser.add_argument(
        "--checkpoints-dir",
        type=Path,
        default=None,
        help="where checkpoints live (default: $LABELME_SAM2_CHECKPOINTS or ./checkpoints)",
    )
    parser.add_argument(
        "--device",
        choices=["auto", "cuda", "mps", "cpu"],
        default="auto",
        help="where SAM 2 runs (default: auto = cuda, else mps, else cpu)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="N",
        help="SAM 2 input size, a multiple of 32 (default: the model's 1024); for tests and speed",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "track":
            from labelme_sam2.cli.track import run_track

            return run_track(args)
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
