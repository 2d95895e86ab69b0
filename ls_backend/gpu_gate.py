"""One model, two kinds of work: interactive clicks go before background jobs.

A background job holds the gate for one model step at a time (a frame tracked, a keyframe
decoded: the tracker calls the `after_step` hook it is given), so a click waits for
one step of a long job, never the whole job; two things never run on the model at once, so a
job and a click never hold two sets of activations on the GPU together.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from labelme_sam2.api import FrameMasks, Frames, PromptSet, StepHook, Tracker, TrackingPlan


class PriorityGate:
    """Clicks in the order they came (first come, first served: under 20 annotators the
    slowest click waits for the clicks before it, not for luck), all before background
    work."""

    def __init__(self) -> None:
        self._free = threading.Condition()
        self._busy = False
        self._clicks: collections.deque[object] = collections.deque()  # waiting, oldest first

    @contextmanager
    def interactive(self) -> Iterator[None]:
        ticket = object()
        with self._free:
            self._clicks.append(ticket)
            try:
                self._free.wait_for(lambda: not self._busy and self._clicks[0] is ticket)
            finally:
                self._clicks.remove(ticket)
                self._free.notify_all()  # the next click may be first now
            self._busy = True
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def background(self) -> Iterator[None]:
        with self._free:
            self._free.wait_for(lambda: not self._busy and not self._clicks)
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def yield_to_clicks(self) -> None:
        """Called by the background holder between model steps: waiting clicks go first."""
        with self._free:
            if not self._clicks:
                return
            self._busy = False
            self._free.notify_all()
            self._free.wait_for(lambda: not self._busy and not self._clicks)
            self._busy = True

    def _release(self) -> None:
        with self._free:
            self._busy = False
            self._free.notify_all()


class StepwiseTracker:
    """A tracker whose every step runs under the gate's background turn, and which checks the
    run's cancellation (its `after_step`) after each; between frames the gate is free."""

    def __init__(self, tracker: Tracker, gate: PriorityGate) -> None:
        self._tracker = tracker
        self._gate = gate

    def track(
        self,
        frames: Frames,
        prompts: PromptSet,
        *,
        plan: TrackingPlan | None = None,
        after_step: StepHook | None = None,
    ) -> Iterator[FrameMasks]:
        def between_steps() -> None:
            # The run's own hook first: a cancelled job stops here (StageStopped) instead of
            # waiting for clicks first. One output frame may take many model steps (backward
            # segments, keyframes are computed before frame 0 comes out): clicks get in
            # between those too.
            if after_step is not None:
                after_step()
            self._gate.yield_to_clicks()

        steps = self._tracker.track(frames, prompts, plan=plan, after_step=between_steps)
        try:
            while True:
                with self._gate.background():
                    result = next(steps, None)
                if result is None:
                    return
                yield result
        finally:
            with self._gate.background():  # SAM 2's clean-up runs on the model too
                close = getattr(steps, "close", None)
                if close is not None:
                    close()
