"""A Label Studio task -> a job, from /predict (batch) and from webhooks alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ls_backend.jobs.model import JobView, job_spec
from ls_backend.jobs.queue import JobQueue
from ls_backend.label_config import ProjectSchema
from ls_backend.prediction import regions_to_prompt_with


def submit_task(
    jobs: JobQueue,
    task: Mapping[str, Any],
    *,
    schema: ProjectSchema,
    project: str,
    model_version: str,
) -> JobView | None:
    """The job for `task` (replacing its earlier one), or None when it has no prompts yet."""
    if regions_to_prompt_with(task, None, schema=schema) is None:
        return None
    spec = job_spec(
        task, project=project, label_config=schema.label_config, model_version=model_version
    )
    return jobs.submit(spec)
