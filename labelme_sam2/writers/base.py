"""What every frame writer shares (the contract is core.pipeline.FrameWriter)."""

from __future__ import annotations


class FrameWriterBase:
    """A writer whose files are each finished when written (atomically, one by one): nothing
    to do at the end, nothing half-made to remove when the run fails."""

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass
