"""The model flags (--model, --checkpoint, --checkpoints-dir, --device, --image-size,
--compile), parsed into ModelOptions. `track`, and the Label Studio backend's `serve` and
`worker`, take them."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from labelme_sam2.models.registry import MODELS
from labelme_sam2.options import DEFAULT_IMAGE_SIZE, DEVICES, ModelOptions, model_values_from_env


def add_model_arguments(
    parser: argparse.ArgumentParser, *, environ: Mapping[str, str] | None = None
) -> None:
    """With `environ`, the LABELME_SAM2_* variables set there are the defaults. They stay
    strings: argparse checks string defaults as it checks flags, so a bad value is its usual
    one-line error."""
    defaults = ModelOptions()
    parser.add_argument(
        "--model",
        default=defaults.model,
        choices=list(MODELS),
        metavar="NAME",
        help=f"SAM 2 model (default: {defaults.model}); one of: {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--checkpoint",
        default=defaults.checkpoint,
        metavar="PATH",
        help="weights file (default: CHECKPOINTS_DIR/<model>.pt)",
    )
    parser.add_argument(
        "--checkpoints-dir",
        type=Path,
        default=defaults.checkpoints_dir,
        help="where checkpoints live (default: $LABELME_SAM2_CHECKPOINTS or ./checkpoints)",
    )
    parser.add_argument(
        "--device",
        choices=list(DEVICES),
        default=defaults.device,
        help="where SAM 2 runs (default: auto = cuda, else mps, else cpu)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=defaults.image_size,
        metavar="N",
        help=f"SAM 2 input size, a multiple of 32 (default: the model's {DEFAULT_IMAGE_SIZE}); "
        "for tests and speed",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile SAM 2 (CUDA only): minutes to compile on the first frames, "
        "faster frames after; elsewhere a warning and no compile",
    )
    if environ is not None:
        parser.set_defaults(**model_values_from_env(environ))


def model_options(args: argparse.Namespace) -> ModelOptions:
    return ModelOptions(
        model=args.model,
        checkpoint=args.checkpoint,
        checkpoints_dir=args.checkpoints_dir,
        device=args.device,
        image_size=args.image_size,
        compile=args.compile,
    )
