"""`labelme-sam2 track|render|extract --progress json`: stderr as JSON lines, for a program
that runs the command (the LabelMe desktop app). Every line is one JSON object, written whole
and flushed at once; its "event" says which shape it has. The shapes below are a contract
(docs/outputs.md, "Progress as JSON lines"): fields may be added, none changed or removed."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, TextIO, TypedDict, cast

from labelme_sam2.api import ExtractSummary, RenderResult, TrackResult, UserError
from labelme_sam2.cli.console import INTERRUPTED, USER_ERROR, exit_now_if_threads_left
from labelme_sam2.core.pipeline import Progress

INTERNAL_ERROR = 1  # what Python exits with on an uncaught exception


class ProgressEvent(TypedDict):
    """After each frame is written to every output: done goes 1, 2, ... total."""

    event: Literal["progress"]
    done: int
    total: int
    frames_per_second: float | None  # since the first frame was written; None on the first
    seconds_left: float | None  # at that rate; None until the rate is known


class WarningEvent(TypedDict):
    event: Literal["warning"]
    message: str  # one line: what the text mode prints after "labelme-sam2: warning: "


class _ErrorEventFields(TypedDict):
    event: Literal["error"]
    message: str  # one line: what the text mode prints after "labelme-sam2: error: "


class ErrorEvent(_ErrorEventFields, total=False):
    traceback: str  # only for a bug (exit code 1): Python's traceback, lines joined by \n


class DoneEvent(TypedDict):
    """The last line of a run that finished or was cancelled (not after an error)."""

    event: Literal["done"]
    cancelled: bool
    frames: int  # in the whole input
    frames_written: int  # by every output: all frames, unless cancelled
    labelme_files_written: int  # >= frames_written after a cancel (outputs stop apart)
    labelme_files_changed: int
    recomputed_frames: int  # frames the model was to compute (planned, also when cancelled)
    not_updated: list[str]  # LabelMe files saved during the run and left as saved (exit 3)
    outputs: list[str]  # videos, mask folders (ending in /), pictures; none after a cancel
    summary: str  # the line the command prints on stdout


class RenderDoneEvent(TypedDict):
    """`render`'s last line when it finished or was cancelled."""

    event: Literal["done"]
    cancelled: bool
    frames: int  # in the whole input
    frames_written: int  # by every output: all frames, unless cancelled
    outputs: list[str]  # as DoneEvent's
    summary: str  # the line the command prints on stdout


class ExtractDoneEvent(TypedDict):
    """`extract`'s last line when it finished (after SIGINT its last line is an error event)."""

    event: Literal["done"]
    cancelled: bool  # always false: extract has no graceful cancel
    frames: int  # frame files written
    folders: list[str]  # the frame folder, or the chunk folders in order
    summary: str  # the line the command prints on stdout


AnyDoneEvent = DoneEvent | RenderDoneEvent | ExtractDoneEvent
Event = ProgressEvent | WarningEvent | ErrorEvent | AnyDoneEvent


def write_event(stream: TextIO, event: Event) -> None:
    # ASCII escapes keep a line valid JSON whatever the pipe's encoding; NaN is no JSON.
    stream.write(json.dumps(event, allow_nan=False) + "\n")
    stream.flush()


def warning_event(message: str) -> WarningEvent:
    return {"event": "warning", "message": message}


class JsonEvents:
    """Events to a stream, each line whole even when writer threads warn at the same time."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.RLock()

    def emit(self, event: Event) -> None:
        with self._lock:
            write_event(self._stream, event)

    def warn(self, message: str) -> None:
        self.emit(warning_event(message))

    def error(self, message: str, *, traceback: str | None = None) -> None:
        event: ErrorEvent = {"event": "error", "message": message}
        if traceback is not None:
            event["traceback"] = traceback
        self.emit(event)

    @contextmanager
    def progress(self, clock: Callable[[], float] = time.monotonic) -> Iterator[Progress]:
        """`clock`: when each frame was written (`track --server` spreads the frames it
        learns of at one look over the time since the last)."""
        yield ProgressEvents(self, clock=clock)

    def finished(self, done: AnyDoneEvent) -> None:
        self.emit(done)

    def python_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        """warnings.showwarning: a library's warning as one event, not two lines of text."""
        self.warn(f"{category.__name__}: {message} ({filename}:{lineno})")


