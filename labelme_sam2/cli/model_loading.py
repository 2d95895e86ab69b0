"""The model flags (--model, --checkpoint, --device, --image-size) -> one loaded SAM 2 tracker.

`track` and the Label Studio backend's `serve` load the model the same way.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from labelme_sam2.cli.console import warn
from labelme_sam2.core.tracking import Tracker
from labelme_sam2.models.registry import (
    DEFAULT_MODEL,
    MODELS,
    ModelChoice,
    check_image_size,
    choose_model,
    default_checkpoints_dir,
)

DEFAULT_IMAGE_SIZE = 1024  # image_size in every sam2.1 config


@dataclass(frozen=True)
class LoadedModel:
    tracker: Tracker
    choice: ModelChoice
    device: str  # cuda, mps or cpu
    image_size: int
    settings: str  # weights file identity @size device: another value, other masks

    @property
    def version(self) -> str:
        """A short name for the model as it runs, e.g. sam2.1_hiera_tiny@1024."""
        return model_version(self.choice, self.image_size)

    def gpu_bytes(self) -> int:
        """GPU memory torch holds now (0 off CUDA)."""
        from labelme_sam2.sam2_tracker.device import gpu_bytes_allocated

        return gpu_bytes_allocated(self.device)


def model_version(choice: ModelChoice, image_size: int | None) -> str:
    """The version Label Studio sees, known without loading the model (SAM 2.1's configs all
    take 1024 px by default): a web process without torch tells it to Label Studio."""
    name = choice.label.removesuffix(" (random)")
    weights = f"{name}-random" if choice.random_weights else name
    return f"{weights}@{image_size or DEFAULT_IMAGE_SIZE}".replace(" ", "_")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=list(MODELS),
        metavar="NAME",
        help=f"SAM 2 model (default: {DEFAULT_MODEL}); one of: {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="weights file (default: CHECKPOINTS_DIR/<model>.pt)",
    )
    parser.add_argument(
        "--checkpoints-dir",
        type=Path,
        default=None,
        help="where checkpoints live (default: $LABELME_SAM2_CHECKPOINTS or ./checkpoints)",
    )
    parser.add_argument(
        "--device",
        choices=["auto", "cuda", "mps", "cpu"],
        default="auto",
        help="where SAM 2 runs (default: auto = cuda, else mps, else cpu)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="N",
        help="SAM 2 input size, a multiple of 32 (default: the model's 1024); for tests and speed",
    )


def resolve_model_choice(args: argparse.Namespace) -> ModelChoice:
    """Check the model flags without importing torch (so bad input fails fast)."""
    check_image_size(args.image_size)
    return choose_model(
        model=args.model,
        checkpoint=args.checkpoint,
        checkpoints_dir=args.checkpoints_dir or default_checkpoints_dir(),
    )


def load_model(
    choice: ModelChoice, args: argparse.Namespace, *, feature_cache_bytes: int = 0
) -> LoadedModel:
    """`feature_cache_bytes`: keep single images' features this far (a server's clicks)."""
    from labelme_sam2.sam2_tracker.device import select_device
    from labelme_sam2.sam2_tracker.feature_cache import ImageFeatureCache
    from labelme_sam2.sam2_tracker.model import build_predictor
    from labelme_sam2.sam2_tracker.tracker import Sam2Tracker

    device = select_device(args.device)
    if choice.random_weights:
        warn("random weights (--checkpoint random): the masks are meaningless; for tests only")
    predictor = build_predictor(choice, device=device, image_size=args.image_size)
    return LoadedModel(
        tracker=Sam2Tracker(
            predictor,
            feature_cache=ImageFeatureCache(max_bytes=feature_cache_bytes)
            if feature_cache_bytes > 0
            else None,
        ),
        choice=choice,
        device=device.type,
        image_size=predictor.image_size,
        settings=f"{_weights_identity(choice)} @{predictor.image_size} {device.type}",
    )


def _weights_identity(choice: ModelChoice) -> str:
    """The model and its weights file as it is now: other weights, other masks."""
    if choice.checkpoint is None:
        return f"{choice.label} random"
    stat = choice.checkpoint.stat()
    return f"{choice.config} {choice.checkpoint.resolve()} {stat.st_size} {stat.st_mtime_ns}"
