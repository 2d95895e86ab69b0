"""render(): the outputs `track` writes, from the last run's masks, without the model."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.core.pipeline import Cancelled, FrameWriter, Progress, deliver
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.errors import InputError, Warn, log_warning
from labelme_sam2.labelme_adapter.track_input import open_track_input
from labelme_sam2.options import OutputOptions
from labelme_sam2.outputs import output_writers
from labelme_sam2.reruns import last_run_masks
from labelme_sam2.writers.by_chunk import WritersByChunk


@dataclass(frozen=True)
class RenderResult:
    frames: int
    objects: int
    outputs: tuple[str, ...]  # paths written, folders ending in / (none if cancelled)
    frames_written: int  # by every output: all frames, unless cancelled
    cancelled: bool = False

    def line(self) -> str:
        if self.cancelled:
            return (
                f"render cancelled after {self.frames_written} of {self.frames} frames: videos "
                "and pictures not written, mask folders partly updated"
            )
        return f"rendered {self.frames} frames x {self.objects} objects: {', '.join(self.outputs)}"


def render(
    path: Path | str,
    *,
    outputs: OutputOptions,
    prompts: Path | str | None = None,
    on_progress: Progress | None = None,
    cancel: threading.Event | None = None,
    warn: Warn = log_warning,
) -> RenderResult:
    """Write `outputs` for what `track` was given (`path`, and `prompts` for a video) from the
    masks its last run kept. The frames and prompts must be as that run left them: InputError
    saying to run `track` otherwise. Once `cancel` is set each output stops after the frame it
    is writing, every file old or new (the result says `cancelled`)."""
    path = Path(path)
    if not outputs.any():
        raise InputError(
            path, "nothing to render: ask for --video, --export, --previews or --contact-sheet"
        )
    track_input = open_track_input(
        path, prompts_folder=None if prompts is None else Path(prompts), warn=warn
    )
    read_masks = last_run_masks(track_input, warn=warn)
    objects = list(track_input.prompts.objects)
    written: list[str] = []
    per_chunk: list[list[FrameWriter]] = [
        output_writers(chunk, objects, outputs, written=written) for chunk in track_input.chunks
    ]
    frames = track_input.frames
    try:
        deliver(
            (FrameMasks(i, read_masks(i)) for i in range(len(frames))),
            writers=[WritersByChunk(track_input.offsets, per_chunk)],
            total=len(frames),
            on_progress=on_progress,
            cancel=cancel,
        )
    except Cancelled as stop:
        return RenderResult(
            frames=len(frames),
            objects=len(objects),
            outputs=(),  # aborted videos and pictures; folders half full (as for track)
            cancelled=True,
            frames_written=stop.frames_written,
        )
    return RenderResult(
        frames=len(frames),
        objects=len(objects),
        outputs=tuple(written),
        frames_written=len(frames),
    )
