"""How commands talk to the user: warnings on stderr, one line each; a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from labelme_sam2.core.pipeline import Progress


def warn(message: str) -> None:
    print(f"labelme-sam2: warning: {message}", file=sys.stderr)


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """An on_progress(done, total) that draws a bar on a terminal (nothing when piped)."""
    with tqdm(unit="frame", desc=description, disable=None) as bar:

        def on_progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield on_progress
