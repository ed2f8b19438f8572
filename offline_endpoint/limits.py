"""Rate limits per key and model, as GitHub Models enforced them. Off unless asked for."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from model_facts import FREE_TIER

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
            per_minute=Window(FREE_TIER.requests_per_minute, 60, "UserByModelByMinute"),
            per_day=Window(FREE_TIER.requests_per_day, 86400, "UserByModelByDay"),
            concurrent=FREE_TIER.concurrent,
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


@dataclass
class _Usage:
    """One (key, model)'s recent requests, per window kind, and how many are in flight."""

    history: dict[str, deque[float]] = field(default_factory=dict)
    in_flight: int = 0

    def forget_before(self, now: float, windows: list[Window]) -> None:
        for window in windows:
            history = self.history.setdefault(window.kind, deque())
            while history and history[0] <= now - window.seconds:
                history.popleft()

    def idle(self) -> bool:
        return not self.in_flight and not any(self.history.values())


class RateLimiter:
    """Counts requests per (key, model) in sliding windows; keys are kept only as hashes.

    Its memory is bounded, not grown by every new key: a (key, model) with no request left in any
    window and none in flight is forgotten at the next sweep (every ``sweep_seconds``), and at most
    ``max_tracked`` are kept, the least recently seen forgotten first. Forgetting a key forgets its
    counts, which gives nothing to a client that could as well send a new key.
    """

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic,
                 max_tracked: int = 4096) -> None:
        self.limits = limits
        self.max_tracked = max_tracked
        self._windows = [w for w in (limits.per_day, limits.per_minute) if w]
        # Swept as often as the shortest window, so an idle key lasts at most about two of them.
        self.sweep_seconds = min([w.seconds for w in self._windows] + [60.0])
        self._clock = clock
        self._lock = threading.Lock()
        self._usage: OrderedDict[tuple[str, str], _Usage] = OrderedDict()  # least recently seen first
        self._next_sweep = clock() + self.sweep_seconds

    def __len__(self) -> int:
        """How many (key, model) pairs are remembered."""
        return len(self._usage)

    def remembered_requests(self) -> int:
        """How many request times are remembered, over all keys and windows."""
        with self._lock:
            return sum(len(history) for usage in self._usage.values() for history in usage.history.values())

    @contextmanager
    def admit(self, key: str, model: str) -> Iterator[None]:
        """Hold a place for one request, or raise the 429 the service would send."""
        who = (hashlib.sha256(key.encode()).hexdigest(), model)
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep(now)
            usage = self._usage.get(who) or _Usage()
            usage.forget_before(now, self._windows)
            for window in self._windows:
                history = usage.history[window.kind]
                if len(history) >= window.requests:
                    raise _rate_limit_error(window, history[0] + window.seconds - now)
            if self.limits.concurrent is not None and usage.in_flight >= self.limits.concurrent:
                raise ApiError(
                    429, "RateLimitReached",
                    f"Too many concurrent requests: the limit is {self.limits.concurrent} at once. "
                    "Please wait 1 seconds before retrying.",
                    headers={"retry-after": "1", "x-ratelimit-type": "UserConcurrentRequests"},
                )
            for window in self._windows:
                usage.history[window.kind].append(now)
            usage.in_flight += 1
            self._usage[who] = usage
            self._usage.move_to_end(who)
            self._forget_the_oldest()
        try:
            yield
        finally:
            with self._lock:
                usage.in_flight -= 1

    def _sweep(self, now: float) -> None:
        for who, usage in list(self._usage.items()):
            usage.forget_before(now, self._windows)
            if usage.idle():
                del self._usage[who]
        self._next_sweep = now + self.sweep_seconds

    def _forget_the_oldest(self) -> None:
        excess = len(self._usage) - self.max_tracked
        if excess <= 0:
            return
        for who, usage in list(islice(self._usage.items(), 2 * excess + 64)):
            if excess <= 0:
                break
            if not usage.in_flight:  # one in flight keeps its count until it ends
                del self._usage[who]
                excess -= 1
