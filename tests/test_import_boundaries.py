"""The format layer, adapters, writers, CLI entry and the Label Studio backend import no torch;
nothing in labelme_sam2 imports ls_backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "labelme_sam2"
BACKEND = PACKAGE.parent / "ls_backend"
TORCH_FREE = [
    "labelme_sam2.formats.labelme_json",
    "labelme_sam2.formats.mask_codec",
    "labelme_sam2.formats.atomic",
    "labelme_sam2.formats.mask_store",
    "labelme_sam2.core.segments",
    "labelme_sam2.labelme_adapter.track_input",
    "labelme_sam2.video.probe",
    "labelme_sam2.video.reader",
    "labelme_sam2.video.extract",
    "labelme_sam2.video.frame_selection",
    "labelme_sam2.video.manifest",
    "labelme_sam2.writers.by_part",
    "labelme_sam2.cli.extract",
    "labelme_sam2.core.pipeline",
    "labelme_sam2.labelme_adapter.folder",
    "labelme_sam2.labelme_adapter.json_writer",
    "labelme_sam2.writers.mask_pngs",
    "labelme_sam2.writers.videos",
    "labelme_sam2.writers.indexed_pngs",
    "labelme_sam2.writers.coco_json",
    "labelme_sam2.writers.yolo_labels",
    "labelme_sam2.writers.pictures",
    "labelme_sam2.formats.coco_rle",
    "labelme_sam2.render.strobe",
    "labelme_sam2.cli.outputs",
    "labelme_sam2.cli.render",
    "labelme_sam2.cli.strobe",
    "labelme_sam2.models.download",
    "labelme_sam2.cli.main",
    "labelme_sam2.cli.track",
    "labelme_sam2.cli.model_loading",
    # The Label Studio backend's web side: a web process can run without torch (issue 5).
    "ls_backend.app",
    "ls_backend.jobs.embedded",
    "ls_backend.jobs.rq_queue",
    "ls_backend.jobs.interactive_rpc",
    "ls_backend.webhooks",
    "ls_backend.prediction",
    "ls_backend.serve",
]


def test_torch_free_modules_do_not_import_torch():
    code = (
        "import importlib, sys\n"
        f"for name in {TORCH_FREE!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sam2'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_only_the_tracker_imports_torch_and_nothing_imports_ls_backend():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "ls_backend" not in text, path
        if "sam2_tracker" not in path.parts:
            assert "import torch" not in text and "from sam2" not in text, path
    for path in BACKEND.rglob("*.py"):
        text = path.read_text()
        assert "import torch" not in text and "from sam2" not in text, path
        assert "sam2_tracker" not in text, path  # the model comes through cli.model_loading
