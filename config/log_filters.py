"""Logging filters that keep an outage readable: one line a minute, not one per request."""

from __future__ import annotations

import logging
import threading
import time


class RateLimitFilter(logging.Filter):
    """Let one record per logger and message through every `interval` seconds.

    When Redis is down every request would log the same failure; the log would then hide
    everything else. The next record let through says how many were held back.
    """

    def __init__(self, interval: float = 60.0, name: str = "") -> None:
        super().__init__(name)
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            last, held_back = self._last.get(key, (None, 0))
            if last is not None and now - last < self.interval:
                self._last[key] = (last, held_back + 1)
                return False
            self._last[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} ({held_back} more like this held back)"
        return True


class CacheFailedOpenFilter(RateLimitFilter):
    """django-redis's "Exception ignored" (an ERROR with a traceback), as one clear warning.

    The cache is configured to ignore connection errors (reads miss, writes are dropped), so
    Seams keeps answering; this says so in words an operator can act on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        reason = ""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            cause = error.__cause__ or error
            reason = f": {type(cause).__name__}: {cause}"
        record.msg = (
            "cache failed open: Redis is unreachable, so cached values are missed and rate "
            "limits are not enforced until it is back" + reason.replace("%", "%%")
        )
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return super().filter(record)
