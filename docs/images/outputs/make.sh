#!/usr/bin/env bash
# Makes the pictures of docs/outputs.md from ../shared/data, in a temporary folder; only the
# PNGs are copied here. Masks: the GrabCut stand-in (no SAM 2 weights where this was made),
# every picture: our own commands. Usage: bash docs/images/outputs/make.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=docs/images/outputs
work=${1:-$(mktemp -d)}
cli=.venv/bin/labelme-sam2
[ -d "$work/bedroom/.labelme-sam2" ] || .venv/bin/python scripts/docs_standin_tracking.py bedroom "$work"
[ -d "$work/dog/.labelme-sam2" ] || .venv/bin/python scripts/docs_standin_tracking.py strobe "$work"

$cli render "$work/bedroom" --video overlay --previews --contact-sheet --export davis
$cli render "$work/bedroom" --video masked --fill blur --side-by-side
$cli strobe "$work/dog" --frames 0,12,24 --highlight 36:orange \
  --out "$here/strobe.jpg"
cp "$work/bedroom_davis/00060.png" "$here/davis.png"
.venv/bin/python -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], quality=88)' \
  "$work/bedroom_contact.png" "$here/contact_sheet.jpg"
.venv/bin/python -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], quality=88)' \
  "$work/bedroom_prompts/00060.png" "$here/prompt_preview.jpg"
# One frame of each video, as the decoder gives it back.
.venv/bin/python - "$work" "$here" <<'PY'
import sys
from pathlib import Path

import av

work, here = Path(sys.argv[1]), Path(sys.argv[2])
for video, name in [("bedroom_overlay.mp4", "overlay.jpg"),
                    ("bedroom_masked.mp4", "masked_blur_side_by_side.jpg")]:
    with av.open(str(work / video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 60:
                frame.to_image().save(here / name, quality=88)
                break
PY
echo "pictures in $here (work folder: $work)" >&2
