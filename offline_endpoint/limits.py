"""Rate limits per key and model, as GitHub Models enforced them. Off unless asked for."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class Window:
    """At most ``requests`` in any ``seconds``; ``kind`` is the x-ratelimit-type it reports."""

    requests: int
    seconds: float
    kind: str


@dataclass(frozen=True)
class RateLimits:
    """Limits per key and model. ``free_tier()`` gives the ones GitHub Models published."""

    per_minute: Window | None = None
    per_day: Window | None = None
    concurrent: int | None = None

    @classmethod
    def free_tier(cls) -> RateLimits:
        return cls(
            per_minute=Window(15, 60, "UserByModelByMinute"),
            per_day=Window(150, 86400, "UserByModelByDay"),
            concurrent=5,
        )

    @classmethod
    def demo(cls, per_minute: int, window_seconds: float = 60, concurrent: int | None = None) -> RateLimits:
        """A small per-minute limit for demonstrations, its window optionally shortened."""
        return cls(per_minute=Window(per_minute, window_seconds, "UserByModelByMinute"),
                   concurrent=concurrent)


def _rate_limit_error(window: Window, wait: float) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        "RateLimitReached",
        f"Rate limit of {window.requests} per {window.seconds:g}s exceeded for {window.kind}. "
        f"Please wait {seconds} seconds before retrying.",
        headers={"retry-after": str(seconds), "x-ratelimit-type": window.kind},
    )


class RateLimiter:
    """Counts requests per (key, model) in sliding windows; keys are kept only as hashes."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._history: dict[tuple[str, str, str], deque[float]] = {}
        self._in_flight: dict[tuple[str, str], int] = {}

    @contextmanager
    def admit(self, key: str, model: str) -> Iterator[None]:
        """Hold a place for one request, or raise the 429 the service would send."""
        who = (hashlib.sha256(key.encode()).hexdigest(), model)
        with self._lock:
            now = self._clock()
            windows = [w for w in (self.limits.per_day, self.limits.per_minute) if w]
            for window in windows:
                history = self._history.setdefault((*who, window.kind), deque())
                while history and history[0] <= now - window.seconds:
                    history.popleft()
                if len(history) >= window.requests:
                    raise _rate_limit_error(window, history[0] + window.seconds - now)
            if self.limits.concurrent is not None and self._in_flight.get(who, 0) >= self.limits.concurrent:
                raise ApiError(
                    429, "RateLimitReached",
                    f"Too many concurrent requests: the limit is {self.limits.concurrent} at once. "
                    "Please wait 1 seconds before retrying.",
                    headers={"retry-after": "1", "x-ratelimit-type": "UserConcurrentRequests"},
                )
            for window in windows:
                self._history[(*who, window.kind)].append(now)
            self._in_flight[who] = self._in_flight.get(who, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[who] -= 1
                if not self._in_flight[who]:
                    del self._in_flight[who]
