"""Routing and wire format: the service's HTTP API on tornado, as JSON and as SSE."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tornado import web
from tornado.iostream import StreamClosedError

from .answers import DEFAULT_ANSWERS, Answers, count_prompt_tokens, split_tokens
from .catalog import DEFAULT_MODEL, MAX_OUTPUT_TOKENS, MODELS, catalog_entries, find_model
from .errors import ApiError
from .faults import Fault, FaultQueue
from .limits import RateLimiter, RateLimits
from .replies import plan_reply
from .validation import MAX_BODY_BYTES, MAX_BODY_BYTES_READ, body_too_large, declared_length, parse_chat_request

# Base paths a learner's endpoint URL may end in: the old GitHub Models host (none),
# models.github.ai (/inference), Microsoft Foundry (/models), OpenAI-compatible servers (/v1).
BASE_PATHS = r"(?:/inference|/models|/v1|/openai/v1)?"
FAULT_HEADER = "x-offline-fault"
# Unpaced, a stream is written in slices of about this many bytes, each awaited until the socket
# has taken it: a client that reads slowly holds back its own stream, not the server's memory,
# and other clients get a turn between slices.
STREAM_SLICE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Pacing:
    """How fast a streamed answer arrives. Zero (the default) sends it as fast as possible."""

    first_token_seconds: float = 0.0
    tokens_per_second: float = 0.0


# The request log keeps its last 10,000 records; each keeps at most this much of what the client
# chose (path, model), so the whole log stays within a few megabytes whatever is sent.
REQUEST_LOG_LENGTH = 10_000
RECORDED_CHARS = 100


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class RequestRecord:
    """What the endpoint saw of one request. Never the key: only which headers carried one.
    ``path`` and ``model`` are cut to ``RECORDED_CHARS`` (ending in "…" when cut)."""

    method: str
    path: str
    status: int
    auth_headers: tuple[str, ...]
    model: str | None
    stream: bool
    at: float


@dataclass
class EndpointState:
    """What every handler shares: settings, queued faults, limits and the request log."""

    pacing: Pacing
    limiter: RateLimiter | None
    faults: FaultQueue
    requests: deque[RequestRecord]
    ids: itertools.count
    answers: Answers
    write_seconds: float  # how long a streamed slice may wait for the client to take it
    allow_fault_header: bool  # whether any client may ask for a fault with FAULT_HEADER
    api_keys: tuple[bytes, ...]  # SHA-256 digests of the keys accepted; empty: any key


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _answer_pieces(reply: str, request: dict[str, Any]) -> tuple[list[str], str]:
    """The answer's token pieces after ``stop`` and ``max_tokens``, and its finish reason."""
    stops = request.get("stop") or []
    for stop in [stops] if isinstance(stops, str) else stops:
        if stop and stop in reply:
            reply = reply[: reply.index(stop)]
    pieces = split_tokens(reply)
    # No answer is longer than the service's output limit, so no request makes more than that.
    max_tokens = min(request.get("max_tokens") or MAX_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS)
    if len(pieces) > max_tokens:
        return pieces[:max_tokens], "length"
    return pieces, "stop"


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _is_one_of(key: str, digests: tuple[bytes, ...]) -> bool:
    # Digests compared in constant time, every one of them, so timing tells nothing about a key.
    digest = key_digest(key)
    return sum(hmac.compare_digest(digest, accepted) for accepted in digests) > 0


