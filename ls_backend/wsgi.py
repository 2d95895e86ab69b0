"""The backend as a WSGI app for gunicorn, configured by the environment only:

    LABELME_SAM2_MODEL=sam2.1_hiera_large LABELME_SAM2_DEVICE=cuda \\
    gunicorn --workers 1 --threads 4 --timeout 600 -b 0.0.0.0:9090 \\
        'ls_backend.wsgi:create_app_from_env()'

Each worker process loads the model once, at start; `labelme-sam2 serve` builds the same app.
Besides settings.py's variables: LABELME_SAM2_MODEL, LABELME_SAM2_CHECKPOINT,
LABELME_SAM2_CHECKPOINTS_DIR, LABELME_SAM2_DEVICE and LABELME_SAM2_IMAGE_SIZE, which mean what
serve's flags mean.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from labelme_sam2.cli.model_loading import load_model, resolve_model_choice
from labelme_sam2.errors import OutputError
from labelme_sam2.models.registry import DEFAULT_MODEL
from ls_backend.app import create_app
from ls_backend.media import MediaResolver
from ls_backend.prediction import Predictor
from ls_backend.settings import BackendSettings, settings_from_env

log = logging.getLogger(__name__)


def model_args_from_env(environ: Mapping[str, str]) -> argparse.Namespace:
    size = environ.get("LABELME_SAM2_IMAGE_SIZE")
    checkpoints = environ.get("LABELME_SAM2_CHECKPOINTS_DIR")
    return argparse.Namespace(
        model=environ.get("LABELME_SAM2_MODEL", DEFAULT_MODEL),
        checkpoint=environ.get("LABELME_SAM2_CHECKPOINT") or None,
        checkpoints_dir=Path(checkpoints) if checkpoints else None,
        device=environ.get("LABELME_SAM2_DEVICE", "auto"),
        image_size=int(size) if size else None,
    )


def create_app_from_env(environ: Mapping[str, str] = os.environ) -> Flask:
    return build_app(settings_from_env(environ), model_args_from_env(environ))


def build_app(settings: BackendSettings, model_args: argparse.Namespace) -> Flask:
    """Load the model (once for this process) and serve it."""
    if settings.masks_root is not None:  # a masks folder that cannot be made fails at start
        try:
            settings.masks_root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                settings.masks_root, f"cannot make the masks folder ({error})"
            ) from error
    model = load_model(resolve_model_choice(model_args), model_args)
    predictor = Predictor(
        tracker=model.tracker,
        model_version=model.version,
        media=MediaResolver(cache_dir=settings.media_cache),
        masks_root=settings.masks_root,
    )
    log.info("labelme-sam2 backend: %s on %s", model.version, model.device)
    return create_app(predictor=predictor, settings=settings)
