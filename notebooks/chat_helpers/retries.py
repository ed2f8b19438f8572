"""Living with rate limits: retry after a per-minute 429, and pace a loop so it never meets one.

    answer = call_with_retry(chat.client.complete, messages=..., model=chat.model)

    pacer = RequestPacer(requests=15, per_seconds=60, concurrent=5)   # the free tier's limits
    for question in questions:
        with pacer:
            chat.client.complete(...)
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from .explanations import explain
from .failures import HttpFailure, http_failure, retry_after_seconds
from .language import _

T = TypeVar("T")
RETRIED_STATUSES = (429, 503)  # the statuses a service sends with retry-after when it asks you to wait


def _wait_asked_for(facts: HttpFailure) -> float | None:
    """The seconds a 429 or 503 asks us to wait, or None when waiting will not help."""
    if facts.status not in RETRIED_STATUSES or facts.headers.get("x-ratelimit-type", "").endswith("ByDay"):
        return None  # a daily quota returns in hours: retrying only spends time
    return retry_after_seconds(facts)


def _accepts_keyword(call: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is p.VAR_KEYWORD or p.name == name for p in parameters)


def call_with_retry(call: Callable[..., T], *args: Any, attempts: int = 4, longest_wait: float = 60,
                    sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, and after a per-minute 429 (or a 503) wait as ``retry-after``
    says, print that wait, and try again, up to ``attempts`` calls in all.

    A per-day 429, a wait longer than ``longest_wait`` seconds and every other error are raised
    at once, with the explanation attached as a note. ``call`` may be ``client.complete`` or
    ``Conversation.ask`` (a failed ask stores nothing, so a retry stores the turn once).
    """
    # azure-core retries a 429 by itself when it carries retry-after, silently, and it would
    # sleep through a per-day 429 too (5631 s in the service's own example). So its retries
    # are switched off for this call (retry_total=0) and done here, where the learner sees
    # each wait and a daily quota is never waited for. The openai SDK takes no such argument:
    # give it a client made with max_retries=0.
    if _accepts_keyword(call, "retry_total"):
        kwargs.setdefault("retry_total", 0)
    for attempt in range(1, attempts + 1):
        try:
            return call(*args, **kwargs)
        except Exception as error:
            facts = http_failure(error)
            wait = _wait_asked_for(facts)
            if wait is None or wait > longest_wait or attempt == attempts:
                if explanation := explain(error):
                    error.add_note(str(explanation))
                raise
            if facts.status == 429:
                message = _("Rate limited ({kind}): waiting {wait:g} s, then retrying.")
            else:
                message = _("Service unavailable (HTTP {status}): waiting {wait:g} s, then retrying.")
            print(message.format(kind=facts.headers.get("x-ratelimit-type") or "HTTP 429", status=facts.status,
                                 wait=wait))
            sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


class PacingRule:
    """The rule both pacers keep: at most ``requests`` per ``per_seconds``, ``concurrent`` at once,
    a request counting from the moment it ends. ``RequestPacer`` waits with threads,
    ``AsyncRequestPacer`` with asyncio."""

    def __init__(self, requests: int, per_seconds: float = 60, concurrent: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if requests < 1 or per_seconds <= 0 or (concurrent is not None and concurrent < 1):
            raise ValueError("requests and concurrent must be at least 1, per_seconds above 0")
        self.requests = requests
        self.per_seconds = per_seconds
        self.concurrent = concurrent
        self._clock = clock
        self._ended: deque[float] = deque()  # when the requests still inside the window ended
        self._in_flight = 0

    def _wait_needed(self) -> float | None:
        """0 if a request may go now, else how long until a place frees (None: when one ends)."""
        now = self._clock()
        while self._ended and self._ended[0] <= now - self.per_seconds:
            self._ended.popleft()
        if self.concurrent is not None and self._in_flight >= self.concurrent:
            return None
        if self._in_flight + len(self._ended) < self.requests:
            return 0
        return self._ended[0] + self.per_seconds - now if self._ended else None


class RequestPacer(PacingRule):
    """Keeps requests within ``requests`` per ``per_seconds`` and ``concurrent`` at once.

    Wrap each request in ``with pacer:``; it waits, when needed, until the request may go.
    Safe to share between threads. A request counts from the moment it *ends*: by then the
    service has surely counted it, so a service that counts arrivals in the same window never
    sees one too many, however long each request took.
    """

    def __init__(self, requests: int, per_seconds: float = 60, concurrent: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(requests, per_seconds, concurrent, clock)
        self._changed = threading.Condition()

    def __enter__(self) -> RequestPacer:
        with self._changed:
            while (wait := self._wait_needed()) != 0:
                self._changed.wait(wait)
            self._in_flight += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._changed:
            self._in_flight -= 1
            self._ended.append(self._clock())
            self._changed.notify_all()

