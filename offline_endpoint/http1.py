"""HTTP/1.1 as tornado speaks it, with what tornado refuses answered in the service's error shape.

Tornado answers a request it cannot parse (a bad Content-Length or chunk size, a NUL byte in a
header, a header without a colon, a missing Host) with a bare ``400`` and no body, and drops one
whose head outgrows its buffer without a word. Here the request's head is checked first: a
refused request never reaches the app, and gets ``{"error": {"code", "message"}}`` with 400,
408, 413, 414 or 431, then the connection closes. See README.md ("Connections") for the limits
and for the few cases tornado leaves no room to answer.

Hooked into tornado 6.6 at its documented seams where there are some (``HTTPServer.handle_stream``,
the delegate passed to ``read_response``) and at three methods of ``HTTP1Connection`` where
there are not (``_parse_headers``, ``_read_body``, ``write_headers``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from tornado import httputil, iostream
from tornado.http1connection import HTTP1Connection, HTTP1ServerConnection
from tornado.httpserver import HTTPServer, _HTTPRequestContext
from tornado.log import gen_log

from .errors import ApiError
from .validation import body_too_large, declared_length


@dataclass(frozen=True)
class ConnectionLimits:
    """Limits on connections that no real client meets. Defaults are the standalone server's."""

    idle_seconds: float = 60.0  # to receive a request's whole head, keep-alive idling included
    body_seconds: float = 60.0  # to receive a request's whole body
    write_seconds: float = 60.0  # for a client to take a slice of a streamed answer
    max_connections: int = 1000
    max_head_bytes: int = 64 * 1024  # request line and headers; more gets 431
    max_url_bytes: int = 8 * 1024  # the request line; more gets 414
    max_headers: int = 100  # more gets 431
    # Heads up to this size are read and answered 431; past it tornado closes the connection.
    head_read_bytes: int = 2 * 1024 * 1024


_JSON = "application/json; charset=UTF-8"
# Stands in for a refused request, so tornado carries on as for any request with no body and
# no keep-alive, and the guard answers it.
_STAND_IN = ("GET / HTTP/1.1", {"Host": "refused", "Connection": "close"})


def _malformed(error: httputil.HTTPInputError) -> ApiError:
    # Tornado's reason up to the first quoted value or colon: the values themselves (a key, say)
    # are never echoed.
    reason = str(error).split(":")[0].split("'")[0].split('"')[0].strip()[:80] or "malformed request"
    return ApiError(400, "bad_request", f"The request is not valid HTTP/1.1: {reason}.")


def _head_refusal(data: bytes, limits: ConnectionLimits) -> ApiError | None:
    """A refusal for a head too large to parse, judged from its bytes before tornado parses them."""
    request_line_end = data.find(b"\n")
    if request_line_end > limits.max_url_bytes:
        return ApiError(414, "uri_too_long",
                        f"The request line is {request_line_end} bytes; the limit is {limits.max_url_bytes}.")
    if len(data) > limits.max_head_bytes:
        return ApiError(431, "request_header_fields_too_large",
                        f"The request's headers are {len(data)} bytes; the limit is {limits.max_head_bytes}.")
    if data.count(b"\n") - 2 > limits.max_headers:
        return ApiError(431, "request_header_fields_too_large",
                        f"The request has more than {limits.max_headers} headers.")
    return None


def _framing_refusal(headers: httputil.HTTPHeaders, max_body_bytes: int) -> ApiError | None:
    """The checks tornado makes of a body's framing once the app has started, made before it."""
    transfer_encoding = headers.get("Transfer-Encoding")
    if "Content-Length" in headers:
        if transfer_encoding is not None:
            return ApiError(400, "bad_request", "The request has both Content-Length and Transfer-Encoding.")
        lengths = {value.strip() for value in headers["Content-Length"].split(",")}
        declared = declared_length(lengths.pop()) if len(lengths) == 1 else None
        if declared is None:
            return ApiError(400, "bad_request", "Content-Length must be one number of ASCII digits.")
        if declared > max_body_bytes:
            return body_too_large(declared)
    elif transfer_encoding is not None and transfer_encoding.lower() != "chunked":
        return ApiError(400, "bad_request", "The only Transfer-Encoding accepted is chunked.")
    return None


