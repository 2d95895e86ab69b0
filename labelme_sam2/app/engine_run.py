"""One run of the `labelme-sam2` command (track, extract, render) in a child process, read
through `--progress json` (docs/outputs.md): the window never runs torch, so a CUDA crash or an
out-of-memory kill there is a message here, and the GUI stays responsive."""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from PySide6 import QtCore

CANCEL_GRACE_MS = 30_000  # after Cancel, how long the run may take to finish its frame
OTHER_OUTPUT_KEPT = 20  # lines of non-JSON stderr kept for the message of a crash


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended. `error` is one line for the user when it did not finish."""

    exit_code: int
    done: dict[str, Any] | None  # the "done" event, when the command got that far
    error: str | None
    stdout: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def finished(self) -> bool:
        return self.error is None and self.done is not None and not self.cancelled

    @property
    def cancelled(self) -> bool:
        return bool(self.done and self.done.get("cancelled"))

    @property
    def summary(self) -> str:
        if self.done and isinstance(self.done.get("summary"), str):
            return str(self.done["summary"])
        return self.stdout.strip().splitlines()[-1] if self.stdout.strip() else ""


class EngineRun(QtCore.QObject):
    """Starts `command + arguments`; emits progress per frame and `ended` once."""

    progress = QtCore.Signal(int, int, float, float)  # done, total, frames/s, seconds left
    warning = QtCore.Signal(str)
    ended = QtCore.Signal(object)  # RunOutcome

    def __init__(
        self,
        *,
        command: list[str],
        arguments: list[str],
        environment: dict[str, str] | None = None,
        json_events: bool = True,
        parent: QtCore.QObject | None = None,
    ) -> None:
        """`json_events`: the command was given `--progress json` and must end with a "done"
        event; otherwise exit code 0 is success and the last stderr line is the error."""
        super().__init__(parent)
        self._json_events = json_events
        self._command = command
        self._arguments = arguments
        self._process = QtCore.QProcess(self)
        self._pending = b""
        self._stdout = b""
        self._done: dict[str, Any] | None = None
        self._error: str | None = None
        self._warnings: list[str] = []
        self._other_output: list[str] = []
        self._ended = False
        self._cancel_sent = False
        self._kill_timer = QtCore.QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._process.kill)
        env = QtCore.QProcessEnvironment.systemEnvironment()
        for key, value in (environment or {}).items():
            env.insert(key, value)
        env.insert("PYTHONUNBUFFERED", "1")
        self._process.setProcessEnvironment(env)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)

    def describe(self) -> str:
        return shlex.join([*self._command, *self._arguments])

    def start(self) -> None:
        if not self._command:
            self._end(RunOutcome(-1, None, "no labelme-sam2 command set: see SAM 2 > Settings", ""))
            return
        self._process.start(self._command[0], [*self._command[1:], *self._arguments])

    def cancel(self) -> None:
        """Ask the run to stop after the frame it is on, every file old or new; kill it if it
        has not ended after CANCEL_GRACE_MS. SIGINT, as Ctrl-C: track and render take it as
        SIGTERM, and extract, which has no graceful cancel, still cleans up its temp files
        on it, where SIGTERM would end it mid-write. Once only: a second SIGINT would abort
        the command (its contract for a second Ctrl-C), not cancel it."""
        state = self._process.state()
        if state == QtCore.QProcess.ProcessState.NotRunning or self._cancel_sent:
            return
        self._cancel_sent = True
        pid = self._process.processId()
        if state == QtCore.QProcess.ProcessState.Starting or pid <= 0:
            self._process.kill()  # not yet the command: nothing written; os.kill(0) is us
        elif sys.platform == "win32":
            self._process.terminate()  # untested: no Windows machine here
        else:
            os.kill(pid, signal.SIGINT)
        self._kill_timer.start(CANCEL_GRACE_MS)

    def is_running(self) -> bool:
        return not self._ended

    def wait(self, msecs: int) -> bool:
        """For closing the window: block until the process has ended."""
        return bool(self._process.waitForFinished(msecs))

    # -- the child's output --

    def _read_stdout(self) -> None:
        self._stdout += bytes(self._process.readAllStandardOutput().data())

    def _read_stderr(self) -> None:
        self._pending += bytes(self._process.readAllStandardError().data())
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._take_line(line.decode("utf-8", errors="replace").strip())

    def _take_line(self, line: str) -> None:
        if not line:
            return
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            self._other_output = [*self._other_output[-OTHER_OUTPUT_KEPT + 1 :], line]
            return
        kind = event["event"]
        if kind == "progress":
            self.progress.emit(
                int(event.get("done", 0)),
                int(event.get("total", 0)),
                _number(event.get("frames_per_second")),
                _number(event.get("seconds_left")),
            )
        elif kind == "warning":
            message = str(event.get("message", ""))
            self._warnings.append(message)
            self.warning.emit(message)
        elif kind == "error":
            self._error = str(event.get("message", "failed"))
        elif kind == "done":
            self._done = event

    def _on_error(self, error: QtCore.QProcess.ProcessError) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart:
            self._end(
                RunOutcome(
                    -1,
                    None,
                    f"cannot start {self._command[0]}: {self._process.errorString()}; "
                    "set the labelme-sam2 command in SAM 2 > Settings",
                    "",
                )
            )

    def _on_finished(self, exit_code: int, status: QtCore.QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._read_stdout()
        self._read_stderr()
        self._take_line(self._pending.decode("utf-8", errors="replace").strip())
        error = self._error
        crashed = status == QtCore.QProcess.ExitStatus.CrashExit
        if error is None and self._done is None:
            last = self._other_output[-1] if self._other_output else ""
            if crashed or exit_code != 0:
                how = "stopped by a signal" if crashed else f"ended with exit code {exit_code}"
                error = _error_line(last, how=how)
            elif self._json_events:
                error = (
                    f"{self._command[0]} printed no progress: it is not labelme-sam2, or "
                    "an older one; set the labelme-sam2 command in SAM 2 > Settings"
                )
        self._end(
            RunOutcome(
                exit_code=-1 if crashed else exit_code,
                done=self._done,
                error=error,
                stdout=self._stdout.decode("utf-8", errors="replace"),
                warnings=tuple(self._warnings),
            )
        )

    def _end(self, outcome: RunOutcome) -> None:
        if not self._ended:
            self._ended = True
            self.ended.emit(outcome)


def _error_line(last: str, *, how: str) -> str:
    """The command's own one-line error (`labelme-sam2: error: X` -> X), or the last thing it
    printed (a crash's exception) and how it ended."""
    if ": error: " in last:
        return last.split(": error: ", 1)[1]
    return f"{last} (the engine {how})" if last else f"the engine {how}"


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
