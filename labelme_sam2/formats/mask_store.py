"""The last run's exact masks and what produced them, so a correction recomputes only a span.

Lives in `.labelme-sam2/` beside the LabelMe files: `masks/NNNNNN.bin` per frame (every
object's mask, bit-packed and compressed: a few KB) and `run.json`, the record of the run
(settings, frame size and count, fingerprints of the segments and keyframes it computed).
`run.json` is removed when a run starts and written when it finishes, so masks left by a run
that failed are never trusted.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import TypedDict

import numpy as np

from labelme_sam2.core.prompts import ObjectKey
from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import write_atomically

STORE_DIR = ".labelme-sam2"
RECORD_VERSION = 1


class RunRecord(TypedDict):
    version: int
    settings: str  # model, weights, image size, device: anything that changes masks
    frames: list[int]  # count, width, height
    frames_fingerprint: str  # of the frame names, in order
    segments: list[str]  # core.segments.segment_fingerprint of each segment computed
    keyframes: list[str]  # core.segments.keyframe_fingerprint of each keyframe computed


class MaskStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder / STORE_DIR

    def record(self) -> RunRecord | None:
        """The last finished run's record; None when there is none or it cannot be read."""
        try:
            record = json.loads((self.folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
            return None
        return record  # type: ignore[return-value]

    def has_frames(self, count: int) -> bool:
        """Whether a mask file is there for every one of `count` frames."""
        try:
            names = {entry.name for entry in os.scandir(self.folder / "masks")}
        except OSError:
            return False
        return all(self._path(i).name in names for i in range(count))

    def begin(self) -> None:
        """From here until finish(), the stored masks are not a finished run's."""
        (self.folder / "masks").mkdir(parents=True, exist_ok=True)
        (self.folder / "run.json").unlink(missing_ok=True)

    def finish(self, record: RunRecord) -> None:
        write_atomically(self.folder / "run.json", json.dumps(record, indent=1).encode())

    def read(self, frame_index: int) -> dict[ObjectKey, np.ndarray]:
        path = self._path(frame_index)
        header_line, packed = path.read_bytes().split(b"\n", 1)
        header = json.loads(header_line)
        height, width = header["shape"]
        bits = np.frombuffer(zlib.decompress(packed), dtype=np.uint8)
        per_mask = (height * width + 7) // 8
        return {
            ObjectKey(label, group): np.unpackbits(
                bits[i * per_mask : (i + 1) * per_mask], count=height * width
            )
            .reshape(height, width)
            .astype(bool)
            for i, (label, group) in enumerate(header["keys"])
        }

    def write(self, result: FrameMasks) -> None:
        """One line of JSON (objects, size), then every mask's bits, zlib-compressed."""
        masks = list(result.masks.values())
        header = {
            "keys": [list(key) for key in result.masks],
            "shape": list(masks[0].shape) if masks else [0, 0],
        }
        bits = b"".join(np.packbits(mask).tobytes() for mask in masks)
        data = json.dumps(header).encode() + b"\n" + zlib.compress(bits, 6)
        write_atomically(self._path(result.frame_index), data)

    def _path(self, frame_index: int) -> Path:
        return self.folder / "masks" / f"{frame_index:06d}.bin"


class MaskStoreWriter:
    """The store as one of the run's writers: masks as they come, the record at the end."""

    def __init__(self, store: MaskStore, record: RunRecord) -> None:
        self._store = store
        self._record = record
        store.begin()

    def write(self, result: FrameMasks) -> None:
        self._store.write(result)

    def close(self) -> None:
        self._store.finish(self._record)

    def abort(self) -> None:
        pass  # begin() removed the record: these masks will not be trusted
