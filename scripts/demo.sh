#!/usr/bin/env bash
# The demo: tracks the sample frame folder examples/bedroom with SAM 2.1 tiny.
# Works on a copy in demo-output/, downloads the checkpoint if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
model=${MODEL:-sam2.1_hiera_tiny}
# Where the checkpoint is missing and cannot be downloaded, this prints one line saying
# where to get it and the demo stops.
.venv/bin/labelme-sam2 download "$model" || exit 1
rm -rf demo-output/bedroom
mkdir -p demo-output
cp -r examples/bedroom demo-output/bedroom
.venv/bin/labelme-sam2 track demo-output/bedroom --model "$model" --save-masks --video masked
echo "demo: open demo-output/bedroom in labelme, or play demo-output/bedroom_masked.mp4" >&2
