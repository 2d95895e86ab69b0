"""The app imports without torch or SAM 2: this environment has neither, as a GUI-only
install need not."""

from __future__ import annotations

import importlib
import importlib.util
import sys

from tests.conftest import REPO


def test_every_app_module_imports_without_torch():
    assert importlib.util.find_spec("torch") is None  # the point of this environment
    for path in sorted((REPO / "labelme_sam2" / "app").glob("*.py")):
        importlib.import_module(f"labelme_sam2.app.{path.stem}".removesuffix(".__init__"))
    importlib.import_module("labelme_sam2.cli.main")  # the engine's CLI entry, too
    assert not [name for name in sys.modules if name.split(".")[0] in ("torch", "sam2")]
