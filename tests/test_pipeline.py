"""core.pipeline.deliver: every writer is aborted on failure, and the first error wins."""

from __future__ import annotations

import numpy as np
import pytest

from labelme_sam2.api import FrameMasks, ObjectKey
from labelme_sam2.core.pipeline import deliver


class Recording:
    def __init__(self, name: str, log: list[str], *, fail_write_at: int | None = None,
                 fail_abort: bool = False) -> None:  # fmt: skip
        self.name, self.log = name, log
        self.fail_write_at, self.fail_abort = fail_write_at, fail_abort

    def write(self, result: FrameMasks) -> None:
        if result.frame_index == self.fail_write_at:
            raise OSError(f"{self.name} cannot write frame {result.frame_index}")
        self.log.append(f"{self.name} wrote {result.frame_index}")

    def close(self) -> None:
        self.log.append(f"{self.name} closed")

    def abort(self) -> None:
        self.log.append(f"{self.name} aborted")
        if self.fail_abort:
            raise RuntimeError(f"{self.name} cannot clean up")


def results(count: int):
    mask = np.zeros((2, 2), dtype=bool)
    return (FrameMasks(i, {ObjectKey("car", None): mask}) for i in range(count))


def test_a_failing_abort_neither_hides_the_error_nor_skips_the_other_aborts():
    log: list[str] = []
    writers = [
        Recording("first", log, fail_abort=True),
        Recording("second", log, fail_write_at=2),
        Recording("third", log),
    ]
    with pytest.raises(OSError, match="second cannot write frame 2"):
        deliver(results(4), writers=writers, total=4)
    assert log[-3:] == ["first aborted", "second aborted", "third aborted"]
    assert "first closed" not in log


def test_progress_counts_written_frames():
    log: list[str] = []
    progress: list[tuple[int, int]] = []
    deliver(results(3), writers=[Recording("only", log)], total=3,
            on_progress=lambda done, total: progress.append((done, total)))  # fmt: skip
    assert progress == [(1, 3), (2, 3), (3, 3)] and log[-1] == "only closed"