class _ApiHandler(web.RequestHandler):
    """Shared by every route: errors in the service's shape, keys checked, requests logged."""

    state: EndpointState
    model_name: str | None = None
    streaming = False

    def initialize(self, state: EndpointState) -> None:
        self.state = state

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.clear_header("Server")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error leaves here, in the service's shape: an ``ApiError`` a handler raised, or
        tornado's own 404/405."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(error, ApiError):
            error = self._routing_error(status_code)
        self.set_status(error.status)
        for name, value in error.headers.items():
            self.set_header(name, value)
        self.finish(error.body())

    def _routing_error(self, status_code: int) -> ApiError:
        path = self.request.path[:100]
        if status_code == 405:
            method = _bounded(self.request.method or "", 16)
            return ApiError(405, "method_not_allowed", f"{method} is not allowed on {path}.")
        if status_code == 404:
            return ApiError(404, "not_found",
                            f"No such route: {path}. Chat completions are at POST <endpoint>/chat/completions.")
        return ApiError(status_code, "bad_request" if status_code < 500 else "internal_server_error", self._reason)

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if not isinstance(value, ApiError):  # an ApiError is an answer, not a fault of the server
            super().log_exception(typ, value, tb)

    def auth_headers(self) -> tuple[str, ...]:
        return tuple(h for h in ("Authorization", "api-key") if self.request.headers.get(h))

    def require_key(self) -> str:
        """The caller's key, from ``Authorization: Bearer`` or ``api-key``; else a 401."""
        bearer = self.request.headers.get("Authorization", "")
        key = bearer[7:].strip() if bearer[:7].lower() == "bearer " else ""
        key = key or self.request.headers.get("api-key", "").strip()
        if not key:
            raise ApiError(401, "unauthorized",
                           "No key was sent. Send it as 'Authorization: Bearer <key>' or 'api-key: <key>'.")
        if self.state.api_keys and not _is_one_of(key, self.state.api_keys):
            raise ApiError(401, "unauthorized",
                           "This key is not accepted here. Use one of the keys the endpoint was started with.")
        return key

    def finish(self, chunk: str | bytes | dict | None = None) -> Any:
        # Logged before the last bytes go out, so a client holding its answer finds it logged.
        if not self._finished:
            self.state.requests.append(RequestRecord(
                _bounded(self.request.method or "", 16), _bounded(self.request.path, RECORDED_CHARS),
                self.get_status(), self.auth_headers(),
                None if self.model_name is None else _bounded(self.model_name, RECORDED_CHARS),
                self.streaming, time.monotonic(),
            ))
        return super().finish(chunk)


class NotFoundHandler(_ApiHandler):
    def prepare(self) -> None:
        raise web.HTTPError(404)


_CATALOG = json.dumps(catalog_entries())
_OPENAI_MODELS = {"object": "list", "data": [
    {"id": model.name, "object": "model", "owned_by": "microsoft"} for model in MODELS]}


class CatalogHandler(_ApiHandler):
    def get(self) -> None:
        self.finish(_CATALOG)


class OpenAIModelsHandler(_ApiHandler):
    def get(self) -> None:
        self.require_key()
        self.finish(_OPENAI_MODELS)


class InfoHandler(_ApiHandler):
    def get(self) -> None:
        self.require_key()
        name = self.get_query_argument("model", DEFAULT_MODEL)
        model = find_model(name)
        if model is None:
            raise ApiError(404, "unknown_model", f"Unknown model: {name[:100]}")
        self.finish({"model_name": model.name, "model_type": "chat-completion", "model_provider_name": "Microsoft"})


