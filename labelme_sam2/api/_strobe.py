"""strobe(): the tracked objects at several moments in one picture, from the last run's
masks, without the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelme_sam2.core.frames import load_rgb
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.errors import InputError, Warn, log_warning
from labelme_sam2.formats.atomic import write_atomically
from labelme_sam2.formats.images import ImageKind, image_bytes
from labelme_sam2.labelme_adapter.track_input import TrackInput, open_track_input
from labelme_sam2.render.colors import RGB
from labelme_sam2.render.contact_sheet import evenly_spaced
from labelme_sam2.render.strobe import PLATE_SAMPLES, StrobeLayer, clean_plate, compose_strobe
from labelme_sam2.reruns import last_run_masks

PLATE = "plate"


@dataclass(frozen=True)
class StrobeResult:
    path: Path
    frames: tuple[int, ...]
    objects: tuple[ObjectKey, ...]

    def line(self) -> str:
        names = ", ".join(key.display_name for key in self.objects)
        return f"wrote {self.path}: {len(self.frames)} frames of {names}"


def strobe(
    path: Path | str,
    *,
    frames: Sequence[int] = (),
    highlights: Mapping[int, RGB] | None = None,
    background: Path | str | None = None,
    objects: Sequence[str] | None = None,
    ghost_alpha: float = 0.5,
    out: Path | str | None = None,
    prompts: Path | str | None = None,
    warn: Warn = log_warning,
) -> StrobeResult:
    """Paint the objects of `frames` as ghosts and of `highlights` opaque and tinted, in frame
    order (the later on top), over `background`: an image file, "plate" (the median of evenly
    spaced frames where no object is) or, by default, the last chosen frame. `objects`: only
    these labels. `out`: .png or .jpg (default: FOLDER_strobe.png beside the folder)."""
    path = Path(path)
    highlights = dict(highlights or {})
    if not frames and not highlights:
        raise InputError(path, "no frames chosen: give --frames and/or --highlight")
    track_input = open_track_input(
        path, prompts_folder=None if prompts is None else Path(prompts), warn=warn
    )
    read_masks = last_run_masks(track_input, warn=warn)
    video = track_input.frames
    chosen = sorted(set(frames) | set(highlights))
    if chosen[0] < 0:  # the CLI refuses these; a library caller may pass them
        raise InputError(path, f"frame {chosen[0]}: frame numbers are 0 or more")
    beyond = [i for i in chosen if i >= len(video)]
    if beyond:
        raise InputError(path, f"frame {beyond[0]} is beyond the last frame ({len(video) - 1})")
    keys = _chosen_objects(track_input, objects)
    out = Path(out) if out is not None else _default_path(track_input)
    kind = _image_format(out)  # refused before any frame is read

    def objects_on(frame_index: int) -> Mask:
        masks = read_masks(frame_index)
        union = np.zeros((video.height, video.width), dtype=bool)
        for key in keys:
            union |= masks[key]
        return union

    if background == PLATE:
        samples = evenly_spaced(PLATE_SAMPLES, frame_count=len(video))
        plate = clean_plate([video.read_rgb(i) for i in samples], [objects_on(i) for i in samples])
    elif background is not None:
        plate = _background_file(Path(background), width=video.width, height=video.height)
    else:  # a real frame stays sharp when the camera moves, which a plate does not
        plate = video.read_rgb(chosen[-1])
    layers = [StrobeLayer(i, video.read_rgb(i), objects_on(i), highlights.get(i)) for i in chosen]
    picture = compose_strobe(plate, layers, ghost_alpha=ghost_alpha)
    write_atomically(out, image_bytes(picture, kind=kind, quality=95))
    return StrobeResult(path=out, frames=tuple(chosen), objects=tuple(keys))


def _chosen_objects(track_input: TrackInput, labels: Sequence[str] | None) -> list[ObjectKey]:
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


def _image_format(path: Path) -> ImageKind:
    kinds: dict[str, ImageKind] = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
    kind = kinds.get(path.suffix.lower())
    if kind is None:
        raise InputError(path, "the picture must be .png or .jpg")
    return kind
