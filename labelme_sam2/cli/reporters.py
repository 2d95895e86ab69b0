"""Where `track` and `render` report to: a person (a progress bar, warnings as text) or a
program (`--progress json`, JSON lines on stderr: progress_json.py)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from labelme_sam2.cli.console import progress_bar, warn
from labelme_sam2.cli.progress_json import AnyDoneEvent
from labelme_sam2.core.pipeline import Progress

PROGRESS_MODES = ("bar", "json")


class Reporter(Protocol):
    def warn(self, message: str) -> None: ...

    def error(self, message: str) -> None: ...

    def progress(self, clock: Callable[[], float] = ...) -> AbstractContextManager[Progress]: ...

    def finished(self, done: AnyDoneEvent) -> None: ...


class ToPerson:
    def __init__(self, doing: str) -> None:
        self._doing = doing  # the bar's label: "tracking", "rendering"

    def warn(self, message: str) -> None:
        warn(message)

    def error(self, message: str) -> None:
        print(f"labelme-sam2: error: {message}", file=sys.stderr)

    def progress(
        self, clock: Callable[[], float] = time.monotonic
    ) -> AbstractContextManager[Progress]:
        return progress_bar(self._doing)  # tqdm keeps its own time

    def finished(self, done: AnyDoneEvent) -> None:
        pass  # the summary line on stdout says it all


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default="bar",
        help="bar (default): a progress bar on a terminal; json: for a program that runs this "
        "command, stderr is one JSON object per line (a progress event per frame written, "
        "warnings, an error, a final done event; docs/outputs.md, 'Progress as JSON lines')",
    )
