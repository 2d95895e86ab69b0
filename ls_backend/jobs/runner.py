"""One Label Studio job, whichever queue runs it: predict the task in the background, then
write the result to Label Studio as the task's one prediction of this model version. (Folder
jobs: ls_backend/folder_tracking.py.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from ls_backend.errors import RequestError
from ls_backend.jobs.model import JobControl, TaskJobSpec
from ls_backend.label_config import parse_label_config
from ls_backend.media import LabelStudioAccess
from ls_backend.prediction import Prediction, Predictor

log = logging.getLogger(__name__)


class PredictionSink(Protocol):
    def replace_prediction(self, *, task_id: int, prediction: Prediction) -> int:
        """Make `prediction` the task's only one of its model version; its id."""
        ...


class JobFailed(Exception):
    """The job cannot succeed as submitted (bad media, no way to reach Label Studio...):
    retrying it unchanged would fail again."""


def check_model_version(submitted_for: str, running: str) -> None:
    """JobFailed when the job was submitted for another model than the one running it."""
    if submitted_for != running:
        raise JobFailed(
            f"this worker runs {running} but the job was submitted for {submitted_for}: run the "
            "same model on the web side and every worker"
        )


def run_job(
    spec: TaskJobSpec,
    *,
    predictor: Predictor,
    control: JobControl,
    access: LabelStudioAccess | None,
    sink: PredictionSink | None,
    still_current: Callable[[], AbstractContextManager[bool]],
) -> int | None:
    """The id of the prediction written, or None when the task has no prompts (nothing is
    written). `still_current` holds the task's lock while it says whether this job is still
    the task's latest: a replaced job never writes, so a task gets one prediction per job."""
    check_model_version(spec["model_version"], predictor.model_version)
    if sink is None:
        raise JobFailed(
            "cannot write predictions to Label Studio: set LABEL_STUDIO_URL and "
            "LABEL_STUDIO_API_KEY for the worker"
        )
    try:
        schema = parse_label_config(spec["label_config"])
        prediction = predictor.predict(
            spec["task"],
            schema=schema,
            context=None,
            project=spec["project"],
            access=access,
            job=control,
        )
    except RequestError as error:
        raise JobFailed(error.message) from error
    if prediction is None:
        log.info("job %s: task %s has no prompts", control.job_id, spec["task"]["id"])
        return None
    control.check_cancelled()
    with still_current() as current:
        if not current:
            control.check_cancelled()  # replaced after the last frame: ends as cancelled
            return None
        return sink.replace_prediction(task_id=int(spec["task"]["id"]), prediction=prediction)
