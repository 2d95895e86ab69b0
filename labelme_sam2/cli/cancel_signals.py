"""Ctrl-C and SIGTERM during `track`: the first one cancels gracefully, a second one at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# SIGBREAK: what a Windows parent can send (CTRL_BREAK_EVENT) to a child in its own group
CANCEL_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, name)
)


@contextmanager
def cancel_on_signals() -> Iterator[threading.Event]:
    """An event that the first SIGINT or SIGTERM sets (pass it as track()'s `cancel`: the
    run stops after the current frame, every file old or new); a second one raises
    KeyboardInterrupt, which aborts at once (still every file old or new). The handlers are
    there only inside the block, and only on the main thread, the one Python runs them on."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    # Only sets the event: printing here could re-enter a write the main thread is making.
    def on_signal(signal_number: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    previous = {number: signal.signal(number, on_signal) for number in CANCEL_SIGNALS}
    try:
        yield cancel
    finally:
        for number, handler in previous.items():
            # None: a handler installed outside Python; the default is the closest we have
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
