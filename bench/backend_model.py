"""The backend benches' model flags and loading (tiny random weights @256 on CPU by default)."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--checkpoint", default="random")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")


def load_bench_model(args: argparse.Namespace, *, feature_cache_bytes: int = 0) -> Any:
    """The LoadedModel the flags name; random weights are allowed here (a bench, not a user)."""
    from labelme_sam2.cli.model_loading import load_model, resolve_model_choice

    os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"
    model_args = argparse.Namespace(
        model=args.model,
        checkpoint=args.checkpoint,
        checkpoints_dir=None,
        device=args.device,
        image_size=args.image_size,
    )
    return load_model(
        resolve_model_choice(model_args), model_args, feature_cache_bytes=feature_cache_bytes
    )
