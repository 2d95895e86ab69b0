"""Folder jobs: `labelme-sam2 track FOLDER --server URL` runs `track` here, on this process's
model, for a LabelMe folder on a disk the server shares with its users (the same path on both
sides), under LABELME_SAM2_MEDIA_ROOTS.

The web side checks a request (roots, a folder, writable) before queueing it; whoever runs the
job checks the folder again against its own roots, as a spec read from Redis is only data. The
run steps through the model under the GPU gate's background turn, like a Label Studio job, so
clicks still go between its model steps, and a cancel stops it at the next step (`track`'s
`cancel`: every file old or new).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from labelme_sam2.api import LoadedModel, TrackResult, UserError, track
from ls_backend.errors import RequestError
from ls_backend.gpu_gate import PriorityGate, StepwiseTracker
from ls_backend.jobs.model import (
    FolderJobSpec,
    FolderResult,
    JobCancelled,
    JobControl,
    folder_job_spec,
)
from ls_backend.jobs.runner import JobFailed, check_model_version

log = logging.getLogger(__name__)
ROOTS_SETTING = "LABELME_SAM2_MEDIA_ROOTS"


def folder_request(
    body: Mapping[str, object], *, roots: tuple[Path, ...], model_version: str
) -> FolderJobSpec:
    """POST /jobs's body -> the job's spec, or a RequestError naming the folder and what to
    do: 400 for a body that is not {"folder": "/abs/path", "full": false}, 403 outside the
    media roots (or none set), 422 for a folder that is missing or not writable here."""
    folder, full = body.get("folder"), body.get("full", False)
    if not isinstance(folder, str) or not folder:
        raise RequestError(
            "the body needs 'folder': the absolute path of a LabelMe folder on the shared disk"
        )
    if not isinstance(full, bool):
        raise RequestError(f"{folder}: 'full' must be true or false, not {full!r}")
    unknown = sorted(set(body) - {"folder", "full"})
    if unknown:
        raise RequestError(f"{folder}: unknown fields {unknown}; a folder job takes folder, full")
    return folder_job_spec(
        str(shared_folder(folder, roots=roots)), full=full, model_version=model_version
    )


def shared_folder(folder: str, *, roots: tuple[Path, ...]) -> Path:
    """`folder` with symlinks resolved, if it is a folder under `roots` that this process can
    read and write; else a RequestError (403 or 422) naming it and what to do."""
    if "\x00" in folder or not os.path.isabs(folder):
        raise RequestError(
            f"{folder!r}: give the folder's absolute path, as the server sees it", status=422
        )
    if not roots:
        raise RequestError(
            f"{folder}: this server tracks no folders: its admin must set {ROOTS_SETTING} to the "
            "shared folders it may track",
            status=403,
        )
    try:
        real = Path(folder).resolve()
        inside = any(real.is_relative_to(root.resolve()) for root in roots)
        # The resolved path is not named: it would tell where a symlink points.
        if not inside:
            raise RequestError(
                f"{folder}: not under the server's shared folders ({ROOTS_SETTING}); put it on "
                "the shared disk, under one of them",
                status=403,
            )
        if not real.is_dir():
            raise RequestError(
                f"{folder}: no such folder on the server; is the shared disk mounted at the "
                "same path on both sides?",
                status=422,
            )
        writable = os.access(real, os.R_OK | os.W_OK | os.X_OK)
    except (OSError, RuntimeError) as error:  # a name too long, a symlink loop
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise RequestError(f"{folder}: cannot be read here ({reason})", status=422) from error
    if not writable:
        raise RequestError(
            f"{folder}: the server cannot write there; let the user the server runs as write to it",
            status=422,
        )
    return real


@dataclass(frozen=True)
class FolderTracking:
    """Runs folder jobs on this process's model, behind clicks (the predictor's gate)."""

    model: LoadedModel
    gate: PriorityGate
    roots: tuple[Path, ...]

    def run(self, spec: FolderJobSpec, control: JobControl) -> None:
        """Track the folder; its result goes to `control.report`. JobFailed with `track`'s
        own one-line error; JobCancelled after a cancel (the result says how far it got)."""
        check_model_version(spec["model_version"], self.model.version)
        try:
            folder = shared_folder(spec["folder"], roots=self.roots)
        except RequestError as error:
            raise JobFailed(error.message) from error
        # The same model, each of its steps under the gate's background turn.
        stepwise = replace(self.model, tracker=StepwiseTracker(self.model.tracker, self.gate))
        try:
            result = track(
                folder,
                model=stepwise,
                full=spec["full"],
                on_progress=control.progress,
                cancel=control.cancel_event,
                warn=control.warn,
            )
        except UserError as error:  # no prompts, a bad LabelMe file, another run on it ...
            raise JobFailed(str(error)) from error
        for skipped in result.not_updated:  # what `track` prints after its summary
            control.warn(f"{skipped.path}: not updated: {skipped.reason}")
        control.report(folder_result(result))
        log.info("job %s: %s", control.job_id, result.line())
        if result.cancelled:
            raise JobCancelled(control.job_id)


def folder_result(result: TrackResult) -> FolderResult:
    """The fields of `track --progress json`'s done event, from the run's result."""
    labelme_files = result.labelme_files_written
    return FolderResult(
        cancelled=result.cancelled,
        frames=result.summary.frames,
        frames_written=result.frames_written,
        labelme_files_written=result.frames_written if labelme_files is None else labelme_files,
        labelme_files_changed=result.labelme_files_changed,
        recomputed_frames=result.summary.recomputed_frames,
        not_updated=[str(skipped.path) for skipped in result.not_updated],
        outputs=list(result.outputs),
        summary=result.line(),
    )
