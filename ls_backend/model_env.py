"""The model flags as environment variables (LABELME_SAM2_MODEL, _CHECKPOINT, _CHECKPOINTS_DIR,
_DEVICE, _IMAGE_SIZE), for gunicorn's web side and the workers' defaults."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from labelme_sam2.cli.model_loading import add_model_arguments

ENVIRONMENT = {
    "model": "LABELME_SAM2_MODEL",
    "checkpoint": "LABELME_SAM2_CHECKPOINT",
    "checkpoints_dir": "LABELME_SAM2_CHECKPOINTS_DIR",
    "device": "LABELME_SAM2_DEVICE",
    "image_size": "LABELME_SAM2_IMAGE_SIZE",
}


def model_defaults_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Only the variables that are set, as argparse defaults. They stay strings: argparse
    checks string defaults as it checks flags, so a bad value is its usual one-line error."""
    return {dest: environ[name] for dest, name in ENVIRONMENT.items() if environ.get(name)}


def model_args_from_env(environ: Mapping[str, str]) -> argparse.Namespace:
    """The model flags as the command line would parse them, the environment's values first."""
    parser = argparse.ArgumentParser(add_help=False)
    add_model_arguments(parser)
    parser.set_defaults(**model_defaults_from_env(environ))
    return parser.parse_args([])
