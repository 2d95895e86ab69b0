"""`labelme-sam2 download MODEL`."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from labelme_sam2.models.download import download
from labelme_sam2.models.registry import default_checkpoints_dir, model_spec


def run_download(args: argparse.Namespace) -> int:
    spec = model_spec(args.model)
    directory = args.checkpoints_dir or default_checkpoints_dir()
    with tqdm(total=spec.size, unit="B", unit_scale=True, desc=spec.filename, disable=None) as bar:
        path = download(spec, directory, on_bytes=bar.update)
    print(f"{path}: {spec.name} ({spec.size} bytes, sha256 verified)", file=sys.stderr)
    return 0
