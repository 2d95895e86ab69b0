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
.venv/bin/labelme-sam2 track demo-output/bedroom --model "$model" --video overlay --previews \
  --contact-sheet --export png,davis,coco
# The rest comes from the kept masks: no model.
.venv/bin/labelme-sam2 render demo-output/bedroom --video masked --fill blur --side-by-side
.venv/bin/labelme-sam2 strobe demo-output/bedroom --frames 0,10,20 --highlight 30:orange
echo "demo: open demo-output/bedroom in labelme, or look at demo-output/bedroom_overlay.mp4," \
  "bedroom_masked.mp4, bedroom_contact.png, bedroom_strobe.png, bedroom_prompts/" >&2
