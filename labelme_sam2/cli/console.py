"""How commands talk to the user: warnings on stderr, one line each; a progress bar; exit codes.
(`track --progress json` talks to programs instead: cli/progress_json.py.)"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from labelme_sam2.core.pipeline import Progress

USER_ERROR = 2  # a UserError: bad input, options or set-up; one line says which
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), also a `track` cancelled by a signal
NOT_UPDATED = 3  # `track` finished, but LabelMe files saved meanwhile keep the user's version


def exit_now_if_threads_left(code: int) -> None:
    """After an abort at once (a second Ctrl-C lands while the run waits for its threads), the
    run's threads may still be inside torch or OpenCV, and Python's own exit would stop them
    mid-call: std::terminate, exit code 134, a line of text on stderr. Every file is already
    old or new, so leave without Python's exit."""
    main = threading.main_thread()
    if any(thread.is_alive() for thread in threading.enumerate() if thread is not main):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


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
