"""What every frame writer shares (the contract is core.pipeline.FrameWriter)."""

from __future__ import annotations

from pathlib import Path

from labelme_sam2.core.tracking import FrameMasks
from labelme_sam2.formats.atomic import write_atomically


class FrameWriterBase:
    """A writer whose files are each finished when written (atomically, one by one): nothing
    to do at the end, nothing half-made to remove when the run fails."""

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class FrameFilesWriter(FrameWriterBase):
    """A writer whose frame is a few whole files. `files()` encodes them, the costly part:
    pure, so the pipeline runs it for several frames at once on its pool (core/stages.py:
    Preparing); the files are then written atomically, in frame order."""

    durable = False  # layers a re-run recomputes: the rename alone gives old-or-new

    def files(self, result: FrameMasks) -> list[tuple[Path, bytes]]:
        raise NotImplementedError

    def prepare(self, result: FrameMasks) -> object:
        return self.files(result)

    def commit(self, prepared: object) -> None:
        files: list[tuple[Path, bytes]] = prepared  # type: ignore[assignment]
        for path, data in files:
            write_atomically(path, data, durable=self.durable)

    def write(self, result: FrameMasks) -> None:
        self.commit(self.prepare(result))
