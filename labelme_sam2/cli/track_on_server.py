"""`labelme-sam2 track FOLDER --server URL`: the run on a team server's model, for a folder on
a disk the server shares (the same path on both sides). The server tracks it as a background
job; this command follows the job and reports it as a local run would: the same progress (a
bar, or `--progress json`'s events, done carrying the server's result), warnings, summary line
and exit codes. The first SIGINT/SIGTERM cancels the job (it stops at its next model step,
every file old or new) and waits for it to end; a second one stops waiting at once.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from labelme_sam2.cli.cancel_signals import cancel_on_signals
from labelme_sam2.cli.console import INTERRUPTED, NOT_UPDATED
from labelme_sam2.cli.output_flags import output_options
from labelme_sam2.cli.progress_json import DoneEvent
from labelme_sam2.cli.reporters import Reporter
from labelme_sam2.cli.server_client import (
    FINISHED,
    RemoteJob,
    ServerClient,
    ServerError,
    ServerUnreachable,
    server_auth,
)
from labelme_sam2.core.pipeline import Progress
from labelme_sam2.errors import UserError
from labelme_sam2.options import ModelOptions, OutputOptions

POLL_SECONDS = 0.3  # how often the job is read while it runs
# Polling rides out a server that stops answering for this long (a restart, a network blip).
UNREACHABLE_SECONDS = 30.0
CANCEL_SECONDS = 2.0  # the last cancel sent on the way out after a second signal
# Flags whose choice is the server admin's (the model) or a local run's (the other outputs).
MODEL_FLAGS = {
    "model": "--model",
    "checkpoint": "--checkpoint",
    "checkpoints_dir": "--checkpoints-dir",
    "device": "--device",
    "image_size": "--image-size",
    "compile": "--compile",
}
OUTPUT_FLAGS = {
    "videos": "--video",
    "fill": "--fill",
    "side_by_side": "--side-by-side",
    "fps": "--fps",
    "layers": "--export/--save-masks",
    "previews": "--previews",
    "contact_sheet": "--contact-sheet",
    "shapes": "--as",
}


def with_model_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """`track`'s parser leaves --model and --device None when they are not given, so that
    --server can tell; a local run gets their defaults here."""
    defaults = ModelOptions()
    filled = dict(vars(args))
    filled["model"] = args.model or defaults.model
    filled["device"] = args.device or defaults.device
    return argparse.Namespace(**filled)


def check_server_flags(args: argparse.Namespace) -> None:
    """With --server, a flag only a local run takes is one line, before anything runs."""
    given = [
        flag
        for name, flag in MODEL_FLAGS.items()
        if getattr(args, name) is not None and getattr(args, name) is not False
    ]
    if given:
        raise UserError(
            given[0],
            "is not taken with --server: the server's admin chose its model "
            "(track without --server to choose one)",
        )
    if args.prompts is not None:
        raise UserError("--prompts", "is not taken with --server: it tracks LabelMe folders")
    outputs, defaults = output_options(args), OutputOptions()
    changed = [
        flag
        for name, flag in OUTPUT_FLAGS.items()
        if getattr(outputs, name) != getattr(defaults, name)
    ]
    if changed:
        raise UserError(
            changed[0],
            "is not taken with --server: the server writes the LabelMe files only; after the "
            "job, `labelme-sam2 render FOLDER` writes videos, mask layers and pictures",
        )


def track_on_server(
    args: argparse.Namespace,
    *,
    reporter: Reporter,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Submit FOLDER as a job and follow it to its end: the exit code a local run gives."""
    client = ServerClient(args.server, auth=server_auth(environ))
    # Absolute, links resolved: the path the shared disk has on both sides.
    folder = str(Path(args.path).resolve())
    frame_clock = _FrameClock()
    with cancel_on_signals() as cancel, reporter.progress(frame_clock) as on_progress:
        job = client.submit_folder(folder, full=args.full)
        follower = _Follower(
            client, job, reporter=reporter, on_progress=on_progress, frame_clock=frame_clock
        )
        try:
            job = follower.follow(cancel)
        except KeyboardInterrupt:  # a second signal: stop waiting, but ask the job to stop
            follower.send_cancel(timeout=CANCEL_SECONDS)
            raise
    return _report_end(job, folder=folder, url=client.url, reporter=reporter)


