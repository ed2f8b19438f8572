"""Faults on demand: the failures lessons and tests ask for, defined in ``faults.toml``."""

from __future__ import annotations

import threading
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError

FAULTS: dict[str, dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "faults.toml").read_text(encoding="utf-8")
)


@dataclass(frozen=True)
class Fault:
    name: str
    status: int | None = None
    code: str = ""
    message: str = ""
    headers: dict[str, str] | None = None
    inner_error: dict[str, Any] | None = None
    finish_reason: str | None = None
    delay_seconds: float = 0
    cut_stream: bool = False

    @classmethod
    def named(cls, name: str) -> Fault:
        if name not in FAULTS:
            raise ApiError(400, "unknown_fault",
                           f"Unknown fault '{name[:60]}'. Known faults: {', '.join(FAULTS)}.")
        return cls(name=name, **FAULTS[name])

    def error(self, model: str) -> ApiError | None:
        """The error this fault answers with, or None when it answers 200."""
        if self.status is None:
            return None
        return ApiError(self.status, self.code, self.message.replace("{model}", model),
                        dict(self.headers or {}), self.inner_error)


class FaultQueue:
    """Faults queued for the next requests, in order: ``add("retired", times=2)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()

    def add(self, name: str, times: int = 1) -> None:
        Fault.named(name)  # an unknown name fails here, not on a later request
        with self._lock:
            self._queue.extend([name] * times)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)

    def take(self) -> Fault | None:
        with self._lock:
            return Fault.named(self._queue.popleft()) if self._queue else None
