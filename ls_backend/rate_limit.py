"""A token bucket: at most `per_minute` events a minute on average, up to a minute's worth at
once. Webhooks without a token use it, so that nobody who can reach /webhook makes the backend
read tasks back from Label Studio as fast as they can send."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimit:
    def __init__(self, *, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, not {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._tokens = per_minute  # a minute's burst: Label Studio sends saves in bursts
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """None when this event may go on, else the seconds until one may."""
        with self._lock:
            now = self._clock()
            refill = (now - self._at) * self.per_minute / 60.0
            self._tokens = min(self.per_minute, self._tokens + refill)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) * 60.0 / self.per_minute