@web.stream_request_body
class ChatCompletionsHandler(_ApiHandler):
    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        declared = declared_length(self.request.headers.get("Content-Length", ""))
        if declared is not None and declared > MAX_BODY_BYTES_READ:
            # The guarded server (http1.py) refuses this before the app runs; on any other server
            # the app answers it alike, rather than reading 64 MiB first.
            raise body_too_large(declared)

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= MAX_BODY_BYTES:  # beyond that, count but keep nothing
            self._chunks.append(chunk)

    async def post(self) -> None:
        key = self.require_key()
        if self._size > MAX_BODY_BYTES:
            raise body_too_large(self._size)
        request = parse_chat_request(b"".join(self._chunks))
        self.model_name = request["model"]
        self.streaming = bool(request.get("stream"))
        requested = self.request.headers.get(FAULT_HEADER)
        if requested and not self.state.allow_fault_header:
            raise ApiError(400, "fault_header_disabled",
                           f"This endpoint does not take faults from the {FAULT_HEADER} header. Start it with "
                           "--allow-fault-header, or start_in_background(allow_fault_header=True).")
        fault = Fault.named(requested.strip()) if requested else self.state.faults.take()
        if fault and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault and (error := fault.error(self.model_name[:100])):
            raise error
        model = find_model(self.model_name)
        if model is None:
            raise ApiError(404, "unknown_model", f"Unknown model: {self.model_name[:100]}")
        if self.state.limiter is None:
            await self._respond(request, model.max_input_tokens, model.name, fault)
        else:
            with self.state.limiter.admit(key, model.name):
                await self._respond(request, model.max_input_tokens, model.name, fault)

    async def _respond(self, request: dict[str, Any], max_input: int, name: str, fault: Fault | None) -> None:
        messages = request["messages"]
        prompt_tokens = count_prompt_tokens(messages)
        if prompt_tokens > max_input:
            raise ApiError(413, "tokens_limit_reached",
                           f"Request body too large for {name} model. Max size: {max_input} tokens "
                           f"(this request has about {prompt_tokens}).")
        if (request.get("max_tokens") or 0) > MAX_OUTPUT_TOKENS:
            raise ApiError(400, "tokens_limit_reached",
                           f"max_tokens is {request['max_tokens']}, but the limit for {name} is "
                           f"{MAX_OUTPUT_TOKENS} output tokens per request.")
        reply = plan_reply(request, name, self.state.answers)  # text, JSON or tool calls (replies.py)
        pieces, finish_reason = _answer_pieces(reply.text, request)
        if fault and fault.finish_reason:
            pieces, finish_reason = pieces[: len(pieces) // 3], fault.finish_reason
        deltas = [{"content": piece} for piece in pieces]
        if reply.tool_calls:
            deltas, finish_reason = reply.deltas(), "tool_calls"
        usage = _usage(prompt_tokens, reply.completion_tokens() if reply.tool_calls else len(pieces))
        head = {
            "id": f"chatcmpl-offline-{next(self.state.ids):06d}",
            "created": int(time.time()),
            "model": self.model_name,
        }
        if not self.streaming:
            message = reply.message() if reply.tool_calls else \
                {"role": "assistant", "content": "".join(pieces), "tool_calls": None}
            body = json.dumps({**head, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason},
            ]}).encode()
            if fault and fault.cut_stream:  # half the body, then the connection drops
                self.set_header("Content-Length", str(len(body)))
                self.write(body[: len(body) // 2])
                await self._cut_off()
                return
            self.finish(body)
            return
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        await self._stream(head, deltas, finish_reason, usage, include_usage, fault)

    async def _stream(self, head: dict[str, Any], deltas: list[dict[str, Any]], finish_reason: str,
                      usage: dict[str, int], include_usage: bool, fault: Fault | None) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        # Each event leaves at once; with Nagle's algorithm a token waits for the previous one's ACK.
        self.request.connection.stream.set_nodelay(True)
        pacing = self.state.pacing
        head = {**head, "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return "data: " + json.dumps({**head, "choices": [choice], **extra}) + "\n\n"

        try:
            self.write(chunk({"role": "assistant", "content": ""}))
            await self.flush()
            if pacing.first_token_seconds:
                await asyncio.sleep(pacing.first_token_seconds)
            clock = asyncio.get_running_loop().time
            first_token_at = clock()
            unflushed = 0
            for number, delta in enumerate(deltas):
                if fault and fault.cut_stream and number == len(deltas) // 2:
                    await self._cut_off()
                    return
                if number and pacing.tokens_per_second:
                    # Sleep until this token's time, so the small delays of sending do not add up.
                    await asyncio.sleep(max(0.0, first_token_at + number / pacing.tokens_per_second - clock()))
                event = chunk(delta)
                self.write(event)
                unflushed += len(event)
                if pacing.tokens_per_second or unflushed >= STREAM_SLICE_BYTES:
                    await self._flush_in_time()
                    unflushed = 0
            if include_usage:
                self.write(chunk({}, finish_reason))
                self.write("data: " + json.dumps({**head, "choices": [], "usage": usage}) + "\n\n")
            else:
                self.write(chunk({}, finish_reason, usage=usage))
            self.write("data: [DONE]\n\n")
            self.finish()
        except StreamClosedError:
            pass  # the client went away; nothing is left to answer

    async def _flush_in_time(self) -> None:
        """Flush, or drop the connection of a client that has not taken the last slice in time."""
        try:
            await asyncio.wait_for(self.flush(), self.state.write_seconds)
        except TimeoutError:
            self.request.connection.stream.close()
            raise StreamClosedError() from None

    async def _cut_off(self) -> None:
        """Send what is written so far, then drop the connection, as a failing network would."""
        await self.flush()
        self.request.connection.stream.close()


def make_app(state: EndpointState) -> web.Application:
    routes = [
        (BASE_PATHS + r"/chat/completions/?", ChatCompletionsHandler),
        (BASE_PATHS + r"/info/?", InfoHandler),
        (r"/catalog/models/?", CatalogHandler),
        (r"(?:/v1|/openai/v1)/models/?", OpenAIModelsHandler),
    ]
    return web.Application(
        [(path, handler, {"state": state}) for path, handler in routes],
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        log_function=lambda handler: None,
    )


def new_state(pacing: Pacing | None = None, limits: RateLimits | None = None,
              answers: Answers | None = None, write_seconds: float = 60.0,
              allow_fault_header: bool = False, api_keys: Iterable[str] = ()) -> EndpointState:
    return EndpointState(
        pacing=pacing or Pacing(),
        limiter=RateLimiter(limits) if limits else None,
        faults=FaultQueue(),
        requests=deque(maxlen=REQUEST_LOG_LENGTH),
        ids=itertools.count(1),
        answers=answers or DEFAULT_ANSWERS,
        write_seconds=write_seconds,
        allow_fault_header=allow_fault_header,
        api_keys=tuple(key_digest(key) for key in api_keys),
    )
