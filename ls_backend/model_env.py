"""The model flags as environment variables (LABELME_SAM2_MODEL, _CHECKPOINT, _CHECKPOINTS_DIR,
_DEVICE, _IMAGE_SIZE), for gunicorn's web side and the workers' defaults."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labelme_sam2.cli.model_loading import add_model_arguments
from labelme_sam2.errors import UserError


def model_defaults_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Only the variables that are set, as argparse defaults."""
    defaults: dict[str, Any] = {}
    if environ.get("LABELME_SAM2_MODEL"):
        defaults["model"] = environ["LABELME_SAM2_MODEL"]
    if environ.get("LABELME_SAM2_CHECKPOINT"):
        defaults["checkpoint"] = environ["LABELME_SAM2_CHECKPOINT"]
    if environ.get("LABELME_SAM2_CHECKPOINTS_DIR"):
        defaults["checkpoints_dir"] = Path(environ["LABELME_SAM2_CHECKPOINTS_DIR"])
    if environ.get("LABELME_SAM2_DEVICE"):
        defaults["device"] = environ["LABELME_SAM2_DEVICE"]
    size = environ.get("LABELME_SAM2_IMAGE_SIZE")
    if size:
        if not size.isdigit():
            raise UserError("LABELME_SAM2_IMAGE_SIZE", f"must be a whole number, not {size!r}")
        defaults["image_size"] = int(size)
    return defaults


def model_args_from_env(environ: Mapping[str, str]) -> argparse.Namespace:
    """The model flags as the command line would parse them, the environment's values first."""
    parser = argparse.ArgumentParser(add_help=False)
    add_model_arguments(parser)
    parser.set_defaults(**model_defaults_from_env(environ))
    return parser.parse_args([])
