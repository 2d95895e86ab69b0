"""The masks of the last `track` run, for commands that draw from them without the model."""

from __future__ import annotations

from labelme_sam2.core.segments import TrackingPlan, fingerprints
from labelme_sam2.errors import InputError
from labelme_sam2.formats.mask_store import STORE_DIR, MaskStore
from labelme_sam2.labelme_adapter.track_input import TrackInput


def open_stored_masks(track_input: TrackInput) -> MaskStore:
    """The store, once it is sure to hold every frame's masks for these frames and prompts;
    InputError saying to run `track` otherwise."""
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
    return store
