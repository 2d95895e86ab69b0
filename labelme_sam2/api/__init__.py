"""The public Python API of labelme-sam2 (docs/api.md): the one way in to tracking and its
outputs for the command line, the Label Studio backend, the LabelMe app and your own scripts
(`labelme-sam2 download` alone goes to labelme_sam2.models, which needs no API).

    from labelme_sam2.api import ModelOptions, OutputOptions, load_model, track

    model = load_model(ModelOptions(model="sam2.1_hiera_tiny"))  # once
    result = track("clip/", model=model, outputs=OutputOptions(videos=("overlay",)))

Everything here is importable without torch; only load_model() imports it.
"""

from __future__ import annotations

from labelme_sam2.api._render import RenderResult, render
from labelme_sam2.api._strobe import PLATE, StrobeResult, strobe
from labelme_sam2.api._track import TrackResult, track
from labelme_sam2.core.frames import ChunkFrames, Frames, frames_from_paths
from labelme_sam2.core.mask import Mask
from labelme_sam2.core.pipeline import Cancelled, FrameWriter, Progress, RunSummary, propagate
from labelme_sam2.core.prompts import (
    Box,
    Click,
    FramePrompt,
    ObjectKey,
    PromptSet,
    split_negative,
    validate,
)
from labelme_sam2.core.segments import TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, LastRunMasks, StepHook, Tracker
from labelme_sam2.errors import CheckpointError, InputError, OutputError, UserError
from labelme_sam2.formats.mask_codec import BoundingBox, bounding_box
from labelme_sam2.labelme_adapter.edits_while_tracking import NotUpdated
from labelme_sam2.models.loading import LoadedModel, load_model
from labelme_sam2.options import ModelOptions, OutputOptions
from labelme_sam2.render.fills import Fill
from labelme_sam2.video.extract import ExtractSummary
from labelme_sam2.video.extract import extract_video as extract
from labelme_sam2.video.reader import VideoFrames
from labelme_sam2.writers.base import FrameWriterBase
from labelme_sam2.writers.mask_pngs import MaskPngWriter

__all__ = [
    "PLATE",
    "BoundingBox",
    "Box",
    "Cancelled",
    "CheckpointError",
    "ChunkFrames",
    "Click",
    "ExtractSummary",
    "Fill",
    "FrameMasks",
    "FramePrompt",
    "FrameWriter",
    "FrameWriterBase",
    "Frames",
    "InputError",
    "LastRunMasks",
    "LoadedModel",
    "Mask",
    "MaskPngWriter",
    "ModelOptions",
    "NotUpdated",
    "ObjectKey",
    "OutputError",
    "OutputOptions",
    "Progress",
    "PromptSet",
    "RenderResult",
    "RunSummary",
    "StepHook",
    "StrobeResult",
    "TrackResult",
    "Tracker",
    "TrackingPlan",
    "UserError",
    "VideoFrames",
    "bounding_box",
    "extract",
    "frames_from_paths",
    "load_model",
    "propagate",
    "render",
    "split_negative",
    "strobe",
    "track",
    "validate",
]
