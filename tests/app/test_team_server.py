"""The app with a team server as its engine: Track folder becomes a job on a real
`labelme-sam2 serve` (.venv's, embedded jobs, SAM 2.1 tiny at 256 px, random weights, basic
auth), for a folder on the disk it shares; a folder outside it and a wrong password are
messages in the window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PySide6 import QtWidgets

from labelme_sam2.app.app_settings import AppSettings
from labelme_sam2.formats.labelme_json import TOOL_FLAG
from tests.app.conftest import ENGINE, file_bytes, track_and_wait
from tests.backend_process import BackendProcess
from tests.conftest import copy_bedroom

AUTH = ("annotator", "s3cret")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("serve")
    shared = folder / "shared"
    shared.mkdir()
    with BackendProcess(
        None,
        folder,
        executable=str(ENGINE),
        basic_auth=AUTH,
        environment={"LABELME_SAM2_MEDIA_ROOTS": str(shared)},
    ) as backend:
        yield backend.url, shared


def bedroom_in(root: Path) -> Path:
    folder = copy_bedroom(root, frames=12)
    (folder / "00060.json").unlink()  # no frame 60 in this copy
    return folder


def server_settings(url: str, *, password: str = AUTH[1]) -> AppSettings:
    return AppSettings(
        engine="server", server_url=url, server_user=AUTH[0], server_password=password
    )


def problem_text(window: QtWidgets.QMainWindow) -> str:
    boxes = window.findChildren(QtWidgets.QMessageBox, "labelme_sam2_problem")
    return " ".join(box.text() for box in boxes if box.isVisible())


def test_track_folder_on_the_team_server(qtbot, make_window, server):
    url, shared = server
    folder = bedroom_in(shared / "mine")
    window = make_window(folder, settings=server_settings(url))

    outcome = track_and_wait(qtbot, window)

    assert outcome.finished, outcome
    assert "tracked 12 frames x 2 objects" in outcome.summary
    shapes = json.loads((folder / "00007.json").read_text())["shapes"]
    assert {s["label"] for s in shapes if s["flags"].get(TOOL_FLAG)} == {"boy", "girl"}
    jobs = requests.get(f"{url}/jobs", auth=AUTH, timeout=30).json()["jobs"]
    assert any(job["folder"] == str(folder) and job["state"] == "done" for job in jobs)


def test_a_folder_the_server_does_not_share_is_a_message(qtbot, make_window, server, tmp_path):
    url, _ = server
    folder = bedroom_in(tmp_path / "elsewhere")
    before = file_bytes(folder)
    window = make_window(folder, settings=server_settings(url))
    outcome = track_and_wait(qtbot, window)
    assert outcome.exit_code == 2
    assert str(folder) in problem_text(window) and "LABELME_SAM2_MEDIA_ROOTS" in problem_text(
        window
    )
    assert file_bytes(folder) == before


def test_a_wrong_password_is_a_message(qtbot, make_window, server):
    url, shared = server
    folder = bedroom_in(shared / "wrong-password")
    before = file_bytes(folder)
    window = make_window(folder, settings=server_settings(url, password="guess"))
    outcome = track_and_wait(qtbot, window)
    assert outcome.exit_code == 2
    assert "password" in problem_text(window)
    assert file_bytes(folder) == before


def test_an_unreachable_server_is_a_message(qtbot, make_window, tmp_path):
    folder = bedroom_in(tmp_path / "b")
    window = make_window(folder, settings=server_settings("http://127.0.0.1:9"))
    outcome = track_and_wait(qtbot, window)
    assert outcome.exit_code == 2
    assert "http://127.0.0.1:9" in problem_text(window)