class ProgressEvents:
    """on_progress(done, total): one progress event per frame, not throttled. The rate runs
    from the first frame written, so loading the model does not drag it down."""

    def __init__(self, events: JsonEvents, *, clock: Callable[[], float] = time.monotonic):
        self._events = events
        self._clock = clock
        self._first: tuple[int, float] | None = None  # (done, when) at the first report

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if self._first is None:
            self._first = (done, now)
        first_done, first_at = self._first
        rate = None
        if done > first_done and now > first_at:
            rate = (done - first_done) / (now - first_at)
        self._events.emit(
            {
                "event": "progress",
                "done": done,
                "total": total,
                "frames_per_second": None if rate is None else round(rate, 3),
                "seconds_left": None if rate is None else round((total - done) / rate, 1),
            }
        )


def done_event(result: TrackResult) -> DoneEvent:
    labelme_files = result.labelme_files_written
    return {
        "event": "done",
        "cancelled": result.cancelled,
        "frames": result.summary.frames,
        "frames_written": result.frames_written,
        "labelme_files_written": result.frames_written if labelme_files is None else labelme_files,
        "labelme_files_changed": result.labelme_files_changed,
        "recomputed_frames": result.summary.recomputed_frames,
        "not_updated": [str(skipped.path) for skipped in result.not_updated],
        "outputs": list(result.outputs),
        "summary": result.line(),
    }


def render_done_event(result: RenderResult) -> RenderDoneEvent:
    return {
        "event": "done",
        "cancelled": result.cancelled,
        "frames": result.frames,
        "frames_written": result.frames_written,
        "outputs": list(result.outputs),
        "summary": result.line(),
    }


def extract_done_event(summary: ExtractSummary) -> ExtractDoneEvent:
    return {
        "event": "done",
        "cancelled": False,
        "frames": summary.frames,
        "folders": [str(folder) for folder in summary.folders],
        "summary": summary.line(),
    }


class StrayTextAsWarnings(io.TextIOBase):
    """sys.stderr while events own the real one: text that anything else prints there (a
    logging record with no handler, a library's own print) becomes warning events, a line
    each, so a program reading stderr never meets a line that is not JSON."""

    def __init__(self, events: JsonEvents) -> None:
        super().__init__()
        self._events = events
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._pending = (self._pending + text).replace("\r", "\n").split("\n")
        for line in lines:
            if line.strip():
                self._events.warn(line.rstrip())
        return len(text)

    def close(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest.strip():
            self._events.warn(rest.rstrip())
        super().close()


@contextmanager
def json_events_on_stderr() -> Iterator[JsonEvents]:
    real_stderr = sys.stderr
    events = JsonEvents(real_stderr)
    stray = StrayTextAsWarnings(events)
    showwarning = warnings.showwarning
    sys.stderr = cast(TextIO, stray)
    warnings.showwarning = events.python_warning
    try:
        yield events
    finally:
        warnings.showwarning = showwarning
        sys.stderr = real_stderr
        stray.close()


def run_with_json_events(command: Callable[[JsonEvents], int]) -> int:
    """`command`'s exit code, with stderr as JSON lines however it ends: an error is one error
    event, with main()'s exit codes (2 for a UserError, 130 for Ctrl-C), and a bug is one
    too (exit code 1, the traceback inside it)."""
    with json_events_on_stderr() as events:
        try:
            return command(events)
        except UserError as error:
            events.error(str(error))
            return USER_ERROR
        except KeyboardInterrupt:
            events.error("interrupted")
            exit_now_if_threads_left(INTERRUPTED)
            return INTERRUPTED
        except Exception as error:
            what = f"{type(error).__name__}: {error}".replace("\n", " ")
            events.error(
                f"internal error (a bug, please report it): {what}",
                traceback=traceback.format_exc(),
            )
            return INTERNAL_ERROR
