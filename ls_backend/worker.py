"""`labelme-sam2 worker`: one GPU's worth of jobs and clicks from Redis, the model loaded once.

Run one per GPU (CUDA_VISIBLE_DEVICES picks it), on any machine that reaches Redis and Label
Studio. Registered with labelme-sam2's command line through the `labelme_sam2.commands` entry
point, like `serve`.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
from dataclasses import replace
from pathlib import Path

from labelme_sam2.api import UserError, load_model
from labelme_sam2.cli.model_flags import add_model_arguments, model_options

NAME = "worker"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser(
        NAME,
        help="run background jobs and clicks for `serve` from Redis (one worker per GPU)",
        description="Take jobs (RQ) and clicks from Redis and write predictions to Label "
        "Studio (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY). The web side is `serve` or gunicorn "
        "with the same LABELME_SAM2_REDIS_URL.",
    )
    worker.add_argument(
        "--redis",
        default=os.environ.get("LABELME_SAM2_REDIS_URL"),
        help="Redis URL, e.g. redis://redis:6379/0 (default: $LABELME_SAM2_REDIS_URL)",
    )
    worker.add_argument(
        "--queue", default=None, help="default: $LABELME_SAM2_QUEUE or labelme-sam2"
    )
    worker.add_argument(
        "--masks-dir",
        type=Path,
        default=None,
        help="where video tasks' masks go (default: $LABELME_SAM2_MASKS_DIR, else not saved)",
    )
    worker.add_argument("--name", default=None, help="worker name (default: host-pid)")
    # The web side reads the model from the environment (wsgi.py): the same variables are the
    # worker's defaults, so both sides agree on the model when only the environment says it.
    add_model_arguments(worker, environ=os.environ)


def run(args: argparse.Namespace) -> int:
    try:
        from rq import Queue, SimpleWorker

        from ls_backend.folder_tracking import FolderTracking
        from ls_backend.jobs.interactive_rpc import serve_clicks
        from ls_backend.jobs.rq_queue import SERIALIZER, connect, redacted
        from ls_backend.jobs.rq_worker import WorkerRuntime, install, keep_alive
        from ls_backend.label_studio_api import LabelStudioApi
        from ls_backend.prediction import Predictor
        from ls_backend.settings import settings_from_env
        from ls_backend.wsgi import make_masks_root, media_resolver
    except ImportError as error:
        raise UserError(
            "worker",
            f"needs rq, redis and label-studio-sdk ({error}): "
            "pip install 'labelme-sam2[label-studio]'",
        ) from error
    if not args.redis:
        raise UserError("worker", "no Redis: pass --redis URL or set LABELME_SAM2_REDIS_URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_from_env()
    settings = replace(
        settings,
        redis_url=args.redis,
        queue_name=args.queue or settings.queue_name,
        masks_root=args.masks_dir or settings.masks_root,
    )
    connection = connect(args.redis)  # before the model takes its seconds to load
    make_masks_root(settings.masks_root)
    model = load_model(
        model_options(args), feature_cache_bytes=settings.feature_cache_bytes, warn=logging.warning
    )
    predictor = Predictor(
        tracker=model.tracker,
        model_version=model.version,
        media=media_resolver(settings),
        masks_root=settings.masks_root,
        limits=settings.media_limits,
    )
    runtime = WorkerRuntime(
        predictor=predictor,
        folders=FolderTracking(model=model, gate=predictor.gate, roots=settings.media_roots),
        access=settings.access,
        api=None if settings.access is None else LabelStudioApi(settings.access),
        connection=connection,
        device=model.device,
        gpu_bytes=model.gpu_bytes,
    )
    install(runtime)
    queue = Queue(settings.queue_name, connection=connection, serializer=SERIALIZER)
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    worker = SimpleWorker([queue], connection=connection, name=name, serializer=SERIALIZER)
    runtime.worker = worker
    stop = threading.Event()
    beside = [
        threading.Thread(target=keep_alive, args=(worker, queue, runtime, stop), daemon=True),
        threading.Thread(
            target=serve_clicks,
            args=(connection, predictor),
            kwargs={"queue_name": settings.queue_name, "access": settings.access, "stop": stop},
            daemon=True,
        ),
    ]
    for thread in beside:
        thread.start()
    if settings.access is None:
        logging.warning("LABEL_STUDIO_URL/LABEL_STUDIO_API_KEY unset: jobs cannot write results")
    print(
        f"labelme-sam2 worker {name}: {model.version} on {model.device}, queue "
        f"{settings.queue_name} at {redacted(args.redis)}",
        flush=True,
    )
    try:
        worker.work(with_scheduler=False)
    finally:
        stop.set()
    return 0