class _FrameClock:
    """When each frame was written, as far as polling tells: the frames one look finds are
    spread evenly over the time since the look before, so a rate computed from them is the
    job's, not the polling's (a burst of frames all 'at once' would be thousands a second)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


class _Follower:
    """Reads the job until it ends, showing each new warning and each frame written."""

    def __init__(
        self,
        client: ServerClient,
        job: RemoteJob,
        *,
        reporter: Reporter,
        on_progress: Progress,
        frame_clock: _FrameClock,
    ) -> None:
        self.client = client
        self.job = job
        self.reporter = reporter
        self.on_progress = on_progress
        self.frame_clock = frame_clock
        self.last_look = time.monotonic()
        self.warnings_shown = 0
        self.frames_shown = 0
        self.cancel_tried = False  # wake up for a cancel once, not on every look after
        self.cancel_sent = False

    def follow(self, cancel: threading.Event) -> RemoteJob:
        unreachable_since: float | None = None
        while True:
            self._show(self.job)
            if self.job["state"] in FINISHED:
                return self.job
            if cancel.is_set():
                self.send_cancel(timeout=None)
            # Looked at, not waited on: the signal handler that sets it runs on this thread.
            _sleep(POLL_SECONDS, wake=lambda: cancel.is_set() and not self.cancel_tried)
            try:
                self.job = self.client.job(self.job["id"])
                unreachable_since = None
            except ServerUnreachable:
                now = time.monotonic()
                unreachable_since = unreachable_since or now
                if now - unreachable_since > UNREACHABLE_SECONDS:
                    raise
            except ServerError as error:
                if error.status != 404:
                    raise
                raise ServerError(
                    f"{self.client.url}: the server no longer knows job {self.job['id']} "
                    "(restarted?); track again",
                    url=self.client.url,
                    status=404,
                ) from None

    def send_cancel(self, *, timeout: float | None) -> None:
        """Once; a server that does not answer is asked again at the next look (or, on the
        way out after a second signal, not at all)."""
        if self.cancel_sent:
            return
        self.cancel_tried = True
        try:
            self.client.cancel(self.job["id"], timeout=timeout)
            self.cancel_sent = True
        except ServerUnreachable:
            pass

    def _show(self, job: RemoteJob) -> None:
        for message in job["warnings"][self.warnings_shown :]:
            self.reporter.warn(message)
        self.warnings_shown = max(self.warnings_shown, len(job["warnings"]))
        # One report per frame, none skipped, as a local run's; a job run again from its
        # first frame (its worker died) shows nothing new until it gets past this.
        now, new = time.monotonic(), job["frames_done"] - self.frames_shown
        for number, done in enumerate(range(self.frames_shown + 1, job["frames_done"] + 1), 1):
            self.frame_clock.now = self.last_look + (now - self.last_look) * number / new
            self.on_progress(done, job["frames_total"])
        self.frames_shown = max(self.frames_shown, job["frames_done"])
        self.last_look = now


def _sleep(seconds: float, *, wake: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0 and not wake():
        time.sleep(min(left, 0.05))


def _report_end(job: RemoteJob, *, folder: str, url: str, reporter: Reporter) -> int:
    if job["state"] == "failed":
        error = job["error"] or "the job failed (see the server's log)"
        # The library's own line names the folder, as a local run's; anything else, the server.
        raise ServerError(error if error.startswith(folder) else f"{url}: {error}", url=url)
    replaced = job["replaced_by"]
    if replaced:
        reporter.warn(f"{folder}: the server's job was replaced by job {replaced}, a newer track")
    result = job["result"]
    if result is None:  # cancelled while queued: it never ran, nothing was written
        reporter.error(
            f"{folder}: the server's job {job['id']} was cancelled before it started; "
            "nothing was written"
        )
        return INTERRUPTED
    done = done_event_of(result, url=url)
    print(done["summary"], flush=True)
    reporter.finished(done)
    if done["cancelled"]:
        return INTERRUPTED
    return NOT_UPDATED if done["not_updated"] else 0


def done_event_of(result: Mapping[str, Any], *, url: str) -> DoneEvent:
    """The server's result as `--progress json`'s done event (its documented fields only)."""
    try:
        return DoneEvent(
            event="done",
            cancelled=_typed(result["cancelled"], bool),
            frames=_typed(result["frames"], int),
            frames_written=_typed(result["frames_written"], int),
            labelme_files_written=_typed(result["labelme_files_written"], int),
            labelme_files_changed=_typed(result["labelme_files_changed"], int),
            recomputed_frames=_typed(result["recomputed_frames"], int),
            not_updated=[_typed(path, str) for path in _typed(result["not_updated"], list)],
            outputs=[_typed(path, str) for path in _typed(result["outputs"], list)],
            summary=_typed(result["summary"], str),
        )
    except (KeyError, TypeError) as error:
        raise ServerError(
            f"{url}: the job's result is not what labelme-sam2 track reports ({error})", url=url
        ) from None


def _typed(value: object, kind: type[Any]) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{value!r} is not {kind.__name__}")
    return value
