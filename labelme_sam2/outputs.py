"""The writers an OutputOptions asks for, for one chunk; each output goes beside the frame
folder (or the video): FOLDER_masked.mp4, FOLDER_davis/ ..."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labelme_sam2.core.pipeline import FrameWriter
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.labelme_adapter.chunk import LabelmeChunk
from labelme_sam2.options import OutputOptions
from labelme_sam2.writers.coco_json import CocoJsonWriter
from labelme_sam2.writers.indexed_pngs import IndexedPngWriter
from labelme_sam2.writers.mask_pngs import MaskPngWriter
from labelme_sam2.writers.pictures import ContactSheetWriter, PromptPreviewWriter
from labelme_sam2.writers.videos import RenderedVideoWriter, masked_drawer, overlay_drawer
from labelme_sam2.writers.yolo_labels import YoloLabelsWriter

DEFAULT_FPS = 30.0


def output_writers(
    chunk: LabelmeChunk,
    objects: Sequence[ObjectKey],
    options: OutputOptions,
    *,
    written: list[str],
) -> list[FrameWriter]:
    """The writers `options` asks for, for one chunk; their paths are added to `written`."""
    base: Path = chunk.output_base

    def beside(suffix: str) -> Path:
        return base.with_name(f"{base.name}{suffix}")

    frames = chunk.frames  # decoded once for the tracker and every writer (SharedFrames)
    writers: list[FrameWriter] = []

    def add(writer: FrameWriter, path: Path, *, folder: bool = False) -> None:
        writers.append(writer)
        written.append(f"{path}/" if folder else str(path))

    layers = set(options.layers)
    if "png" in layers:
        folder = beside("_masks")
        add(MaskPngWriter(frames, list(objects), folder=folder), folder, folder=True)
    if "davis" in layers:
        folder = beside("_davis")
        add(IndexedPngWriter(frames, objects, folder=folder), folder, folder=True)
    if "coco" in layers:
        path = beside("_coco.json")
        add(CocoJsonWriter(frames, objects, path=path, image_names=chunk.image_names), path)
    if "yolo" in layers:
        folder = beside("_yolo")
        add(YoloLabelsWriter(frames, objects, folder=folder), folder, folder=True)
    fps = options.fps or chunk.fps or DEFAULT_FPS
    for kind in dict.fromkeys(options.videos):
        draw = masked_drawer(options.fill) if kind == "masked" else overlay_drawer(objects)
        path = beside(f"_{kind}.mp4")
        video = RenderedVideoWriter(
            frames, path=path, draw=draw, fps=fps, with_original=options.side_by_side
        )
        add(video, path)
    if options.previews and chunk.prompts.objects:
        folder = beside("_prompts")
        add(PromptPreviewWriter(frames, objects, chunk.prompts, folder=folder), folder, folder=True)
    if options.contact_sheet:
        path = beside("_contact.png")
        add(ContactSheetWriter(frames, objects, path=path, tiles=options.contact_sheet), path)
    return writers
