"""`labelme-sam2 track PATH`: validate everything, load SAM 2, propagate, write.

A re-run after the user edited some prompts recomputes only the segments those edits touch
(core/segments.py) and takes every other mask from the last run's store.
"""

from __future__ import annotations

import argparse

from tqdm import tqdm

from labelme_sam2.cli.console import warn
from labelme_sam2.cli.model_loading import load_model, resolve_model_choice
from labelme_sam2.cli.outputs import output_writers
from labelme_sam2.cli.stored_masks import holds_these_frames, run_record
from labelme_sam2.core.pipeline import FrameWriter, PreviousMasks, propagate
from labelme_sam2.core.segments import TrackingPlan, plan_changes
from labelme_sam2.core.tracking import Tracker
from labelme_sam2.formats.mask_store import MaskStore, MaskStoreWriter, RunRecord
from labelme_sam2.labelme_adapter.json_writer import LabelmeJsonWriter
from labelme_sam2.labelme_adapter.track_input import TrackInput, open_track_input
from labelme_sam2.models.registry import check_image_size
from labelme_sam2.writers.by_part import WritersByPart


def run_track(args: argparse.Namespace) -> int:
    # Everything the user can get wrong is checked before torch is even imported.
    check_image_size(args.image_size)
    track_input = open_track_input(args.path, prompts_folder=args.prompts, warn=warn)
    choice = resolve_model_choice(args)
    model = load_model(choice, args)
    line = track_and_write(track_input, tracker=model.tracker, settings=model.settings, args=args)
    print(f"{line} on {model.device} with {choice.label}")
    return 0


def track_and_write(
    track_input: TrackInput, *, tracker: Tracker, settings: str, args: argparse.Namespace
) -> str:
    """Track (only what changed since the last run with the same `settings`, unless
    args.full) and write every output; returns the summary line."""
    store = MaskStore(track_input.store_folder)
    plan, previous, record = _plan(track_input, store, settings=settings, full=args.full)
    json_writers: list[LabelmeJsonWriter] = []
    outputs: list[str] = []
    per_part: list[list[FrameWriter]] = []
    for part in track_input.parts:
        json_writers.append(LabelmeJsonWriter(part, shape_format=args.shape_format))
        others = output_writers(part, list(track_input.prompts.objects), args, written=outputs)
        per_part.append([json_writers[-1], *others])
    writers: list[FrameWriter] = [
        WritersByPart(track_input.offsets, per_part),
        MaskStoreWriter(store, record),
    ]
    frames = track_input.frames
    with tqdm(total=len(frames), unit="frame", desc="tracking", disable=None) as bar:
        summary = propagate(
            frames,
            track_input.prompts,
            tracker=tracker,
            writers=writers,
            plan=plan,
            previous=previous,
            on_frame=bar.update,
        )
    changed = sum(writer.files_changed for writer in json_writers)
    labelme_files = f"{len(frames)} LabelMe files ({changed} changed)"
    if len(track_input.parts) > 1:
        labelme_files += f" in {len(track_input.parts)} chunk folders"
        outputs = [f"{len(outputs)} mask folders/videos beside them"] if outputs else []
    return f"{summary.line()}; wrote {', '.join([labelme_files, *outputs])}"


def _plan(
    track_input: TrackInput, store: MaskStore, *, settings: str, full: bool
) -> tuple[TrackingPlan, PreviousMasks | None, RunRecord]:
    """What to compute, where the rest comes from, and the record this run will leave."""
    frames, prompts = track_input.frames, track_input.prompts
    record = run_record(track_input, settings=settings)
    everything = TrackingPlan.everything(prompts, frame_count=len(frames))
    last = store.record()
    if (
        full
        or last is None
        or last["settings"] != settings
        or not holds_these_frames(store, last, record)
    ):
        return everything, None, record
    plan = plan_changes(
        prompts,
        frame_count=len(frames),
        done_segments=set(last["segments"]),
        done_keyframes=set(last["keyframes"]),
    )
    return plan, store.read, record
