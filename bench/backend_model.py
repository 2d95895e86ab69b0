"""The backend benches' model flags and loading (tiny random weights @256 on CPU by default)."""

from __future__ import annotations

import argparse
import os

from labelme_sam2.api import LoadedModel, ModelOptions, load_model


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--checkpoint", default="random")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")


def load_bench_model(args: argparse.Namespace, *, feature_cache_bytes: int = 0) -> LoadedModel:
    """The LoadedModel the flags name; random weights are allowed here (a bench, not a user)."""
    os.environ["LABELME_SAM2_ALLOW_RANDOM_WEIGHTS"] = "1"
    options = ModelOptions(
        model=args.model, checkpoint=args.checkpoint, device=args.device, image_size=args.image_size
    )
    return load_model(options, feature_cache_bytes=feature_cache_bytes)
