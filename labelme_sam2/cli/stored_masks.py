"""The record of a `track` run for these frames and prompts, and the last run's masks for
commands that draw from them without the model."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.segments import TrackingPlan, fingerprints
from labelme_sam2.errors import InputError
from labelme_sam2.formats.mask_store import RECORD_VERSION, STORE_DIR, MaskStore, RunRecord
from labelme_sam2.labelme_adapter.track_input import TrackInput

StoredMasks = Callable[[int], dict[ObjectKey, np.ndarray]]


def run_record(track_input: TrackInput, *, settings: str) -> RunRecord:
    """The record a run over every segment of these frames and prompts leaves."""
    frames, prompts = track_input.frames, track_input.prompts
    everything = TrackingPlan.everything(prompts, frame_count=len(frames))
    segments, keyframes = fingerprints(everything, prompts)
    return RunRecord(
        version=RECORD_VERSION,
        settings=settings,
        frames=[len(frames), frames.width, frames.height],
        frames_fingerprint=track_input.frames_fingerprint(),
        segments=segments,
        keyframes=keyframes,
    )


def holds_these_frames(store: MaskStore, last: RunRecord, now: RunRecord) -> bool:
    """Whether the store's masks (from run `last`) are of the frames of run `now`, every one."""
    return (
        (last["frames"], last["frames_fingerprint"]) == (now["frames"], now["frames_fingerprint"])
    ) and store.has_frames(now["frames"][0])


def open_stored_masks(track_input: TrackInput) -> StoredMasks:
    """A reader of the stored masks by frame, once the store is sure to hold every frame's
    masks for these frames and prompts; InputError saying to run `track` otherwise."""
    where = track_input.store_folder
    store = MaskStore(where)
    last = store.record()
    if last is None:
        raise InputError(
            where, f"no finished tracking run here ({STORE_DIR}/run.json): run `labelme-sam2 track`"
        )
    now = run_record(track_input, settings=last["settings"])
    if not holds_these_frames(store, last, now):
        raise InputError(
            where, "the frames changed (or moved) since the last `labelme-sam2 track`: run it again"
        )
    if set(now["segments"]) != set(last["segments"]) or set(now["keyframes"]) != set(
        last["keyframes"]
    ):
        raise InputError(
            where,
            "the prompts changed since the last `labelme-sam2 track`: run it again (it "
            "recomputes only what the changes affect)",
        )

    def read(frame_index: int) -> dict[ObjectKey, np.ndarray]:
        try:
            return store.read(frame_index)
        except (OSError, ValueError, zlib.error) as error:
            raise InputError(
                store.folder,
                f"cannot read the masks of frame {frame_index} ({error}); is `track` running? "
                "Run `labelme-sam2 track` again",
            ) from error

    return read
