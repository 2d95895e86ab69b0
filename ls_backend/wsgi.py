"""The backend as a WSGI app for gunicorn, configured by the environment only:

    LABELME_SAM2_MODEL=sam2.1_hiera_large LABELME_SAM2_DEVICE=cuda \\
    gunicorn -c ls_backend/gunicorn.conf.py 'ls_backend.wsgi:create_app_from_env()'

Without LABELME_SAM2_REDIS_URL, the process loads the model once and runs jobs on a thread of
its own (one gunicorn worker: the model and the job list live in it). With it, the process
loads no model and imports no torch: clicks and jobs go to `labelme-sam2 worker` processes.
Besides settings.py's variables: LABELME_SAM2_MODEL, LABELME_SAM2_CHECKPOINT,
LABELME_SAM2_CHECKPOINTS_DIR, LABELME_SAM2_DEVICE and LABELME_SAM2_IMAGE_SIZE, which mean what
serve's flags mean.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from flask import Flask

from labelme_sam2.api import ModelOptions, OutputError, UserError, load_model
from ls_backend.app import create_app
from ls_backend.folder_tracking import FolderTracking
from ls_backend.jobs.embedded import EmbeddedJobs
from ls_backend.jobs.model import JobControl, JobSpec
from ls_backend.jobs.queue import Execute
from ls_backend.jobs.runner import run_job
from ls_backend.label_studio_api import AccessBook
from ls_backend.media import MediaResolver
from ls_backend.prediction import Predictor
from ls_backend.settings import BackendSettings, settings_from_env

log = logging.getLogger(__name__)


def create_app_from_env(environ: Mapping[str, str] = os.environ) -> Flask:
    return build_app(settings_from_env(environ), ModelOptions.from_env(environ))


def build_app(settings: BackendSettings, model: ModelOptions) -> Flask:
    """With Redis: the web side only, which needs the model's version but not its weights
    file. Else: load the model (once for this process) and serve it, with the embedded job
    queue unless jobs are off."""
    book = AccessBook(settings.access)
    if settings.redis_url is None:  # this process writes the video masks
        make_masks_root(settings.masks_root)
    if settings.redis_url is not None:
        from ls_backend.jobs.interactive_rpc import RemotePredictor
        from ls_backend.jobs.rq_queue import RqJobs, connect, redacted

        connection = connect(settings.redis_url)
        rq_jobs = RqJobs(
            connection,
            queue_name=settings.queue_name,
            job_timeout=settings.job_timeout,
            max_queued=settings.max_queued_jobs,
        )
        remote = RemotePredictor(
            connection,
            queue_name=settings.queue_name,
            model_version=model.version,
            timeout=settings.click_seconds,
        )
        log.info("labelme-sam2 backend (web side): jobs on %s", redacted(settings.redis_url))
        return create_app(
            predictor=remote, settings=settings, jobs=rq_jobs, book=book, workers=rq_jobs
        )
    loaded = load_model(model, feature_cache_bytes=settings.feature_cache_bytes, warn=log.warning)
    predictor = Predictor(
        tracker=loaded.tracker,
        model_version=loaded.version,
        media=media_resolver(settings),
        masks_root=settings.masks_root,
        limits=settings.media_limits,
    )
    folders = FolderTracking(model=loaded, gate=predictor.gate, roots=settings.media_roots)
    jobs = (
        EmbeddedJobs(
            execute=local_execute(predictor, book, folders=folders),
            max_queued=settings.max_queued_jobs,
        )
        if settings.jobs
        else None
    )
    log.info("labelme-sam2 backend: %s on %s", loaded.version, loaded.device)
    return create_app(predictor=predictor, settings=settings, jobs=jobs, book=book)


def local_execute(predictor: Predictor, book: AccessBook, *, folders: FolderTracking) -> Execute:
    """Jobs run with this process's model: Label Studio tasks, writing to the project's Label
    Studio, and LabelMe folders on the shared disk."""

    def execute(
        spec: JobSpec,
        control: JobControl,
        still_current: Callable[[], AbstractContextManager[bool]],
    ) -> int | None:
        if spec["kind"] == "folder":
            folders.run(spec, control)
            return None
        access = book.for_project(spec["project"])
        return run_job(
            spec,
            predictor=predictor,
            control=control,
            access=access,
            sink=book.api(access),
            still_current=still_current,
        )

    return execute


def media_resolver(settings: BackendSettings) -> MediaResolver:
    """The media settings as a resolver; a bad LABELME_SAM2_MEDIA_ALLOWED_HOSTS entry is one
    line at start."""
    try:
        return MediaResolver(
            cache_dir=settings.media_cache,
            roots=settings.media_roots,
            allow_urls=settings.allow_urls,
            allowed_hosts=settings.media_allowed_hosts,
            max_bytes=settings.max_media_bytes,
            cache_bytes=settings.media_cache_bytes,
        )
    except ValueError as error:
        raise UserError("LABELME_SAM2_MEDIA_ALLOWED_HOSTS", str(error)) from error


def make_masks_root(folder: Path | None) -> None:
    """A masks folder that cannot be made fails at start, not on every video."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(folder, f"cannot make the masks folder ({error})") from error
