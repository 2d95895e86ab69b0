"""`labelme-sam2 strobe PATH --frames 54,72,84 --highlight 96:orange,133:red`: the tracked
objects at several moments in one picture, from the last `track` run's masks."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from labelme_sam2.cli.console import warn
from labelme_sam2.cli.stored_masks import open_stored_masks
from labelme_sam2.core.frames import load_rgb
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.errors import InputError
from labelme_sam2.formats.atomic import write_atomically
from labelme_sam2.labelme_adapter.track_input import TrackInput, open_track_input
from labelme_sam2.render.colors import RGB, parse_color
from labelme_sam2.render.contact_sheet import evenly_spaced
from labelme_sam2.render.strobe import PLATE_SAMPLES, StrobeLayer, clean_plate, compose_strobe


def add_strobe_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    strobe = commands.add_parser(
        "strobe",
        help="a stroboscopic picture: the tracked objects at several frames over one background",
        description="Paint the tracked objects of the chosen frames over one background: "
        "--frames as translucent ghosts, --highlight frames opaque, tinted and outlined. "
        "Frames are painted in ascending order, so where two overlap the later is on top. "
        "Reads the masks of the last `track` run; the model is not loaded.",
    )
    strobe.add_argument("path", type=Path, metavar="PATH", help="what `track` was given")
    strobe.add_argument("--prompts", type=Path, default=None, metavar="DIR", help="as for track")
    strobe.add_argument(
        "--frames",
        type=_frame_list,
        default=[],
        metavar="N,N,...",
        help="frames shown as ghosts: indices from 0, in the order `track` reads the frames "
        "(for 00000.jpg... folders, the file number)",
    )
    strobe.add_argument(
        "--highlight",
        type=_highlight_list,
        default=[],
        metavar="N:COLOUR,...",
        help="frames shown opaque and tinted, e.g. 96:orange,133:#ff0000",
    )
    strobe.add_argument(
        "--background",
        default=None,
        metavar="FILE|plate",
        help="an image the size of the frames; or `plate`: the median of "
        f"{PLATE_SAMPLES} evenly spaced frames over the pixels no object covers (the empty "
        "scene, for a still camera) (default: the last chosen frame)",
    )
    strobe.add_argument(
        "--objects",
        type=lambda text: [label.strip() for label in text.split(",") if label.strip()],
        default=None,
        metavar="LABEL,...",
        help="only these labels (default: every tracked object)",
    )
    strobe.add_argument(
        "--ghost-alpha",
        type=_fraction,
        default=0.5,
        metavar="A",
        help="opacity of the ghosts, 0 to 1 (default: 0.5)",
    )
    strobe.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the picture, .png or .jpg (default: FOLDER_strobe.png beside the folder or video)",
    )


def run_strobe(args: argparse.Namespace) -> int:
    if not args.frames and not args.highlight:
        raise InputError(args.path, "no frames chosen: give --frames and/or --highlight")
    track_input = open_track_input(args.path, prompts_folder=args.prompts, warn=warn)
    read_masks = open_stored_masks(track_input)
    frames = track_input.frames
    highlights: dict[int, RGB] = dict(args.highlight)
    chosen = sorted(set(args.frames) | set(highlights))
    beyond = [i for i in chosen if i >= len(frames)]
    if beyond:
        raise InputError(
            args.path, f"frame {beyond[0]} is beyond the last frame ({len(frames) - 1})"
        )
    keys = _chosen_objects(track_input, args.objects)
    out = args.out or _default_path(track_input)
    kind = _image_format(out)  # refused before any frame is read

    def objects_on(frame_index: int) -> np.ndarray:
        masks = read_masks(frame_index)
        union = np.zeros((frames.height, frames.width), dtype=bool)
        for key in keys:
            union |= masks[key]
        return union

    if args.background == "plate":
        samples = evenly_spaced(PLATE_SAMPLES, frame_count=len(frames))
        background = clean_plate(
            [frames.read_rgb(i) for i in samples], [objects_on(i) for i in samples]
        )
    elif args.background is not None:
        background = _background_file(
            Path(args.background), width=frames.width, height=frames.height
        )
    else:  # a real frame stays sharp when the camera moves, which a plate does not
        background = frames.read_rgb(chosen[-1])
    layers = [StrobeLayer(i, frames.read_rgb(i), objects_on(i), highlights.get(i)) for i in chosen]
    picture = compose_strobe(background, layers, ghost_alpha=args.ghost_alpha)
    write_atomically(out, _image_bytes(picture, kind=kind))
    print(f"wrote {out}: {len(chosen)} frames of {', '.join(k.display_name for k in keys)}")
    return 0


def _chosen_objects(track_input: TrackInput, labels: list[str] | None) -> list[ObjectKey]:
    objects = list(track_input.prompts.objects)
    if labels is None:
        return objects
    known = {key.label for key in objects}
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise InputError(
            track_input.store_folder,
            f"no tracked object labelled {unknown[0]!r} (tracked: {', '.join(sorted(known))})",
        )
    return [key for key in objects if key.label in labels]


def _background_file(path: Path, *, width: int, height: int) -> np.ndarray:
    rgb = load_rgb(path)
    if rgb.shape[:2] != (height, width):
        raise InputError(
            path, f"is {rgb.shape[1]}x{rgb.shape[0]} but the frames are {width}x{height}"
        )
    return rgb


def _default_path(track_input: TrackInput) -> Path:
    base = track_input.output_base
    return base.with_name(f"{base.name}_strobe.png")


def _image_format(path: Path) -> str:
    kind = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower())
    if kind is None:
        raise InputError(path, "the picture must be .png or .jpg")
    return kind


def _image_bytes(rgb: np.ndarray, *, kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format=kind, quality=95)
    return buffer.getvalue()


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
