"""Track a folder with the scripted tracker and any outputs, through the public API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelme_sam2.api import Mask, ObjectKey, OutputOptions, TrackResult, track
from labelme_sam2.labelme_adapter.track_input import TrackInput, open_track_input
from tests.scripted_tracker import ScriptedTracker, scripted_mask, scripted_model


def track_scripted(
    path: Path,
    *,
    prompts: Path | None = None,
    tracker: ScriptedTracker | None = None,
    identity: str = "s",
    full: bool = False,
    **outputs: Any,
) -> TrackResult:
    """labelme_sam2.api.track with the scripted tracker; `outputs` are OutputOptions fields."""
    return track(
        path,
        prompts=prompts,
        model=scripted_model(tracker, identity=identity),
        outputs=OutputOptions(**outputs),
        full=full,
    )


def track_with_outputs(path: Path, **outputs: Any) -> TrackInput:
    track_scripted(path, **outputs)
    return open_track_input(path, prompts_folder=None, warn=lambda _: None)


def expected_masks(track_input: TrackInput, frame_index: int) -> dict[ObjectKey, Mask]:
    """What the scripted tracker gave each object on that frame."""
    frames = track_input.frames
    return {
        key: scripted_mask(i, frame_index, width=frames.width, height=frames.height)
        for i, key in enumerate(track_input.prompts.objects)
    }