class _Guard(httputil.HTTPMessageDelegate):
    """Between a connection and the app: a request refused from its head never reaches the app."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, connection: GuardedConnection) -> None:
        self._delegate = delegate
        self._connection = connection
        self._refused = False

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        refusal = self._connection.refusal
        if refusal is None:
            try:
                return self._delegate.headers_received(start_line, headers)
            except httputil.HTTPInputError as error:  # a missing or bad Host, found as the app reads the request
                refusal = _malformed(error)
        self._refused = True
        self._connection.answer(refusal)
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return None if self._refused else self._delegate.data_received(chunk)

    def finish(self) -> None:
        if not self._refused:
            self._delegate.finish()

    def on_connection_close(self) -> None:
        if not self._refused:
            self._delegate.on_connection_close()


class GuardedConnection(HTTP1Connection):
    """One request on a server connection, its head checked before tornado or the app acts on it."""

    def __init__(self, stream: iostream.IOStream, params: Any, context: Any, limits: ConnectionLimits) -> None:
        super().__init__(stream, False, params, context)
        self.limits = limits
        self.refusal: ApiError | None = None

    def read_response(self, delegate: httputil.HTTPMessageDelegate) -> Awaitable[bool]:
        return super().read_response(_Guard(delegate, self))

    def _parse_headers(self, data: bytes) -> tuple[str, httputil.HTTPHeaders]:
        try:
            self.refusal = _head_refusal(data, self.limits)
            if self.refusal is None:
                start_line, headers = super()._parse_headers(data)
                httputil.parse_request_start_line(start_line)  # raises here, where it can be answered
                self.refusal = _framing_refusal(headers, self._max_body_size)
                if self.refusal is None:
                    return start_line, headers
        except httputil.HTTPInputError as error:
            self.refusal = _malformed(error)
        return _STAND_IN[0], httputil.HTTPHeaders(_STAND_IN[1])

    def _read_body(self, code: int, headers: httputil.HTTPHeaders,
                   delegate: httputil.HTTPMessageDelegate) -> Awaitable[None] | None:
        try:
            body = super()._read_body(code, headers, delegate)
        except httputil.HTTPInputError as error:
            self.answer(_malformed(error))
            return None
        return None if body is None else self._read_in_time(body)

    async def _read_in_time(self, body: Awaitable[None]) -> None:
        try:
            await asyncio.wait_for(body, self.limits.body_seconds)
        except httputil.HTTPInputError as error:  # a bad chunk: size, terminator, or too many bytes
            self.answer(body_too_large(self._max_body_size + 1) if "too large" in str(error) else _malformed(error))
        except TimeoutError:
            self.answer(ApiError(408, "request_timeout",
                                 f"The request's body did not arrive within {self.limits.body_seconds:g} seconds."))

    def write_headers(self, start_line: Any, headers: httputil.HTTPHeaders, chunk: bytes | None = None) -> Any:
        if not self._read_finished:
            # Answered before the body was read: tornado closes the connection after this answer,
            # so the answer says so, or a keep-alive client sends its next request into a closed socket.
            self._disconnect_on_finish = True
        return super().write_headers(start_line, headers, chunk)

    def answer(self, error: ApiError) -> None:
        """Answer ``error`` in the service's shape and close; only close if an answer has begun."""
        if self._response_start_line is not None or self.stream.closed():
            self.close()
            return
        body = json.dumps(error.body()).encode()
        headers = httputil.HTTPHeaders({"Content-Type": _JSON, "Content-Length": str(len(body)), **error.headers})
        if self._request_start_line is not None and self._request_start_line.method == "HEAD":
            body = b""
        self._disconnect_on_finish = True
        reason = httputil.responses.get(error.status, "Error")
        self.write_headers(httputil.ResponseStartLine("HTTP/1.1", error.status, reason), headers, body)
        self.finish()


class _GuardedServerConnection(HTTP1ServerConnection):
    def __init__(self, stream: iostream.IOStream, params: Any, context: Any, limits: ConnectionLimits) -> None:
        super().__init__(stream, params, context)
        self.limits = limits

    async def _server_request_loop(self, delegate: httputil.HTTPServerConnectionDelegate) -> None:
        # Tornado 6.6's loop, with GuardedConnection for HTTP1Connection.
        try:
            while True:
                conn = GuardedConnection(self.stream, self.params, self.context, self.limits)
                request_delegate = delegate.start_request(self, conn)
                try:
                    ret = await conn.read_response(request_delegate)
                except (iostream.StreamClosedError, iostream.UnsatisfiableReadError, asyncio.CancelledError):
                    return
                except Exception:
                    gen_log.error("Uncaught exception", exc_info=True)
                    conn.close()
                    return
                if not ret:
                    return
                await asyncio.sleep(0)
        finally:
            delegate.on_close(self)


def _connection_cap(wanted: int) -> int:
    """``wanted``, or fewer if the process may not open that many files: past that limit accept()
    fails with EMFILE, which tornado's accept loop does not survive gracefully."""
    try:
        import resource  # not on Windows, where the limit is not per process in the same way
    except ImportError:
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return wanted if soft == resource.RLIM_INFINITY else min(wanted, max(16, soft - 64))


class GuardedHTTPServer(HTTPServer):
    """tornado's HTTPServer with ``ConnectionLimits`` and guarded connections."""

    def initialize(self, request_callback: Any, limits: ConnectionLimits | None = None, **kwargs: Any) -> None:
        self.limits = limits or ConnectionLimits()
        self.max_connections = _connection_cap(self.limits.max_connections)
        super().initialize(request_callback, max_header_size=self.limits.head_read_bytes,
                           idle_connection_timeout=self.limits.idle_seconds, **kwargs)

    def handle_stream(self, stream: iostream.IOStream, address: tuple) -> None:
        if len(self._connections) >= self.max_connections:
            stream.close()  # nothing is read, so nothing is answered: see README.md
            return
        context = _HTTPRequestContext(stream, address, self.protocol, self.trusted_downstream)
        connection = _GuardedServerConnection(stream, self.conn_params, context, self.limits)
        self._connections.add(connection)
        connection.start_serving(self)
