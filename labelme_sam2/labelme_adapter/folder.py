"""Read a LabelMe frame folder: its frames, its LabelMe files, and the prompts drawn in them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelme_sam2.core.frames import FrameSequence, find_frames
from labelme_sam2.core.prompts import PromptSet, validate
from labelme_sam2.errors import InputError
from labelme_sam2.formats.labelme_json import read_document
from labelme_sam2.labelme_adapter.shapes_to_prompts import add_shapes


@dataclass(frozen=True)
class LabelmeFolder:
    frames: FrameSequence
    documents: dict[int, tuple[Path, dict[str, Any]]]  # frame index -> (file, parsed JSON)
    prompts: PromptSet


def read_folder(folder: Path, *, warn: Callable[[str], None]) -> LabelmeFolder:
    """Everything needed to track `folder`, fully validated before any model is loaded."""
    frames = find_frames(folder)
    index_by_stem = {stem: i for i, stem in enumerate(frames.stems)}
    documents: dict[int, tuple[Path, dict[str, Any]]] = {}
    prompts = PromptSet()
    skipped_types: set[str] = set()
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() == ".json"):
        frame_index = index_by_stem.get(path.stem)
        if frame_index is None:
            warn(f"{path}: no frame named {path.stem}.jpg/.png beside it; file ignored")
            continue
        document = read_document(path)
        _check_image_size(path, document, frames)
        add_shapes(
            prompts,
            document["shapes"],
            frame_index=frame_index,
            source=str(path),
            width=frames.width,
            height=frames.height,
            skipped_types=skipped_types,
        )
        documents[frame_index] = (path, document)
    for shape_type in sorted(skipped_types):
        warn(f"{folder}: '{shape_type}' shapes are not SAM 2 prompts; skipped")
    validate(prompts, width=frames.width, height=frames.height, where=str(folder))
    return LabelmeFolder(frames=frames, documents=documents, prompts=prompts)


def _check_image_size(path: Path, document: dict[str, Any], frames: FrameSequence) -> None:
    width, height = document.get("imageWidth"), document.get("imageHeight")
    if width is None and height is None:
        return
    if (width, height) != (frames.width, frames.height):
        raise InputError(
            path,
            f"imageWidth x imageHeight is {width}x{height} but the frame is "
            f"{frames.width}x{frames.height}; the prompts were drawn on another image",
        )
