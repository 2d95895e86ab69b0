"""`labelme-sam2 gui` where the app cannot run says why in one line (the app's own tests are
in tests/app, in the Python 3.12 environment)."""

from __future__ import annotations

import sys

import pytest

from labelme_sam2.cli.main import main


def test_gui_on_a_folder_that_does_not_exist(tmp_path, capsys):
    assert main(["gui", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"labelme-sam2: error: {tmp_path / 'missing'}: not a folder of frames"
    )


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="this Python can run the app")
def test_gui_needs_python_3_12(tmp_path, capsys):
    assert main(["gui", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("labelme-sam2: error: gui: labelme 7.9.1 needs Python >= 3.12")
    assert 'pip install "labelme-sam2[gui]"' in err and len(err.splitlines()) == 1
