"""track(): a frame folder, a video with its prompts folder, or chunk folders -> masks in every
frame's LabelMe file, plus the outputs asked for. Re-runs recompute only what changed."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.core.pipeline import Cancelled, FrameWriter, Progress, RunSummary, propagate
from labelme_sam2.errors import Warn, log_warning
from labelme_sam2.formats.folder_lock import only_run_in
from labelme_sam2.labelme_adapter.edits_while_tracking import NotUpdated
from labelme_sam2.labelme_adapter.json_writer import LabelmeJsonWriter
from labelme_sam2.labelme_adapter.track_input import TrackInput, open_track_input
from labelme_sam2.models.loading import LoadedModel, load_model
from labelme_sam2.options import ModelOptions, OutputOptions
from labelme_sam2.outputs import output_writers
from labelme_sam2.reruns import MaskStore, MaskStoreWriter, plan_rerun
from labelme_sam2.writers.by_chunk import WritersByChunk


@dataclass(frozen=True)
class TrackResult:
    summary: RunSummary  # frames, objects, how many recomputed, seconds
    frames_written: int  # in every output: all of them, unless cancelled
    labelme_files_changed: int
    chunks: int  # chunk folders (1 for a frame folder or a video)
    outputs: tuple[str, ...]  # paths of the other outputs, folders ending in / (none if cancelled)
    model_label: str
    device: str
    cancelled: bool = False
    # LabelMe files the user saved during the run, left as saved (exit code 3 in the CLI)
    not_updated: tuple[NotUpdated, ...] = ()
    # LabelMe files written; after a cancel, outputs stop at different frames (core/stages.py)
    labelme_files_written: int | None = None

    def line(self) -> str:
        """What `labelme-sam2 track` prints."""
        frames = self.summary.frames
        if self.cancelled:
            done = f"cancelled after {self.frames_written} of {frames} frames"
        else:
            done = self.summary.line()
        changed = self.labelme_files_changed
        written = self.frames_written
        if self.labelme_files_written is not None:
            written = self.labelme_files_written
        labelme_files = f"{written} LabelMe files ({changed} changed)"
        outputs = list(self.outputs)
        if self.chunks > 1:
            labelme_files += f" in {self.chunks} chunk folders"
            outputs = [f"{len(outputs)} mask folders/videos beside them"] if outputs else []
        wrote = ", ".join([labelme_files, *outputs])
        line = f"{done}; wrote {wrote} on {self.device} with {self.model_label}"
        if self.not_updated:
            line += (
                f"; {len(self.not_updated)} LabelMe files left as saved during the run "
                "(see the warnings)"
            )
        return line


def track(
    path: Path | str,
    *,
    prompts: Path | str | None = None,
    model: ModelOptions | LoadedModel | None = None,
    outputs: OutputOptions | None = None,
    full: bool = False,
    on_progress: Progress | None = None,
    cancel: threading.Event | None = None,
    warn: Warn = log_warning,
) -> TrackResult:
    """Masks for every frame of `path` (see docs/api.md).

    Everything the user can get wrong (files, prompts, options, the checkpoint) raises a
    UserError before the model loads or anything is written. `on_progress(done, total)` runs
    after each frame is written; once `cancel` is set the tracker stops at its next model step
    and each output after the frame it is writing, every file old or new (the result says
    `cancelled`)."""
    track_input = open_track_input(
        Path(path), prompts_folder=None if prompts is None else Path(prompts), warn=warn
    )
    with only_run_in(track_input.store_folder):  # before the model takes seconds to load
        if not isinstance(model, LoadedModel):
            model = load_model(model or ModelOptions(), warn=warn)
        return track_loaded(
            track_input,
            model=model,
            outputs=outputs or OutputOptions(),
            full=full,
            on_progress=on_progress,
            cancel=cancel,
            warn=warn,
        )


def track_loaded(
    track_input: TrackInput,
    *,
    model: LoadedModel,
    outputs: OutputOptions,
    full: bool,
    on_progress: Progress | None,
    cancel: threading.Event | None,
    warn: Warn,
) -> TrackResult:
    store = MaskStore(track_input.store_folder)
    rerun = plan_rerun(track_input, store, model_identity=model.identity, full=full, warn=warn)
    objects = list(track_input.prompts.objects)
    json_writers: list[LabelmeJsonWriter] = []
    written: list[str] = []
    per_chunk: list[list[FrameWriter]] = []
    for chunk in track_input.chunks:
        json_writers.append(LabelmeJsonWriter(chunk, shape_format=outputs.shapes))
        others = output_writers(chunk, objects, outputs, written=written)
        per_chunk.append([json_writers[-1], *others])
    writers: list[FrameWriter] = [
        WritersByChunk(track_input.offsets, per_chunk),
        MaskStoreWriter(store, rerun.record),
    ]
    frames = track_input.frames
    cancelled_after: int | None = None
    try:
        summary = propagate(
            frames,
            track_input.prompts,
            tracker=model.tracker,
            writers=writers,
            plan=rerun.plan,
            last_run=rerun.last_run,
            on_progress=on_progress,
            cancel=cancel,
        )
    except Cancelled as stop:
        assert stop.summary is not None  # propagate() sets it
        cancelled_after, summary = stop.frames_written, stop.summary
    return TrackResult(
        summary=summary,
        frames_written=len(frames) if cancelled_after is None else cancelled_after,
        labelme_files_changed=sum(writer.files_changed for writer in json_writers),
        chunks=len(track_input.chunks),
        # A cancelled run's videos and sheets were aborted, its folders are half full.
        outputs=tuple(written) if cancelled_after is None else (),
        model_label=model.label,
        device=model.device,
        cancelled=cancelled_after is not None,
        not_updated=tuple(skipped for writer in json_writers for skipped in writer.not_updated),
        labelme_files_written=sum(writer.frames_written for writer in json_writers),
    )
