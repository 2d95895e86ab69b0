"""The masks of the last `track` run, for commands that draw from them without the model."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.segments import TrackingPlan, fingerprints
from labelme_sam2.errors import InputError
from labelme_sam2.formats.mask_store import STORE_DIR, MaskStore
from labelme_sam2.labelme_adapter.track_input import TrackInput

StoredMasks = Callable[[int], dict[ObjectKey, np.ndarray]]


def open_stored_masks(track_input: TrackInput) -> StoredMasks:
    """A reader of the stored masks by frame, once the store is sure to hold every frame's
    masks for these frames and prompts; InputError saying to run `track` otherwise."""
    where = track_input.store_folder
    store = MaskStore(where)
    record = store.record()
    if record is None:
        raise InputError(
            where, f"no finished tracking run here ({STORE_DIR}/run.json): run `labelme-sam2 track`"
        )
    frames = track_input.frames
    if (
        record["frames"] != [len(frames), frames.width, frames.height]
        or record["frames_fingerprint"] != track_input.frames_fingerprint()
        or not store.has_frames(len(frames))
    ):
        raise InputError(
            where, "the frames changed (or moved) since the last `labelme-sam2 track`: run it again"
        )
    everything = TrackingPlan.everything(track_input.prompts, frame_count=len(frames))
    segments, keyframes = fingerprints(everything, track_input.prompts)
    if set(segments) != set(record["segments"]) or set(keyframes) != set(record["keyframes"]):
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
