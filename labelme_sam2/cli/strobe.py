"""`labelme-sam2 strobe PATH --frames 54,72,84 --highlight 96:orange,133:red`: the tracked
objects at several moments in one picture, through labelme_sam2.api.strobe."""

from __future__ import annotations

import argparse
from pathlib import Path

from labelme_sam2.api import strobe
from labelme_sam2.cli.console import warn
from labelme_sam2.render.colors import RGB, parse_color
from labelme_sam2.render.strobe import PLATE_SAMPLES

NAME = "strobe"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME,
        help="a stroboscopic picture: the tracked objects at several frames over one background",
        description="Paint the tracked objects of the chosen frames over one background: "
        "--frames as translucent ghosts, --highlight frames opaque, tinted and outlined. "
        "Frames are painted in ascending order, so where two overlap the later is on top. "
        "Reads the masks of the last `track` run; the model is not loaded.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="what `track` was given")
    parser.add_argument("--prompts", type=Path, default=None, metavar="DIR", help="as for track")
    parser.add_argument(
        "--frames",
        type=_frame_list,
        default=[],
        metavar="N,N,...",
        help="frames shown as ghosts: indices from 0, in the order `track` reads the frames "
        "(for 00000.jpg... folders, the file number)",
    )
    parser.add_argument(
        "--highlight",
        type=_highlight_list,
        default=[],
        metavar="N:COLOUR,...",
        help="frames shown opaque and tinted, e.g. 96:orange,133:#ff0000",
    )
    parser.add_argument(
        "--background",
        default=None,
        metavar="FILE|plate",
        help="an image the size of the frames; or `plate`: the median of "
        f"{PLATE_SAMPLES} evenly spaced frames over the pixels no object covers (the empty "
        "scene, for a still camera) (default: the last chosen frame)",
    )
    parser.add_argument(
        "--objects",
        type=lambda text: [label.strip() for label in text.split(",") if label.strip()],
        default=None,
        metavar="LABEL,...",
        help="only these labels (default: every tracked object)",
    )
    parser.add_argument(
        "--ghost-alpha",
        type=_fraction,
        default=0.5,
        metavar="A",
        help="opacity of the ghosts, 0 to 1 (default: 0.5)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the picture, .png or .jpg (default: FOLDER_strobe.png beside the folder or video)",
    )


def run(args: argparse.Namespace) -> int:
    result = strobe(
        args.path,
        frames=args.frames,
        highlights=dict(args.highlight),
        background=args.background,
        objects=args.objects,
        ghost_alpha=args.ghost_alpha,
        out=args.out,
        prompts=args.prompts,
        warn=warn,
    )
    print(result.line())
    return 0


def _frame_list(text: str) -> list[int]:
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 54,72,84") from None
    if not numbers or min(numbers) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: frame numbers are 0 or more")
    return numbers


def _highlight_list(text: str) -> list[tuple[int, RGB]]:
    pairs: list[tuple[int, RGB]] = []
    for item in (part.strip() for part in text.split(",")):
        frame, _, colour = item.partition(":")
        try:
            pairs.append((_frame_list(frame)[0], parse_color(colour)))
        except (ValueError, argparse.ArgumentTypeError) as error:
            raise argparse.ArgumentTypeError(f"{item!r}: want FRAME:COLOUR ({error})") from None
    return pairs


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1")
    return value
