"""`labelme-sam2 render PATH`: videos, mask layers and pictures from the last `track` run's
masks, without loading the model."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from labelme_sam2.cli.console import warn
from labelme_sam2.cli.outputs import output_writers, wants_outputs
from labelme_sam2.cli.stored_masks import open_stored_masks
from labelme_sam2.core.pipeline import FrameWriter, deliver
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.errors import InputError
from labelme_sam2.labelme_adapter.track_input import open_track_input
from labelme_sam2.writers.by_part import WritersByPart


def run_render(args: argparse.Namespace) -> int:
    if not wants_outputs(args):
        raise InputError(
            args.path, "nothing to render: ask for --video, --export, --previews or --contact-sheet"
        )
    track_input = open_track_input(args.path, prompts_folder=args.prompts, warn=warn)
    read_masks = open_stored_masks(track_input)
    objects = list(track_input.prompts.objects)
    written: list[str] = []
    per_part: list[list[FrameWriter]] = [
        output_writers(part, objects, args, written=written) for part in track_input.parts
    ]
    frames = track_input.frames
    results = (FrameMasks(i, read_masks(i)) for i in range(len(frames)))
    with tqdm(total=len(frames), unit="frame", desc="rendering", disable=None) as bar:
        deliver(
            results, writers=[WritersByPart(track_input.offsets, per_part)], on_frame=bar.update
        )
    print(f"rendered {len(frames)} frames x {len(objects)} objects: {', '.join(written)}")
    return 0
