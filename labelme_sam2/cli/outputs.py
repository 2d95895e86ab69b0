"""The output flags `track` and `render` share, and the writers they ask for, per part.

Each output goes beside the frame folder (or the video): FOLDER_masked.mp4, FOLDER_davis/ ...
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from labelme_sam2.core.frames import LastFrameKept
from labelme_sam2.core.pipeline import FrameWriter
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.labelme_adapter.folder import LabelmeFolder
from labelme_sam2.render.fills import FILL_CHOICES, Fill
from labelme_sam2.writers.coco_json import CocoJsonWriter
from labelme_sam2.writers.indexed_pngs import IndexedPngWriter
from labelme_sam2.writers.mask_pngs import MaskPngWriter
from labelme_sam2.writers.pictures import ContactSheetWriter, PromptPreviewWriter
from labelme_sam2.writers.videos import RenderedVideoWriter, masked_drawer, overlay_drawer
from labelme_sam2.writers.yolo_labels import YoloLabelsWriter

DEFAULT_FPS = 30.0
VIDEO_KINDS = ("masked", "overlay")
LAYER_KINDS = ("png", "davis", "coco", "yolo")
DEFAULT_CONTACT_TILES = 12
MAX_CONTACT_TILES = 100


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
        default=Fill("white"),
        metavar="FILL",
        help=f"what --video masked puts over the objects: {FILL_CHOICES} (avg: each object's "
        "mean colour on that frame) (default: white)",
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


def wants_outputs(args: argparse.Namespace) -> bool:
    return bool(args.video or args.export or args.save_masks or args.previews or args.contact_sheet)


def output_writers(
    part: LabelmeFolder,
    objects: Sequence[ObjectKey],
    args: argparse.Namespace,
    *,
    written: list[str],
) -> list[FrameWriter]:
    """The writers the output flags ask for, for one part; their paths are added to `written`."""
    base: Path = part.output_base

    def beside(suffix: str) -> Path:
        return base.with_name(f"{base.name}{suffix}")

    frames = LastFrameKept(part.frames)
    writers: list[FrameWriter] = []

    def add(writer: FrameWriter, path: Path, *, folder: bool = False) -> None:
        writers.append(writer)
        written.append(f"{path}/" if folder else str(path))

    layers = set(args.export) | ({"png"} if args.save_masks else set())
    if "png" in layers:
        folder = beside("_masks")
        add(MaskPngWriter(frames, list(objects), folder=folder), folder, folder=True)
    if "davis" in layers:
        folder = beside("_davis")
        add(IndexedPngWriter(frames, objects, folder=folder), folder, folder=True)
    if "coco" in layers:
        path = beside("_coco.json")
        add(CocoJsonWriter(frames, objects, path=path, image_names=part.image_names), path)
    if "yolo" in layers:
        folder = beside("_yolo")
        add(YoloLabelsWriter(frames, objects, folder=folder), folder, folder=True)
    fps = args.fps or part.fps or DEFAULT_FPS
    for kind in dict.fromkeys(args.video):
        draw = masked_drawer(args.fill) if kind == "masked" else overlay_drawer(objects)
        path = beside(f"_{kind}.mp4")
        video = RenderedVideoWriter(
            frames, path=path, draw=draw, fps=fps, with_original=args.side_by_side
        )
        add(video, path)
    if args.previews and part.prompts.objects:
        folder = beside("_prompts")
        add(PromptPreviewWriter(frames, objects, part.prompts, folder=folder), folder, folder=True)
    if args.contact_sheet:
        path = beside("_contact.png")
        add(ContactSheetWriter(frames, objects, path=path, tiles=args.contact_sheet), path)
    return writers


def _fill(text: str) -> Fill:
    try:
        return Fill.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _layer_kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in LAYER_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown kind {', '.join(unknown) or text!r}: use {', '.join(LAYER_KINDS)}"
        )
    return kinds


def _tile_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_CONTACT_TILES:
        raise argparse.ArgumentTypeError(f"need a whole number from 1 to {MAX_CONTACT_TILES}")
    return count
