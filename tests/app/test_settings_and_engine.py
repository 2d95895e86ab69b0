"""Settings are remembered between runs (but the server password), and an engine run reads
the command's JSON lines into progress and an outcome."""

from __future__ import annotations

import stat
import sys

from PySide6 import QtCore

from labelme_sam2.app.app_settings import AppSettings, load_settings, save_settings
from labelme_sam2.app.engine_run import EngineRun
from labelme_sam2.app.settings_dialog import SettingsDialog
from tests.app.conftest import SLOW_ENGINE


def test_settings_are_remembered_but_not_the_password(tmp_path):
    path = str(tmp_path / "app.conf")
    chosen = AppSettings(
        engine="server",
        server_url="http://sam2.internal:9090",
        server_user="ann",
        server_password="secret",
        model="sam2.1_hiera_small",
        device="cuda",
        image_size=512,
    )
    save_settings(QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat), chosen)
    again = load_settings(QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat))
    assert again == AppSettings(**{**chosen.__dict__, "server_password": ""})
    assert "secret" not in (tmp_path / "app.conf").read_text()


def test_a_settings_file_with_nonsense_keeps_the_defaults(tmp_path):
    store = QtCore.QSettings(str(tmp_path / "app.conf"), QtCore.QSettings.Format.IniFormat)
    store.setValue("engine", "telepathy")
    store.setValue("image_size", "big")
    assert load_settings(store) == AppSettings()


def test_the_settings_dialog_gives_back_what_was_chosen(qtbot):
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.engine.setCurrentIndex(1)
    dialog.command.setText("/opt/sam2env/bin/labelme-sam2")
    dialog.image_size.setValue(512)
    chosen = dialog.chosen()
    assert chosen.engine == "command" and chosen.image_size == 512
    assert chosen.engine_command() == ["/opt/sam2env/bin/labelme-sam2"]
    assert chosen.model_flags()[-2:] == ["--image-size", "512"]


def test_server_settings_pass_the_password_in_the_environment_not_argv():
    server = AppSettings(
        engine="server", server_url="http://h:9090", server_user="u", server_password="p"
    )
    assert server.model_flags() == ["--server", "http://h:9090"]
    assert server.engine_environment() == {"LABELME_SAM2_SERVER_AUTH": "u:p"}
    assert server.engine_command() == [sys.executable, "-m", "labelme_sam2"]


def test_engine_run_reads_events_split_across_reads(qtbot, tmp_path):
    script = tmp_path / "engine"
    script.write_text(
        "#!/bin/sh\n"
        'printf \'{"event": "progress", "done": 1, "tot\' >&2\n'
        "sleep 0.2\n"
        'printf \'al": 2, "frames_per_second": null, "seconds_left": null}\\n\' >&2\n'
        'echo \'{"event": "warning", "message": "careful"}\' >&2\n'
        "echo 'not json, kept for a crash message' >&2\n"
        'echo \'{"event": "progress", "done": 2, "total": 2, '
        '"frames_per_second": 4.0, "seconds_left": 0.0}\' >&2\n'
        "echo 'tracked 2 frames' \n"
        'echo \'{"event": "done", "cancelled": false, "summary": "tracked 2 frames"}\' >&2\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    run = EngineRun(command=[str(script)], arguments=[])
    progress: list[tuple] = []
    run.progress.connect(lambda *args: progress.append(args))
    with qtbot.waitSignal(run.ended, timeout=10_000) as ended:
        run.start()
    outcome = ended.args[0]
    assert [p[:2] for p in progress] == [(1, 2), (2, 2)]
    assert progress[1][2:] == (4.0, 0.0)
    assert outcome.finished and outcome.summary == "tracked 2 frames"
    assert outcome.warnings == ("careful",) and outcome.exit_code == 0


def test_engine_run_without_json_takes_the_commands_error_line(qtbot):
    run = EngineRun(
        command=[sys.executable, "-c"],
        arguments=["import sys; sys.exit('labelme-sam2: error: clip.mp4: not a video')"],
        json_events=False,
    )
    with qtbot.waitSignal(run.ended, timeout=10_000) as ended:
        run.start()
    assert ended.args[0].error == "clip.mp4: not a video"


def test_cancel_asks_the_command_to_stop_with_sigint_as_ctrl_c_does(qtbot):
    """SIGINT, not SIGTERM: extract cleans up only on KeyboardInterrupt (engine_run.py)."""
    run = EngineRun(command=[sys.executable, str(SLOW_ENGINE)], arguments=["render"])

    def cancel_twice(done: int, *_: object) -> None:
        if done == 3:  # as a double click would: the second must not abort the command
            run.cancel()
            QtCore.QTimer.singleShot(100, run.cancel)

    run.progress.connect(cancel_twice)
    with qtbot.waitSignal(run.ended, timeout=20_000) as ended:
        run.start()
    outcome = ended.args[0]
    assert outcome.cancelled and outcome.exit_code == 130 and outcome.error is None
    stopped_after = int(outcome.summary.rsplit(" ", 1)[1])
    assert outcome.summary.startswith("render stopped by SIGINT after ")
    assert 3 <= stopped_after < 200
