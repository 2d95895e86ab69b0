"""`labelme-sam2 gui FOLDER`, the command a user runs, opens the window and keeps it open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_gui_opens_the_window_on_a_folder(folder: Path, tmp_path: Path):
    # HOME: labelme's and our settings files go there, not into the user's
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "labelme_sam2", "gui", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(6)  # Qt, labelme and the first frame
        assert process.poll() is None, process.communicate()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()
