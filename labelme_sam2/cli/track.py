"""`labelme-sam2 track FOLDER`: validate everything, load SAM 2, propagate, write."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from labelme_sam2.core.pipeline import FrameWriter, propagate
from labelme_sam2.labelme_adapter.folder import read_folder
from labelme_sam2.labelme_adapter.json_writer import LabelmeJsonWriter
from labelme_sam2.models.registry import check_image_size, choose_model, default_checkpoints_dir
from labelme_sam2.writers.mask_pngs import MaskPngWriter
from labelme_sam2.writers.masked_video import MaskedVideoWriter


def warn(message: str) -> None:
    print(f"labelme-sam2: warning: {message}", file=sys.stderr)


def run_track(args: argparse.Namespace) -> int:
    # Everything the user can get wrong is checked before torch is even imported.
    check_image_size(args.image_size)
    folder = read_folder(args.folder, warn=warn)
    choice = choose_model(
        model=args.model,
        checkpoint=args.checkpoint,
        checkpoints_dir=args.checkpoints_dir or default_checkpoints_dir(),
    )

    from labelme_sam2.sam2_tracker.device import select_device
    from labelme_sam2.sam2_tracker.model import build_predictor
    from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

    device = select_device(args.device)
    if choice.random_weights:
        warn("random weights (--checkpoint random): the masks are meaningless; for tests only")
    predictor = build_predictor(choice, device=device, image_size=args.image_size)

    frames, prompts = folder.frames, folder.prompts
    json_writer = LabelmeJsonWriter(folder, shape_format=args.shape_format)
    writers: list[FrameWriter] = [json_writer]
    outputs: list[str] = []
    if args.save_masks:
        png_writer = MaskPngWriter(frames, list(prompts.objects))
        writers.append(png_writer)
        outputs.append(f"{png_writer.folder}/")
    if args.video == "masked":
        video_writer = MaskedVideoWriter(frames, fill=args.fill, fps=args.fps)
        writers.append(video_writer)
        outputs.append(str(video_writer.path))

    with tqdm(total=len(frames), unit="frame", desc="tracking", disable=None) as bar:
        summary = propagate(
            frames, prompts, tracker=Sam2Tracker(predictor), writers=writers, on_frame=bar.update
        )
    labelme_files = f"{len(frames)} LabelMe files ({json_writer.files_changed} changed)"
    written = ", ".join([labelme_files, *outputs])
    print(f"{summary.line()} on {device.type} with {choice.label}; wrote {written}")
    return 0
