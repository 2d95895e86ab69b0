#!/usr/bin/env bash
# Download SAM 2 checkpoints into this folder and verify their size and sha256.
# Usage: checkpoints/download.sh [MODEL ...]   (default: all four SAM 2.1 models)
# The registry with URLs and checksums is labelme_sam2/models/registry.py; this script only
# runs its downloader, which needs nothing beyond the Python standard library and tqdm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
python="$repo/.venv/bin/python"
[ -x "$python" ] || python=python3
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(sam2.1_hiera_tiny sam2.1_hiera_small sam2.1_hiera_base_plus sam2.1_hiera_large)
for model in "${models[@]}"; do
  PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" -m labelme_sam2 download "$model" \
    --checkpoints-dir "$here"
done
