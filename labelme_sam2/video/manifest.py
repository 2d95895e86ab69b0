"""manifest.json of an extracted frame folder: which video, which frame, at what time.

One per output folder (per chunk folder when chunked), so results on the frames map back to
the video's own frame numbers and seconds. Example (abridged):

    {
      "format": "labelme-sam2-frames",
      "version": 1,
      "complete": true,
      "source": {"path": "/data/clip.mp4", "name": "clip.mp4", "fps": 29.97002997002997,
                 "fps_exact": "30000/1001", "frame_count": 289, "width": 1280, "height": 720},
      "chunk": {"number": 2, "count": 4, "start_seconds": 3.0, "end_seconds": 6.0},
      "frames": [
        {"file": "00000.jpg", "source_frame": 90, "timestamp": 3.003},
        ...
      ]
    }

`chunk` is null when the extract was not chunked; `complete` is false while the folder is being
written and after an extract that stopped on an error (then `frames` lists the files that were
written whole). `timestamp` is seconds from the video's first frame.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, TypedDict

from labelme_sam2.errors import InputError
from labelme_sam2.formats.atomic import write_atomically
from labelme_sam2.formats.labelme_json import read_json_file

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "labelme-sam2-frames"
MANIFEST_VERSION = 1


class ManifestSource(TypedDict):
    path: str
    """Absolute path of the video when it was extracted."""
    name: str
    fps: float
    fps_exact: str
    """The average rate as an exact fraction, e.g. "30000/1001"."""
    frame_count: int
    width: int
    height: int


class ManifestChunk(TypedDict):
    number: int
    """1-based."""
    count: int
    start_seconds: float
    """The chunk's stretch of source time: [start_seconds, end_seconds)."""
    end_seconds: float


class ManifestFrame(TypedDict):
    file: str
    source_frame: int
    """0-based frame number in the video, in presentation order."""
    timestamp: float
    """Seconds from the video's first frame."""


class Manifest(TypedDict):
    format: str
    version: int
    complete: bool
    source: ManifestSource
    chunk: ManifestChunk | None
    frames: list[ManifestFrame]


def manifest_text(manifest: Manifest) -> str:
    """Indented JSON with one line per frame, so a long video's manifest stays readable."""
    head = {key: value for key, value in manifest.items() if key != "frames"}
    text = json.dumps(head, indent=2).removesuffix("\n}")
    frames = ",\n".join(f"    {json.dumps(frame)}" for frame in manifest["frames"])
    body = f"[\n{frames}\n  ]" if frames else "[]"
    return f'{text},\n  "frames": {body}\n}}\n'


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write folder/manifest.json atomically (temp file and rename)."""
    path = folder / MANIFEST_NAME
    write_atomically(path, manifest_text(manifest).encode())
    return path


def read_manifest(path: Path) -> Manifest:
    """A manifest.json checked field by field; InputError(path, ...) when it is not one."""
    if not Path(path).exists():
        raise InputError(path, "no such manifest")
    try:
        data = read_json_file(Path(path))
    except InputError as error:
        raise InputError(path, f"not a readable manifest ({error.problem})") from error
    try:
        return _check_manifest(data)
    except _Invalid as error:
        raise InputError(path, f"not a {MANIFEST_FORMAT} manifest: {error}") from None


class _Invalid(Exception):
    pass


def _check_manifest(data: Any) -> Manifest:
    data = _object(data, "the file")
    if data.get("format") != MANIFEST_FORMAT:
        raise _Invalid(f"format is {data.get('format')!r}, not {MANIFEST_FORMAT!r}")
    if data.get("version") != MANIFEST_VERSION:
        raise _Invalid(f"version {data.get('version')!r} is not {MANIFEST_VERSION}")
    source_data = _object(data.get("source"), "source")
    source = ManifestSource(
        path=_typed(source_data, "path", str, "source"),
        name=_typed(source_data, "name", str, "source"),
        fps=_number(source_data, "fps", "source"),
        fps_exact=_typed(source_data, "fps_exact", str, "source"),
        frame_count=_count(source_data, "frame_count", "source", minimum=1),
        width=_count(source_data, "width", "source", minimum=1),
        height=_count(source_data, "height", "source", minimum=1),
    )
    try:
        Fraction(source["fps_exact"])
    except (ValueError, ZeroDivisionError):
        raise _Invalid(f"source.fps_exact {source['fps_exact']!r} is not a fraction") from None
    chunk: ManifestChunk | None = None
    if data.get("chunk") is not None:
        chunk_data = _object(data["chunk"], "chunk")
        chunk = ManifestChunk(
            number=_count(chunk_data, "number", "chunk", minimum=1),
            count=_count(chunk_data, "count", "chunk", minimum=1),
            start_seconds=_number(chunk_data, "start_seconds", "chunk"),
            end_seconds=_number(chunk_data, "end_seconds", "chunk"),
        )
        if chunk["number"] > chunk["count"]:
            raise _Invalid(f"chunk {chunk['number']} of {chunk['count']}")
    frames_data = data.get("frames")
    if not isinstance(frames_data, list):
        raise _Invalid("frames is not a list")
    frames: list[ManifestFrame] = []
    for position, item in enumerate(frames_data):
        where = f"frames[{position}]"
        frame_data = _object(item, where)
        frame = ManifestFrame(
            file=_typed(frame_data, "file", str, where),
            source_frame=_count(frame_data, "source_frame", where, minimum=0),
            timestamp=_number(frame_data, "timestamp", where),
        )
        name = frame["file"]
        if not name or name != Path(name).name or name.startswith("."):
            raise _Invalid(f"{where}.file {name!r} is not a plain file name")
        if frame["source_frame"] >= source["frame_count"]:
            raise _Invalid(f"{where}.source_frame is past the video's {source['frame_count']}")
        if frames and frame["source_frame"] <= frames[-1]["source_frame"]:
            raise _Invalid(f"{where}.source_frame does not increase")
        frames.append(frame)
    return Manifest(
        format=MANIFEST_FORMAT,
        version=MANIFEST_VERSION,
        complete=_typed(data, "complete", bool, "manifest"),
        source=source,
        chunk=chunk,
        frames=frames,
    )


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{where} is not an object")
    return value


def _typed(data: Mapping[str, Any], key: str, kind: type[Any], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise _Invalid(f"{where}.{key} is missing or not a {kind.__name__}")
    return value


def _count(data: Mapping[str, Any], key: str, where: str, *, minimum: int) -> int:
    value = data.get(key)
    # bool is an int to Python; true is not a frame number.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _Invalid(f"{where}.{key} is missing or not a whole number >= {minimum}")
    return value


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _Invalid(f"{where}.{key} is missing or not a number")
    return float(value)
