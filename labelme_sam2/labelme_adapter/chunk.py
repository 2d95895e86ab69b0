"""One chunk of what `track` works on: frames, their LabelMe files, and the prompts drawn in
them.

Two kinds: a frame folder (LabelMe files beside the frames; a chunk folder of `extract
--chunk-seconds` is one too), or a video file with a prompts folder of LabelMe files named by
frame number (`00012.json` is frame 12). track_input.py puts one or more chunks together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.core.frames import ChunkFrames, Frames, find_frames
from labelme_sam2.core.prompts import PromptSet, validate
from labelme_sam2.core.shared_frames import SharedFrames
from labelme_sam2.errors import InputError, Warn
from labelme_sam2.formats.labelme_json import LabelmeDocument, read_document
from labelme_sam2.labelme_adapter.edits_while_tracking import FileState, file_state
from labelme_sam2.labelme_adapter.shapes_to_prompts import add_shapes
from labelme_sam2.video.manifest import MANIFEST_NAME


@dataclass(frozen=True)
class ReadDocument:
    """A LabelMe file as `track` read it: its content, and its state to tell whether the user
    saved it again before we write (labelme_adapter/edits_while_tracking.py)."""

    path: Path  # a link inside the folder is written through (link_target)
    document: LabelmeDocument
    state: FileState | None


@dataclass(frozen=True)
class LabelmeChunk:
    """A run of frames and the LabelMe file of each (read if present, written by `track`): a
    frame folder, one chunk folder, or a video with its prompts folder."""

    frames: ChunkFrames
    json_folder: Path  # where frame i's LabelMe file is, as {stems[i]}.json
    image_names: tuple[str, ...]  # each frame's imagePath, relative to its LabelMe file
    documents: dict[int, ReadDocument]  # frame index -> the file as it was read
    prompts: PromptSet
    output_base: Path  # other outputs go to {output_base}_masks/, {output_base}_masked.mp4
    fps: float | None  # the source's frame rate, when known
    source_files: tuple[Path, ...]  # the frame files, or the video file

    def json_path(self, frame_index: int) -> Path:
        return self.json_folder / f"{self.frames.stems[frame_index]}.json"


def read_folder(folder: Path, *, warn: Warn, require_prompts: bool = True) -> LabelmeChunk:
    """A frame folder, fully validated before any model is loaded."""
    frames = find_frames(folder)
    index_by_stem = {stem: i for i, stem in enumerate(frames.stems)}
    documents, prompts = _read_documents(
        folder,
        frames,
        frame_of=index_by_stem.get,
        unmatched="no frame named {stem}.jpg/.png beside it",
        warn=warn,
    )
    if prompts.objects or require_prompts:
        validate(prompts, width=frames.width, height=frames.height, where=str(folder))
    return LabelmeChunk(
        frames=SharedFrames(frames),
        json_folder=folder,
        image_names=tuple(p.name for p in frames.paths),
        documents=documents,
        prompts=prompts,
        output_base=folder.parent / folder.name,
        fps=_extracted_fps(folder, len(frames), warn=warn),
        source_files=frames.paths,
    )


def _extracted_fps(folder: Path, frame_count: int, *, warn: Warn) -> float | None:
    """The frame rate of a folder `extract` made (its manifest's timestamps), else None."""
    from labelme_sam2.video.manifest import MANIFEST_NAME, read_manifest

    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        times = [frame["timestamp"] for frame in read_manifest(path)["frames"]]
    except InputError as error:
        warn(f"{error}; frame rate unknown")
        return None
    if len(times) != frame_count:
        warn(
            f"{path}: lists {len(times)} frames but the folder has {frame_count}; "
            "frame rate unknown"
        )
        return None
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def read_video(video: Path, *, prompts_folder: Path, warn: Warn) -> LabelmeChunk:
    """A video and its prompts folder; frames are decoded only when tracking needs them."""
    from labelme_sam2.video.reader import VideoFrames

    if not prompts_folder.is_dir():
        raise InputError(prompts_folder, "no such prompts folder (LabelMe files named 00000.json…)")
    frames = VideoFrames(video)
    frames.info.check_complete()  # a truncated copy stops here, before anything is written

    def frame_of(stem: str) -> int | None:
        return int(stem) if stem.isdigit() and int(stem) < len(frames) else None

    documents, prompts = _read_documents(
        prompts_folder,
        frames,
        frame_of=frame_of,
        unmatched=f"not a frame number of {video.name} (0..{len(frames) - 1})",
        warn=warn,
    )
    validate(prompts, width=frames.width, height=frames.height, where=str(prompts_folder))
    # Files already there keep their name; new ones get the name extract gives that frame.
    return LabelmeChunk(
        frames=SharedFrames(frames),
        json_folder=prompts_folder,
        image_names=tuple(f"{stem}.jpg" for stem in frames.stems),
        documents=documents,
        prompts=prompts,
        output_base=video.parent / video.stem,
        fps=frames.info.fps,
        source_files=(video,),
    )


def _read_documents(
    json_folder: Path,
    frames: Frames,
    *,
    frame_of: Callable[[str], int | None],
    unmatched: str,
    warn: Warn,
) -> tuple[dict[int, ReadDocument], PromptSet]:
    documents: dict[int, ReadDocument] = {}
    prompts = PromptSet()
    skipped_types: set[str] = set()
    for path in sorted(p for p in json_folder.iterdir() if p.suffix.lower() == ".json"):
        if path.name == MANIFEST_NAME:
            continue
        frame_index = frame_of(path.stem)
        if frame_index is None:
            warn(f"{path}: {unmatched.format(stem=path.stem)}; file ignored")
            continue
        if frame_index in documents:
            raise InputError(path, f"a second LabelMe file for frame {frame_index}")
        state = file_state(path)  # before reading: a save in between is seen as a change
        document = read_document(path)
        _check_link(path, json_folder)
        _check_image_size(path, document, frames)
        add_shapes(
            prompts,
            document["shapes"],
            frame_index=frame_index,
            source=str(path),
            width=frames.width,
            height=frames.height,
            skipped_types=skipped_types,
        )
        documents[frame_index] = ReadDocument(path, document, state)
    for shape_type in sorted(skipped_types):
        warn(f"{json_folder}: '{shape_type}' shapes are not SAM 2 prompts; skipped")
    return documents, prompts


def link_target(path: Path) -> Path:
    """Where a write to `path` goes: through a link (into the folder, as _check_link made sure),
    so the link stays a link."""
    return path.resolve() if path.is_symlink() else path


def _check_link(path: Path, folder: Path) -> None:
    """A LabelMe file that is a link is written through, so it must point into its folder:
    elsewhere we would rewrite a file the user did not hand us."""
    if not path.is_symlink():
        return
    target = path.resolve()
    if not target.is_relative_to(folder.resolve()):
        raise InputError(
            path,
            f"is a link to {target}, outside the folder; put the file itself here (track "
            "writes into LabelMe files, and writes through links only within their folder)",
        )


def _check_image_size(path: Path, document: LabelmeDocument, frames: Frames) -> None:
    width, height = document.get("imageWidth"), document.get("imageHeight")
    if width is None and height is None:
        return
    if (width, height) != (frames.width, frames.height):
        raise InputError(
            path,
            f"imageWidth x imageHeight is {width}x{height} but the frame is "
            f"{frames.width}x{frames.height}; the prompts were drawn on another image",
        )
