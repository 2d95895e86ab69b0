"""The format layer, adapters, writers, CLI entry and the Label Studio backend import no torch;
nothing in labelme_sam2 imports ls_backend."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "labelme_sam2"
BACKEND = PACKAGE.parent / "ls_backend"
# Every module but the tracker's (sam2_tracker/); models/loading.py imports it only when called.
# The LabelMe app (app/) needs Python 3.12 and PySide6: tests/app imports every one of its
# modules in .venv-labelme312, which has no torch at all.
TORCH_FREE = [
    *sorted(
        ".".join(
            part
            for part in path.relative_to(PACKAGE.parent).with_suffix("").parts
            if part != "__init__"
        )
        for path in PACKAGE.rglob("*.py")
        if not {"sam2_tracker", "app"} & set(path.parts) and path.name != "__main__.py"
    ),
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
        assert "sam2_tracker" not in text, path  # the model comes through labelme_sam2.api


def test_the_doors_use_the_public_api_and_only_the_cli_parses_arguments():
    """ls_backend reaches labelme_sam2 through labelme_sam2.api alone (its serve and worker
    commands also take the CLI's model flags); argparse lives in the command modules."""
    commands = {BACKEND / "serve.py", BACKEND / "worker.py"}
    for path in BACKEND.rglob("*.py"):
        imported = re.findall(r"^\s*from (labelme_sam2[\w.]*) import", path.read_text(), re.M)
        allowed = {"labelme_sam2.api"} | (
            {"labelme_sam2.cli.model_flags"} if path in commands else set()
        )
        assert set(imported) <= allowed, (path, imported)
    parsers = {
        path
        for path in [*PACKAGE.rglob("*.py"), *BACKEND.rglob("*.py")]
        if "argparse" in path.read_text()
    }
    assert parsers and all(p.parent == PACKAGE / "cli" or p in commands for p in parsers), parsers
