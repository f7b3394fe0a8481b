"""Failed-verification throttling per client: stops guessing of order numbers and ID digits."""

from __future__ import annotations

import time
from collections import deque


class FailureThrottle:
    """At most max_failures failures per key in a sliding window; then refuse until one ages out.

    Kept in memory: the platform runs as one process (DESIGN.md), and a restart forgiving a
    caller's earlier failures is acceptable.
    """

    def __init__(self, max_failures: int = 5, window: float = 600.0) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str) -> float:
        """Seconds until the key may try again; 0 when it may try now."""
        now = time.monotonic()
        times = self._recent(key, now)
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, self.window - (now - times[0]))

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
