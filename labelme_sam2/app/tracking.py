"""Track folder / Re-track changes: save the open frame, run `labelme-sam2 track FOLDER
--progress json` off the GUI thread (a child process), show progress, and reload the frame
when it ends. The open frame also reloads as soon as its own file is written, when the user
is not editing it, so masks appear where the user drew without waiting for the whole run. A
chunk folder of `extract --chunk-seconds` is tracked with its siblings, as one video: prompts
in any chunk reach every frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PySide6 import QtCore

from labelme_sam2.app.app_settings import AppSettings
from labelme_sam2.app.engine_run import EngineRun, RunOutcome
from labelme_sam2.app.labelme_hooks import LabelmeWindow
from labelme_sam2.app.messages import show_problem
from labelme_sam2.app.progress_widget import RunProgress
from labelme_sam2.labelme_adapter.track_input import chunked_video_of

TrackMode = Literal["full", "changes"]


class Tracking(QtCore.QObject):
    """At most one track run at a time for the window."""

    started = QtCore.Signal()
    ended = QtCore.Signal(object)  # RunOutcome, after the frame was reloaded

    def __init__(
        self,
        *,
        window: LabelmeWindow,
        progress: RunProgress,
        settings: Callable[[], AppSettings],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._progress = progress
        self._settings = settings
        self.run: EngineRun | None = None
        self.last_outcome: RunOutcome | None = None
        self.tracked: Path | None = None  # what the last run tracked: the folder, or its chunks'
        self._frames_written = 0  # by the run in progress
        # The open frame, loaded before the run wrote it, and its index in the folder.
        self._shown_stale: tuple[Path, int] | None = None
        progress.cancel_requested.connect(self.cancel)
        window.frame_loaded.connect(self._note_frame_loaded)

    def is_running(self) -> bool:
        return self.run is not None

    def start(self, mode: TrackMode) -> bool:
        """False (with a message) when it cannot start: a run is on, no folder is open,
        or the open frame could not be saved."""
        window = self._window
        if self.run is not None:
            show_problem(window, "Tracking is running", "wait for it, or Cancel it first")
            return False
        image = window.current_image()
        if image is None:
            show_problem(window, "No folder open", "open a folder of frames (File > Open Dir)")
            return False
        folder = image.parent
        annotations = window.annotation_folder()
        if annotations is not None and Path(annotations).resolve() != folder.resolve():
            show_problem(
                window,
                "Separate annotation folder",
                f"{folder}: tracking reads and writes the LabelMe files beside the frames, "
                f"not in {annotations}; open the folder without an annotation folder",
            )
            return False
        if not window.save_current():
            return False
        settings = self._settings()
        target = chunked_video_of(folder) or folder
        self.tracked = target
        arguments = ["track", str(target), "--progress", "json", *settings.model_flags()]
        if mode == "full":
            arguments.append("--full")
        self.run = EngineRun(
            command=settings.engine_command(),
            arguments=arguments,
            environment=settings.engine_environment(),
            parent=self,
        )
        self._frames_written = 0
        self._note_frame_loaded()
        self.run.progress.connect(self._progress.update_frames)
        self.run.progress.connect(self._reload_when_written)
        self.run.warning.connect(lambda message: window.statusBar().showMessage(message, 10_000))
        self.run.ended.connect(self._on_ended)
        doing = "Tracking" if mode == "full" else "Re-tracking"
        self._progress.begin(doing if target == folder else f"{doing} every chunk of {target.name}")
        self.started.emit()
        self.run.start()
        return True

    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()

    def _note_frame_loaded(self) -> None:
        """The frame just loaded is stale if the run will still write it (its index in the
        folder at or past the frames written); only for a plain folder, whose frames are
        written in the order of labelme's list."""
        window = self._window
        image = window.current_image()
        self._shown_stale = None
        if self.run is None or image is None or self.tracked != image.parent:
            return
        paths = window.image_paths()
        index = paths.index(image) if image in paths else -1
        if index >= self._frames_written:
            self._shown_stale = (image, index)

    def _reload_when_written(self, done: int, *args: object) -> None:
        self._frames_written = done
        window = self._window
        # Per frame written: no search of the folder's list here (it may hold 9,000 frames).
        if self._shown_stale is None or self._shown_stale[1] >= done:
            return  # nothing stale on screen, or not written yet
        if window.current_image() != self._shown_stale[0]:
            return
        if window.has_unsaved_changes() or window.is_mid_edit():
            return  # the user's work comes first; the end of the run tries again
        window.reload_current()  # frame_loaded: _note_frame_loaded clears _shown_stale

    def _on_ended(self, outcome: RunOutcome) -> None:
        self.run = None
        self.last_outcome = outcome
        self._progress.end()
        window = self._window
        # The tracker rewrote the open frame's file; keep the user's edits made meanwhile.
        # First, as labelme's "Loaded …" would replace the summary below.
        if not window.has_unsaved_changes():
            window.reload_current()
        if outcome.error is not None:
            show_problem(window, "Tracking failed", outcome.error)
        else:
            line = outcome.summary
            if outcome.cancelled:
                line += "; Re-track changes finishes the rest"
            window.statusBar().showMessage(line, 60_000)
            kept = [str(path) for path in (outcome.done or {}).get("not_updated", [])]
            if kept:
                show_problem(
                    window,
                    "Files saved during tracking",
                    f"{len(kept)} LabelMe files were saved while tracking ran and keep what was "
                    f"saved ({', '.join(Path(path).name for path in kept[:5])}"
                    f"{', …' if len(kept) > 5 else ''}); Re-track changes updates them",
                )
        self.ended.emit(outcome)

    def wait_to_close(self) -> None:
        """Closing the window: stop the run, so no child outlives the app."""
        if self.run is not None:
            self.run.cancel()
            self.run.wait(60_000)
