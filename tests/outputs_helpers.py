"""Track a folder with the scripted tracker and any output flags, as `track` would."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from labelme_sam2.cli.main import build_parser
from labelme_sam2.cli.track import track_and_write
from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.labelme_adapter.track_input import TrackInput, open_track_input
from tests.scripted_tracker import ScriptedTracker, scripted_mask


def track_args(path: Path, *flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["track", str(path), *flags])


def track_with_outputs(path: Path, *flags: str) -> TrackInput:
    track_input = open_track_input(path, prompts_folder=None, warn=lambda _: None)
    args = track_args(path, *flags)
    track_and_write(track_input, tracker=ScriptedTracker(), settings="s", args=args)
    return track_input


def expected_masks(track_input: TrackInput, frame_index: int) -> dict[ObjectKey, np.ndarray]:
    """What the scripted tracker gave each object on that frame."""
    frames = track_input.frames
    return {
        key: scripted_mask(i, frame_index, width=frames.width, height=frames.height)
        for i, key in enumerate(track_input.prompts.objects)
    }
