"""An H.264 mp4 that browsers play, written frame by frame and moved into place when done."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np

from labelme_sam2.errors import OutputError
from labelme_sam2.formats.atomic import replace_atomically


class H264File:
    def __init__(self, path: Path, *, fps: float) -> None:
        self.path = path
        self._fps = fps
        self._temp: Path | None = None
        self._encoder: Generator[Any, Any, None] | None = None
        self.frames_written = 0

    def add(self, rgb: np.ndarray) -> None:
        if self._encoder is None:
            self._encoder = self._start(width=rgb.shape[1], height=rgb.shape[0])
        self._encoder.send(np.ascontiguousarray(rgb))
        self.frames_written += 1

    def finish(self) -> None:
        if self._encoder is None or self._temp is None:
            raise RuntimeError(f"{self.path}: no frames")
        self._encoder.close()
        self._encoder = None
        replace_atomically(self._temp, self.path)

    def discard(self) -> None:
        if self._encoder is not None:
            self._encoder.close()
            self._encoder = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)

    def _start(self, *, width: int, height: int) -> Generator[Any, Any, None]:
        try:
            fd, name = tempfile.mkstemp(
                prefix=f".{self.path.stem}.", suffix=".mp4", dir=self.path.parent
            )
        except OSError as error:  # a folder that turned read-only, a full disk
            raise OutputError(self.path, f"cannot write ({error.strerror or error})") from error
        os.close(fd)
        self._temp = Path(name)
        encoder = imageio_ffmpeg.write_frames(
            name,
            (width, height),
            fps=self._fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=1,
            quality=None,
            ffmpeg_log_level="error",
            # yuv420p needs even sides (an odd one gets a black edge); bitexact keeps re-runs
            # byte-identical; faststart lets a browser play before the download ends.
            # veryfast: at 720p 16 CPU ms a frame against medium's 37, files 4 % larger at the
            # same CRF (docs/benchmarks.md): medium could not keep up with a GPU on 2 cores.
            output_params=[
                "-crf",
                "18",
                "-preset",
                "veryfast",
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                "-fflags",
                "+bitexact",
                "-movflags",
                "+faststart",
            ],
        )
        encoder.send(None)
        return encoder
