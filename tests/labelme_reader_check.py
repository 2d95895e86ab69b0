"""Run by tests/test_labelme_reader.py inside .venv-labelme312 (Python 3.12, labelme 7.9.1,
no torch): reads LabelMe files with labelme's own reader and saves, per file and label, the
mask labelme rasterises from our shapes.

Usage: python labelme_reader_check.py OUT_DIR FILE.json...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from labelme._label_file import read_label_file
from labelme._utils import shapes_to_label

import labelme_sam2.formats.labelme_json
import labelme_sam2.formats.mask_codec  # noqa: F401  the format layer must come without torch

assert "torch" not in sys.modules, "the format layer imported torch"

out = Path(sys.argv[1])
report = {}
for filename in sys.argv[2:]:
    annotation = read_label_file(filename=filename)
    height, width = 540, 960
    ours = [s for s in annotation.shapes if s["flags"].get("labelme_sam2")]
    for label in sorted({s["label"] for s in ours}):
        cls, _ = shapes_to_label(
            img_shape=(height, width),
            shapes=[s for s in ours if s["label"] == label],
            label_name_to_value={label: 1},
        )
        np.save(out / f"{Path(filename).stem}_{label}.npy", cls == 1)
    report[Path(filename).name] = {
        "shapes": len(annotation.shapes),
        "ours": len(ours),
        "image_bytes": len(annotation.image_data),
    }
print(json.dumps(report))
