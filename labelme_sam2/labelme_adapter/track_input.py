"""What `track PATH` means: a frame folder, a video with its prompts folder, or a folder of
chunk folders (as `extract --chunk-seconds` writes them) tracked straight through as one video.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.core.frames import FRAME_SUFFIXES, ChainedFrames, Frames
from labelme_sam2.core.prompts import PromptSet
from labelme_sam2.errors import InputError
from labelme_sam2.labelme_adapter.chunk import LabelmeChunk, Warn, read_folder, read_video
from labelme_sam2.video.manifest import MANIFEST_NAME

CHUNK_FOLDER = re.compile(r"^\d{3,}_f\d{6,}-\d{6,}$")


@dataclass(frozen=True)
class TrackInput:
    """One video to track, in one or more chunks that each keep their own outputs."""

    chunks: tuple[LabelmeChunk, ...]
    frames: Frames  # all chunks, one after another
    offsets: tuple[int, ...]  # first frame of each chunk in `frames`
    prompts: PromptSet  # frame indices into `frames`
    store_folder: Path  # where the last run's masks are kept (labelme_sam2/reruns.py)

    @property
    def output_base(self) -> Path:
        """Where outputs of the whole input go, as {output_base}_strobe.png: beside the frame
        folder or video, or inside the folder of chunk folders."""
        return self.chunks[0].output_base if len(self.chunks) == 1 else self.store_folder / "all"

    def frames_fingerprint(self) -> str:
        """Changes when any frame file (or the video) is replaced, renamed, added or removed."""
        digest = hashlib.sha256()
        for chunk in self.chunks:
            for path in chunk.source_files:
                stat = path.stat()
                digest.update(
                    f"{path.resolve()}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\n".encode()
                )
        return digest.hexdigest()[:16]


def chunked_video_of(folder: Path) -> Path | None:
    """The folder of chunk folders that `folder` is one of (`extract --chunk-seconds` named it
    001_f000000-000599 and left its manifest.json there): `track` on it tracks every chunk
    as one video. None for any other folder."""
    if CHUNK_FOLDER.match(folder.name) and (folder / MANIFEST_NAME).is_file():
        return folder.parent
    return None


def open_track_input(path: Path, *, prompts_folder: Path | None, warn: Warn) -> TrackInput:
    if path.is_file():
        if prompts_folder is None:
            raise InputError(path, "a video needs --prompts DIR (LabelMe files named 00000.json…)")
        chunk = read_video(path, prompts_folder=prompts_folder, warn=warn)
        return _single(chunk, store_folder=prompts_folder)
    if prompts_folder is not None:
        raise InputError(prompts_folder, "--prompts is for a video; a folder's prompts are in it")
    if not path.is_dir():
        raise InputError(path, "no such video or folder")
    chunk_folders = sorted(
        (p for p in path.iterdir() if p.is_dir() and CHUNK_FOLDER.match(p.name)),
        key=lambda p: int(p.name.split("_", 1)[0]),
    )
    if not chunk_folders:
        return _single(read_folder(path, warn=warn), store_folder=path)
    if any(p.is_file() and p.suffix.lower() in FRAME_SUFFIXES for p in path.iterdir()):
        warn(f"{path}: has chunk folders, so the frames beside them are ignored")
    numbers = [int(p.name.split("_", 1)[0]) for p in chunk_folders]
    if numbers != list(range(1, len(numbers) + 1)):
        warn(
            f"{path}: chunk folders {numbers} are not numbered 1..{len(numbers)}; "
            "tracked one after another as if nothing were missing"
        )
    return _chunked(path, chunk_folders, warn=warn)


def _single(chunk: LabelmeChunk, *, store_folder: Path) -> TrackInput:
    return TrackInput(
        chunks=(chunk,),
        frames=chunk.frames,
        offsets=(0,),
        prompts=chunk.prompts,
        store_folder=store_folder,
    )


def _chunked(parent: Path, chunk_folders: list[Path], *, warn: Warn) -> TrackInput:
    chunks: list[LabelmeChunk] = []
    for folder in chunk_folders:
        # Prompting once, in any chunk, is the point: a chunk without prompts is fine.
        chunks.append(read_folder(folder, warn=warn, require_prompts=False))
    first = chunks[0].frames
    for chunk in chunks[1:]:
        if (chunk.frames.width, chunk.frames.height) != (first.width, first.height):
            raise InputError(
                chunk.json_folder,
                f"frames are {chunk.frames.width}x{chunk.frames.height} but "
                f"{chunks[0].json_folder.name} has {first.width}x{first.height}",
            )
    frames = ChainedFrames([chunk.frames for chunk in chunks])
    prompts = PromptSet()
    for chunk, offset in zip(chunks, frames.offsets, strict=True):
        for key, keyframes in chunk.prompts.objects.items():
            merged = prompts.objects.setdefault(key, {})
            merged.update({offset + frame: prompt for frame, prompt in keyframes.items()})
    if not prompts.objects:
        raise InputError(parent, "no prompts found in any chunk folder")
    return TrackInput(
        chunks=tuple(chunks),
        frames=frames,
        offsets=frames.offsets,
        prompts=prompts,
        store_folder=parent,
    )
