"""A stand-in for the labelme-sam2 command, for what a real one does too fast to catch: a
progress event every 50 ms for 200 frames, stopping at the next frame on SIGINT (as
`track`/`render --progress json` do), and its done event names the signal it got; a second
signal aborts, an error event "interrupted" and exit code 130, as theirs does."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

FRAMES = 200
got: list[str] = []


def emit(**event: object) -> None:
    print(json.dumps(event), file=sys.stderr, flush=True)


def on_signal(number: int, frame: object) -> None:
    if got:
        emit(event="error", message="interrupted")
        os._exit(130)
    got.append(signal.Signals(number).name)


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
done = 0
while done < FRAMES and not got:
    time.sleep(0.05)
    done += 1
    emit(event="progress", done=done, total=FRAMES, frames_per_second=20.0, seconds_left=1.0)
if got:
    time.sleep(0.5)  # finishing the frame being written: a second signal now aborts
summary = f"{sys.argv[1]} stopped by {got[0]} after {done}" if got else f"{sys.argv[1]} done"
print(summary, flush=True)
emit(event="done", cancelled=bool(got), frames=FRAMES, frames_written=done, outputs=[],
     summary=summary)  # fmt: skip
sys.exit(130 if got else 0)
