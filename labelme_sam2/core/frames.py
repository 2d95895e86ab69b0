"""Frame folders: which files are frames, in which order, and their common size."""

from __future__ import annotations

import bisect
import itertools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from labelme_sam2.errors import InputError

FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})

# The most pixels a frame may have: 8K video (7680x4320) and square 8K fit. Checked from the
# header, before decoding: a frame this size is already 200 MB as RGB, and SAM 2 sees it at
# 1024 pixels a side anyway.
MAX_FRAME_PIXELS = 8192 * 8192
_FRAME_LIMIT = f"over the limit of {MAX_FRAME_PIXELS:,} (8192x8192) for a frame"


def natural_key(name: str) -> list[str | int]:
    """Sort key that puts f2.jpg before f10.jpg; text compares case-insensitively."""
    # re.split with a capture group alternates text and digits, so positions always compare
    # like with like.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


class Frames(Protocol):
    """The frames of one video in playback order, all of one size, decoded on demand: what a
    tracker reads.

    A folder of images (FrameSequence), a video file (labelme_sam2.video) and chunk folders
    played one after another (ChainedFrames) all are one.
    """

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def __len__(self) -> int: ...

    def read_rgb(self, index: int) -> np.ndarray:
        """Frame `index` as uint8 height x width x 3; cheap when called in order either way."""
        ...


class ChunkFrames(Frames, Protocol):
    """One chunk's frames (a folder of images, a video file), each with the file-name stem its
    per-frame outputs are named after. Chained chunks are not: each chunk's outputs are
    written beside it, named by its own frames."""

    @property
    def stems(self) -> Sequence[str]:
        """A file-name stem per frame, for the per-frame outputs (00000 for 00000.json...)."""
        ...


@dataclass(frozen=True)
class FrameSequence:
    """The frames of one video, in playback order, all of one size."""

    folder: Path
    paths: tuple[Path, ...]
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def stems(self) -> list[str]:
        return [p.stem for p in self.paths]

    def read_rgb(self, index: int) -> np.ndarray:
        """The frame as uint8 height x width x 3."""
        return load_rgb(self.paths[index])


class ChainedFrames:
    """Several chunks of frames played one after another, as one video (chunk folders)."""

    def __init__(self, chunks: Sequence[Frames]) -> None:
        sizes = {(chunk.width, chunk.height) for chunk in chunks}
        if len(sizes) != 1:
            raise ValueError(f"chunks of one video must share one size, not {sorted(sizes)}")
        self.chunks = tuple(chunks)
        self.offsets = tuple(itertools.accumulate((len(c) for c in chunks[:-1]), initial=0))
        (self._width, self._height) = sizes.pop()

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def locate(self, index: int) -> tuple[int, int]:
        """(chunk number, index within that chunk) of frame `index`."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} of {len(self)}")
        chunk = bisect.bisect_right(self.offsets, index) - 1
        return chunk, index - self.offsets[chunk]

    def read_rgb(self, index: int) -> np.ndarray:
        chunk, local = self.locate(index)
        return self.chunks[chunk].read_rgb(local)


def load_rgb(path: Path) -> np.ndarray:
    """The image as shown: EXIF orientation applied, as labelme and browsers do."""
    try:
        with path.open("rb") as file, _open_frame(path, file) as image:
            return np.asarray(_upright(image).convert("RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise InputError(path, f"cannot decode image ({error})") from error


def find_frames(folder: Path) -> FrameSequence:
    """Every .jpg/.jpeg/.png in `folder`, naturally sorted, fully decoded once to prove it reads.

    Decoding everything up front costs about 5 ms a frame but means a corrupt frame stops the run
    before any file is written.
    """
    if not folder.is_dir():
        raise InputError(folder, "not a folder of frames")
    paths = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES),
        key=lambda p: natural_key(p.name),
    )
    if not paths:
        raise InputError(folder, "no frames found (.jpg, .jpeg or .png)")
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise InputError(
                path, f"two frames share the name {path.stem!r} ({seen[path.stem].name})"
            )
        seen[path.stem] = path
    return frames_from_paths(folder, paths)


def frames_from_paths(folder: Path, paths: Sequence[Path]) -> FrameSequence:
    """These image files, in this order, as one video: each decoded once to prove it reads and
    that all share one size."""
    if not paths:
        raise InputError(folder, "no frames given")
    width, height = _decoded_size(paths[0])
    for path in paths[1:]:
        size = _decoded_size(path)
        if size != (width, height):
            raise InputError(
                path,
                f"frame is {size[0]}x{size[1]} but {paths[0].name} is {width}x{height}; "
                "all frames of a video must have one size",
            )
    return FrameSequence(folder=folder, paths=tuple(paths), width=width, height=height)


def _decoded_size(path: Path) -> tuple[int, int]:
    try:
        with path.open("rb") as file, _open_frame(path, file) as image:
            image.load()
            return _upright(image).size
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise InputError(path, f"cannot decode image ({error})") from error


def _open_frame(path: Path, file: BinaryIO) -> Image.Image:
    """The frame opened, its pixels not yet decoded; InputError if it has more than
    MAX_FRAME_PIXELS. A PNG of a few kB can claim 20000x20000 pixels (a decompression bomb):
    decoded, 1.2 GB for one frame.

    Pillow warns about such an image as it opens it, and refuses one twice over its own
    limit: the warning is made an error here so that the user sees our one line instead.
    (warnings.catch_warnings swaps the process's filters for that moment; only a warning
    raised by another thread just then could be filtered by ours.)"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        pixels = f"{int(claimed.group(1)):,}" if claimed else "too many"
        raise InputError(path, f"frame has {pixels} pixels, {_FRAME_LIMIT}") from error
    width, height = image.size
    if width * height > MAX_FRAME_PIXELS:
        image.close()
        raise InputError(
            path, f"frame is {width}x{height}, {width * height:,} pixels, {_FRAME_LIMIT}"
        )
    return image


def _upright(image: Image.Image) -> Image.Image:
    # Phone photos store pixels sideways plus an EXIF orientation; prompts are drawn on the
    # turned image.
    return ImageOps.exif_transpose(image)
