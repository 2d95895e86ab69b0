"""Re-runs: what the last run left, and what a new run must recompute.

After the user edits the prompt on frame k, only the segments touching k can change
(core/segments.py): a run records what it computed, and the next one recomputes only the
segments and keyframes whose fingerprints it does not find there, taking every other mask
from the last run's store.

The store lives in `.labelme-sam2/` beside the LabelMe files: `masks/NNNNNN.bin` per frame
(every object's mask, bit-packed and compressed: a few KB) and `run.json`, the record of the
run (model identity, frame size and count, fingerprints of the segments and keyframes it
computed). `run.json` is removed when a run starts and written when it finishes, so masks
left by a run that failed or was cancelled are never trusted: the next run recomputes them.
Mask files are written without a disk flush each; one sync before the record puts them (and
every other output of the run) on disk first, so a record that survives a power cut vouches
only for masks that did too.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from labelme_sam2.core.mask import Mask
from labelme_sam2.core.prompts import FramePrompt, ObjectKey, PromptSet, prompt_fingerprint
from labelme_sam2.core.segments import Segment, TrackingPlan
from labelme_sam2.core.tracking import FrameMasks, LastRunMasks
from labelme_sam2.errors import InputError, OutputError, Warn
from labelme_sam2.formats.atomic import make_folder, sync_to_disk, write_atomically
from labelme_sam2.formats.mask_codec import pack_masks, unpack_masks
from labelme_sam2.labelme_adapter.track_input import TrackInput
from labelme_sam2.writers.base import FrameWriterBase

STORE_DIR = ".labelme-sam2"
RECORD_VERSION = 2  # 2: "model_identity" (was "settings")
# zlib level of the mask files: 1 takes a third of 6's CPU (0.6 ms against 1.7 ms for three
# 1280x720 masks) for files twice as big (3.9 kB against 2.0 kB); any level reads the same.
MASK_FILE_LEVEL = 1


class RunRecord(TypedDict):
    version: int
    model_identity: str  # model, weights file, image size, device: anything that changes masks
    frames: list[int]  # count, width, height
    frames_fingerprint: str  # of the frame files (or video), in order
    segments: list[str]  # segment_fingerprint of each segment computed
    keyframes: list[str]  # keyframe_fingerprint of each keyframe computed


# -- fingerprints: same fingerprint, same masks --------------------------------------------


def segment_fingerprint(segment: Segment, prompts: PromptSet) -> str:
    """The segment's own frames and its bounding keyframes' prompts."""
    keyframes = prompts.objects[segment.key]
    ends = segment.conditioning(keyframes)
    parts = [
        segment.key.label,
        str(segment.key.group_id),
        str(segment.anchor),
        str(segment.stop),
        str(segment.reverse),
        *(f"{frame}:{prompt_fingerprint(keyframes[frame])}" for frame in ends),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def keyframe_fingerprint(key: ObjectKey, frame_index: int, prompt: FramePrompt) -> str:
    return f"{key.label}\x1f{key.group_id}\x1f{frame_index}\x1f{prompt_fingerprint(prompt)}"


def fingerprints(plan: TrackingPlan, prompts: PromptSet) -> tuple[list[str], list[str]]:
    """(segments, keyframes) fingerprints of what `plan` computes, for the run's record."""
    segments = sorted(segment_fingerprint(s, prompts) for s in plan.segments)
    keyframes = sorted(
        keyframe_fingerprint(key, frame, prompts.objects[key][frame])
        for key, frame in plan.keyframes
    )
    return segments, keyframes


def plan_changes(
    prompts: PromptSet, *, frame_count: int, done_segments: set[str], done_keyframes: set[str]
) -> TrackingPlan:
    """What is left to compute when a finished run already computed the `done` fingerprints:
    after an edit on frame k, the segments from k to the object's neighbouring keyframes."""
    everything = TrackingPlan.everything(prompts, frame_count=frame_count)
    return TrackingPlan(
        segments=tuple(
            s for s in everything.segments if segment_fingerprint(s, prompts) not in done_segments
        ),
        keyframes=frozenset(
            (key, frame)
            for key, frame in everything.keyframes
            if keyframe_fingerprint(key, frame, prompts.objects[key][frame]) not in done_keyframes
        ),
    )


# -- the store -------------------------------------------------------------------------------


class MaskStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder / STORE_DIR
        self._unsynced: list[Path] = []  # mask files written since the last record

    @property
    def record_path(self) -> Path:
        return self.folder / "run.json"

    def record(self, *, warn: Warn) -> RunRecord | None:
        """The last finished run's record; None when there is none, or (with a warning) when
        it cannot be read or is not a record this version writes."""
        try:
            text = self.record_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            warn(f"{self.record_path}: cannot read ({error}); recomputing every frame")
            return None
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            record = None
        if not _is_record(record):
            warn(f"{self.record_path}: not a usable run record; recomputing every frame")
            return None
        return record

    def has_frames(self, count: int) -> bool:
        """Whether a mask file is there for every one of `count` frames."""
        try:
            names = {entry.name for entry in os.scandir(self.folder / "masks")}
        except OSError:
            return False
        return all(self._path(i).name in names for i in range(count))

    def begin(self) -> None:
        """From here until finish(), the stored masks are not a finished run's."""
        make_folder(self.folder / "masks")
        try:
            self.record_path.unlink(missing_ok=True)
        except OSError as error:  # a record that stays would vouch for masks about to change
            raise OutputError(
                self.record_path, f"cannot remove ({error.strerror or error})"
            ) from error

    def finish(self, record: RunRecord) -> None:
        """Write the record, once the masks it vouches for (and every output written before
        it) are on disk."""
        sync_to_disk(self._unsynced)
        self._unsynced = []
        write_atomically(self.record_path, json.dumps(record, indent=1).encode())

    def read(self, frame_index: int) -> dict[ObjectKey, Mask]:
        """ValueError (or OSError, zlib.error) when the file is not what write() made."""
        header_line, _, packed = self._path(frame_index).read_bytes().partition(b"\n")
        try:
            header = json.loads(header_line)
            height, width = header["shape"]
            keys = [ObjectKey(label, group) for label, group in header["keys"]]
        except (KeyError, TypeError, RecursionError) as error:  # a header of another shape
            raise ValueError(f"not a mask file header ({error!r})") from error
        masks = unpack_masks(packed, count=len(keys), height=height, width=width)
        return dict(zip(keys, masks, strict=True))

    def write(self, result: FrameMasks) -> None:
        """One line of JSON (objects, size), then every mask's bits, zlib-compressed."""
        masks = list(result.masks.values())
        header = {
            "keys": [list(key) for key in result.masks],
            "shape": list(masks[0].shape) if masks else [0, 0],
        }
        data = json.dumps(header).encode() + b"\n" + pack_masks(masks, level=MASK_FILE_LEVEL)
        path = self._path(result.frame_index)
        if write_atomically(path, data, durable=False):  # finish() syncs them all at once
            self._unsynced.append(path)

    def _path(self, frame_index: int) -> Path:
        return self.folder / "masks" / f"{frame_index:06d}.bin"


def _is_record(record: object) -> bool:
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return False
    frames = record.get("frames")
    return (
        isinstance(record.get("model_identity"), str)
        and isinstance(record.get("frames_fingerprint"), str)
        and isinstance(frames, list)
        and len(frames) == 3
        and all(isinstance(n, int) for n in frames)
        and all(
            isinstance(record.get(name), list) and all(isinstance(f, str) for f in record[name])
            for name in ("segments", "keyframes")
        )
    )


class MaskStoreWriter(FrameWriterBase):
    """The store as one of the run's writers: masks as they come, the record at the end. A run
    that fails leaves no record (begin() removed it), so its masks are not trusted."""

    def __init__(self, store: MaskStore, record: RunRecord) -> None:
        self._store = store
        self._record = record
        store.begin()

    def write(self, result: FrameMasks) -> None:
        self._store.write(result)

    def close(self) -> None:
        self._store.finish(self._record)


# -- what a run over these frames and prompts does with the last one -----------------------


def run_record(track_input: TrackInput, *, model_identity: str) -> RunRecord:
    """The record a run over every segment of these frames and prompts leaves."""
    frames, prompts = track_input.frames, track_input.prompts
    everything = TrackingPlan.everything(prompts, frame_count=len(frames))
    segments, keyframes = fingerprints(everything, prompts)
    return RunRecord(
        version=RECORD_VERSION,
        model_identity=model_identity,
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


@dataclass(frozen=True)
class Rerun:
    """What a run computes, where the rest comes from, and the record it will leave."""

    plan: TrackingPlan
    last_run: LastRunMasks | None  # None: everything is computed
    record: RunRecord


def plan_rerun(
    track_input: TrackInput, store: MaskStore, *, model_identity: str, full: bool, warn: Warn
) -> Rerun:
    frames, prompts = track_input.frames, track_input.prompts
    record = run_record(track_input, model_identity=model_identity)
    everything = TrackingPlan.everything(prompts, frame_count=len(frames))
    last = None if full else store.record(warn=warn)
    if (
        last is None
        or last["model_identity"] != model_identity
        or not holds_these_frames(store, last, record)
    ):
        return Rerun(everything, None, record)
    plan = plan_changes(
        prompts,
        frame_count=len(frames),
        done_segments=set(last["segments"]),
        done_keyframes=set(last["keyframes"]),
    )
    return Rerun(plan, _reader(store), record)


def last_run_masks(track_input: TrackInput, *, warn: Warn) -> LastRunMasks:
    """A reader of the last run's masks by frame, for commands that draw from them without the
    model, once the store is sure to hold every frame's masks for these frames and prompts;
    InputError saying to run `track` otherwise."""
    where = track_input.store_folder
    store = MaskStore(where)
    last = store.record(warn=warn)
    if last is None:
        raise InputError(
            where, f"no finished tracking run here ({STORE_DIR}/run.json): run `labelme-sam2 track`"
        )
    now = run_record(track_input, model_identity=last["model_identity"])
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
    return _reader(store)


def _reader(store: MaskStore) -> LastRunMasks:
    """store.read, with a damaged mask file (or a `track` writing at the same time) as one
    line that says what to do."""

    def read(frame_index: int) -> dict[ObjectKey, Mask]:
        try:
            return store.read(frame_index)
        except (OSError, ValueError, zlib.error) as error:
            raise InputError(
                store.folder,
                f"cannot read the masks of frame {frame_index} ({error}); is `track` running? "
                "Run `labelme-sam2 track` again",
            ) from error

    return read
