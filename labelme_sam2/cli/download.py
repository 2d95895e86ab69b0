"""`labelme-sam2 download MODEL`: a checkpoint into the checkpoints folder, verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from labelme_sam2.models.download import download
from labelme_sam2.models.registry import MODELS, default_checkpoints_dir, model_spec

NAME = "download"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        NAME, help="download and verify a SAM 2 checkpoint into the checkpoints folder"
    )
    parser.add_argument("model", choices=list(MODELS), metavar="MODEL", help=", ".join(MODELS))
    parser.add_argument("--checkpoints-dir", type=Path, default=None)


def run(args: argparse.Namespace) -> int:
    spec = model_spec(args.model)
    directory = args.checkpoints_dir or default_checkpoints_dir()
    with tqdm(total=spec.size, unit="B", unit_scale=True, desc=spec.filename, disable=None) as bar:
        path = download(spec, directory, on_bytes=bar.update)
    print(f"{path}: {spec.name} ({spec.size} bytes, sha256 verified)", file=sys.stderr)
    return 0
