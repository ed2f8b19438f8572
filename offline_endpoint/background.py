"""The offline endpoint in a background thread of this process, for notebooks and tests."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tornado.netutil import bind_sockets

from .answers import DEFAULT_ANSWERS
from .faults import FaultQueue
from .http1 import ConnectionLimits, GuardedHTTPServer
from .limits import RateLimits
from .server import EndpointState, Pacing, RequestRecord, make_app, new_state
from .validation import MAX_BODY_BYTES_READ


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or "" (every address): assume it reaches further


class OfflineEndpoint:
    """A running offline endpoint. Use ``start_in_background()`` to get one."""

    def __init__(self, host: str, port: int, state: EndpointState, connection_limits: ConnectionLimits) -> None:
        self._state = state
        self._connection_limits = connection_limits
        self._sockets = bind_sockets(port, host)
        self.host = host
        self.port: int = self._sockets[0].getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="offline-endpoint", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:  # the server thread could not start: say why, here
            for sock in self._sockets:
                sock.close()
            raise RuntimeError("the offline endpoint could not start") from self._failure

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = GuardedHTTPServer(make_app(self._state), limits=self._connection_limits,
                                       max_body_size=MAX_BODY_BYTES_READ)
            server.add_sockets(self._sockets)
        except BaseException as error:
            self._failure = error
            self._ready.set()
            self._loop.close()
            return
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()
        server.stop()
        self._loop.run_until_complete(server.close_all_connections())
        self._loop.close()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:50123``; every base path works beneath it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> FaultQueue:
        """Faults for the next requests: ``faults.add("rate_limit_minute", times=2)``."""
        return self._state.faults

    @property
    def requests(self) -> deque[RequestRecord]:
        """What the endpoint saw of each finished request, oldest first (no keys)."""
        return self._state.requests

    @property
    def pacing(self) -> Pacing:
        return self._state.pacing

    @pacing.setter
    def pacing(self, pacing: Pacing) -> None:
        self._state.pacing = pacing

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> OfflineEndpoint:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"OfflineEndpoint(url={self.url!r})"


def start_in_background(host: str = "127.0.0.1", port: int = 0, pacing: Pacing | None = None,
                        limits: RateLimits | None = None, *,
                        answer_files: Iterable[str | Path] = (),
                        connection_limits: ConnectionLimits | None = None,
                        allow_fault_header: bool = False,
                        api_keys: Iterable[str] = ()) -> OfflineEndpoint:
    """Start an offline endpoint in a background thread of this process and return it.

    ``port=0`` picks a free port. ``pacing`` slows streamed answers down so streaming can be
    seen; ``limits`` switches rate limiting on (``RateLimits.free_tier()`` or smaller ones).
    ``answer_files`` adds scripted answers (``answers/*.toml`` format) for this endpoint only.
    ``connection_limits`` changes timeouts and caps on connections (README.md, "Connections").
    ``allow_fault_header`` lets any client ask for a fault with the ``x-offline-fault`` header
    (off unless asked for: the notebooks' own endpoint asks, so lesson 06 can show it with curl).
    ``api_keys``, if any, are the only keys accepted (401 for others).
    """
    answer_files = list(answer_files)
    answers = DEFAULT_ANSWERS.with_files(answer_files) if answer_files else None
    connection_limits = connection_limits or ConnectionLimits()
    api_keys = list(api_keys)
    if not all(api_keys):
        raise ValueError("an API key cannot be empty")
    state = new_state(pacing, limits, answers, write_seconds=connection_limits.write_seconds,
                      allow_fault_header=allow_fault_header, api_keys=api_keys)
    return OfflineEndpoint(host, port, state, connection_limits)
