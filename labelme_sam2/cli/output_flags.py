"""The output flags `track` and `render` share, parsed into OutputOptions."""

from __future__ import annotations

import argparse

from labelme_sam2.errors import UserError
from labelme_sam2.options import (
    MAX_CONTACT_TILES,
    VIDEO_KINDS,
    OutputOptions,
    check_layer_kinds,
)
from labelme_sam2.render.fills import FILL_CHOICES, Fill

DEFAULT_CONTACT_TILES = 12


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("outputs (beside the frame folder or video: FOLDER_...)")
    group.add_argument(
        "--video",
        action="append",
        choices=VIDEO_KINDS,
        default=[],
        help="FOLDER_masked.mp4 (objects filled, see --fill) or FOLDER_overlay.mp4 (each object "
        "tinted, outlined and named); repeat for both. H.264, plays in browsers",
    )
    group.add_argument(
        "--fill",
        type=_fill,
        default=OutputOptions().fill,
        metavar="FILL",
        help=f"what --video masked puts over the objects: {FILL_CHOICES} (avg: each object's "
        f"mean colour on that frame) (default: {OutputOptions().fill.kind})",
    )
    group.add_argument(
        "--side-by-side",
        action="store_true",
        help="videos show the original frame on the left of the result",
    )
    group.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frame rate of the videos (default: the source video's or extract's, else 30)",
    )
    group.add_argument(
        "--export",
        type=_layer_kinds,
        action="extend",
        default=[],
        metavar="KINDS",
        help="mask layers, comma-separated: png (FOLDER_masks/: all objects white on black, and "
        "a folder per object), davis (FOLDER_davis/: indexed PNGs, value = object index, with "
        "objects.csv), coco (FOLDER_coco.json: RLE per object per frame, boxes), yolo "
        "(FOLDER_yolo/: segmentation polygons and data.yaml)",
    )
    group.add_argument(
        "--save-masks",
        action="store_true",
        help="the same as --export png",
    )
    group.add_argument(
        "--previews",
        action="store_true",
        help="FOLDER_prompts/<frame>.png for each prompted frame: boxes, positive (green) and "
        "negative (red) points, and the masks on that frame",
    )
    group.add_argument(
        "--contact-sheet",
        type=_tile_count,
        nargs="?",
        const=DEFAULT_CONTACT_TILES,
        default=None,
        metavar="N",
        help=f"FOLDER_contact.png: N evenly spaced frames with overlays "
        f"(default N: {DEFAULT_CONTACT_TILES})",
    )


def output_options(args: argparse.Namespace) -> OutputOptions:
    layers = [*args.export, *(["png"] if args.save_masks else [])]
    return OutputOptions(
        videos=tuple(args.video),
        fill=args.fill,
        side_by_side=args.side_by_side,
        fps=args.fps,
        layers=tuple(dict.fromkeys(layers)),
        previews=args.previews,
        contact_sheet=args.contact_sheet,
        shapes=getattr(args, "shape_format", "polygon"),
    )


def _fill(text: str) -> Fill:
    try:
        return Fill.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _layer_kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    try:
        check_layer_kinds(kinds or [text])
    except UserError as error:
        raise argparse.ArgumentTypeError(error.problem) from None
    return kinds


def _tile_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_CONTACT_TILES:
        raise argparse.ArgumentTypeError(f"need a whole number from 1 to {MAX_CONTACT_TILES}")
    return count
