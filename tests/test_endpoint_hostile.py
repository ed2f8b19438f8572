"""Hostile requests: whatever arrives on the socket, the endpoint answers a 4xx in the service's
shape (or, where tornado leaves no choice, closes the connection), within seconds, stays up, and
never writes much more than the answer it generated."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collection_tools.raw_http import complete_response
from offline_endpoint import OfflineEndpoint, start_in_background
from offline_endpoint.http1 import ConnectionLimits
from tests.support import TEST_KEY, TEST_MODEL

AUTH = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
ANSWER_WITHIN_SECONDS = 5
# Short timeouts, so the rows that stall answer (or close) well within ANSWER_WITHIN_SECONDS.
LIMITS = ConnectionLimits(idle_seconds=2, body_seconds=1)


# --- raw requests ----------------------------------------------------------------------------


@dataclass
class RawAnswer:
    """The first response on a connection, or how the connection ended without one."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    ended: str = ""  # "closed", "reset" or "hung" when there is no complete response


def _complete(data: bytes, closed: bool = False) -> RawAnswer | None:
    """The response in ``data`` if it is complete, else None."""
    response = complete_response(data, closed)
    return None if response is None else RawAnswer(*response)


def exchange(port: int, request: bytes, seconds: float = ANSWER_WITHIN_SECONDS) -> RawAnswer:
    """Send ``request`` on a new connection and read the first response, for at most ``seconds``."""
    started = time.monotonic()
    data = b""
    ended = "hung"
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as connection:
        try:
            connection.sendall(request)
        except OSError:
            pass  # refused before it was all sent: the answer may still be there to read
        while (answer := _complete(data)) is None:
            connection.settimeout(max(0.01, started + seconds - time.monotonic()))
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                ended = "reset"
                break
            if not chunk:
                ended = "closed"
                answer = _complete(data, closed=True)
                break
            data += chunk
    answer = answer or RawAnswer(ended=ended)
    answer.seconds = time.monotonic() - started
    return answer


def _request(head: str = "POST /chat/completions HTTP/1.1", headers: str = "Host: x\r\n", body: bytes = b"",
             auth: bool = True) -> bytes:
    key = f"Authorization: Bearer {TEST_KEY}\r\n" if auth else ""
    return f"{head}\r\n{headers}{key}\r\n".encode("latin-1") + body


BODY = json.dumps({"model": TEST_MODEL, "messages": [{"role": "user", "content": "Hi"}]}).encode()
LENGTH = f"Content-Length: {len(BODY)}\r\n"
CLOSED = "closed"  # the connection ends with no answer: tornado leaves no room for one (reason given)

# (id, raw request, expected status or CLOSED, expected error.code, or why there is no answer)
HOSTILE: list[tuple[str, bytes, int | str, str]] = [
    ("Content-Length a Unicode digit", _request(headers="Host: x\r\nContent-Length: \u00b2\r\n", body=b"{}"),
     400, "bad_request"),
    ("Content-Length of 5,000 digits", _request(headers="Host: x\r\nContent-Length: " + "9" * 5000 + "\r\n"),
     413, "request_body_too_large"),
    ("Content-Length negative", _request(headers="Host: x\r\nContent-Length: -1\r\n"), 400, "bad_request"),
    ("Content-Length in hex", _request(headers="Host: x\r\nContent-Length: 0x10\r\n"), 400, "bad_request"),
    ("Content-Length a float", _request(headers="Host: x\r\nContent-Length: 1e3\r\n"), 400, "bad_request"),
    ("Content-Length empty", _request(headers="Host: x\r\nContent-Length: \r\n"), 400, "bad_request"),
    ("Content-Length twice, unequal", _request(headers=f"Host: x\r\n{LENGTH}Content-Length: 3\r\n", body=BODY),
     400, "bad_request"),
    ("Content-Length list, unequal", _request(headers="Host: x\r\nContent-Length: 2, 3\r\n", body=b"{}"),
     400, "bad_request"),
    ("Content-Length and chunked", _request(headers=f"Host: x\r\n{LENGTH}Transfer-Encoding: chunked\r\n",
                                            body=BODY), 400, "bad_request"),
    ("Transfer-Encoding gzip", _request(headers="Host: x\r\nTransfer-Encoding: gzip\r\n"), 400, "bad_request"),
    ("Transfer-Encoding chunked twice", _request(headers="Host: x\r\nTransfer-Encoding: chunked, chunked\r\n"),
     400, "bad_request"),
    ("chunk size not hex", _request(headers="Host: x\r\nTransfer-Encoding: chunked\r\n", body=b"zz\r\n{}\r\n0\r\n\r\n"),
     400, "bad_request"),
    ("chunk not ended by CRLF", _request(headers="Host: x\r\nTransfer-Encoding: chunked\r\n",
                                         body=b"2\r\n{}XX0\r\n\r\n"), 400, "bad_request"),
    ("chunk of 1 TB announced", _request(headers="Host: x\r\nTransfer-Encoding: chunked\r\n",
                                         body=b"FFFFFFFFFF\r\n{}"), 413, "request_body_too_large"),
    ("chunk size line over 64 bytes", _request(headers="Host: x\r\nTransfer-Encoding: chunked\r\n",
                                               body=b"0" * 100 + b"2\r\n{}\r\n0\r\n\r\n"),
     CLOSED, "tornado's IOStream closes the connection itself when a chunk-size line passes 64 bytes"),
    ("body shorter than Content-Length, then silence", _request(headers="Host: x\r\nContent-Length: 100\r\n",
                                                                body=b"{"), 408, "request_timeout"),
    ("NUL byte in a header value", _request(headers="Host: x\r\nX-Note: a\x00b\r\n"), 400, "bad_request"),
    ("NUL byte in the URL", _request(head="GET /catalog\x00/models HTTP/1.1"), 400, "bad_request"),
    ("header without a colon", _request(headers="Host: x\r\nJust some words\r\n"), 400, "bad_request"),
    ("folded header line", _request(headers="Host: x\r\nX-Note: a\r\n  folded\r\n"), 400, "bad_request"),
    ("space before a header's colon", _request(headers="Host : x\r\n"), 400, "bad_request"),
    ("no Host in HTTP/1.1", _request(headers=LENGTH, body=BODY), 400, "bad_request"),
    ("two Host headers", _request(headers=f"Host: a\r\nHost: b\r\n{LENGTH}", body=BODY), 400, "bad_request"),
    ("Host with a space", _request(headers=f"Host: a b\r\n{LENGTH}", body=BODY), 400, "bad_request"),
    ("garbage request line", b"HELLO THERE\r\n\r\n", 400, "bad_request"),
    ("HTTP/2.0 request line", _request(head="GET /catalog/models HTTP/2.0"), 400, "bad_request"),
    ("blank lines only", b"\r\n\r\n\r\n\r\n", 400, "bad_request"),
    ("a URL of 100 KB", _request(head="GET /" + "a" * 100_000 + " HTTP/1.1"), 414, "uri_too_long"),
    ("a header of 64 KB", _request(headers="Host: x\r\nX-Big: " + "b" * 65_536 + "\r\n"), 431,
     "request_header_fields_too_large"),
    ("10,000 headers", _request(headers="Host: x\r\n" + "X-H: v\r\n" * 10_000), 431,
     "request_header_fields_too_large"),
    ("an api-key of 1 MB", _request(headers="Host: x\r\napi-key: " + "k" * 1_000_000 + "\r\n"), 431,
     "request_header_fields_too_large"),
    ("headers of 3 MB", _request(headers="Host: x\r\nX-Big: " + "b" * 3_000_000 + "\r\n"), CLOSED,
     "tornado's IOStream closes the connection itself when a head outgrows head_read_bytes (2 MB)"),
    ("a head that never ends", b"GET /catalog/models HTTP/1.1\r\nHost: x\r\nX-Slow: ", CLOSED,
     "tornado closes the connection when idle_seconds pass without a whole head, with no hook to answer"),
    ("Content-Length past the read limit", _request(headers="Host: x\r\nContent-Length: 209715200\r\n"), 413,
     "request_body_too_large"),
    ("Expect 100-continue past the read limit",
     _request(headers="Host: x\r\nExpect: 100-continue\r\nContent-Length: 209715200\r\n"), 413,
     "request_body_too_large"),
    ("unknown method", _request(head="BREW /chat/completions HTTP/1.1"), 405, "method_not_allowed"),
    ("method of 4 KB", _request(head="X" * 4096 + " /chat/completions HTTP/1.1"), 405, "method_not_allowed"),
    ("raw bytes above 0x7F in the path", _request(head="GET /\xff\xfe/models HTTP/1.1"), 404, "not_found"),
    ("percent-encoded invalid UTF-8 in the path", _request(head="GET /models%ff/info HTTP/1.1"), 404, "not_found"),
    ("absolute-form URL to another host", _request(head="GET http://example.com/catalog/models HTTP/1.1"), 404,
     "not_found"),
    ("body not UTF-8", _request(headers="Host: x\r\nContent-Length: 4\r\n", body=b"\xff\xfe{}"), 400,
     "invalid_encoding"),
    ("no key, LF-only line ends", b"POST /chat/completions HTTP/1.1\nHost: x\n" + LENGTH.replace("\r", "").encode()
     + b"\n" + BODY, 401, "unauthorized"),
]


@pytest.fixture(scope="module")
def hostile_endpoint() -> Iterator[OfflineEndpoint]:
    with start_in_background(connection_limits=LIMITS) as endpoint:
        yield endpoint


def test_the_hostile_table_has_at_least_25_distinct_rows() -> None:
    assert len({row[0] for row in HOSTILE}) == len(HOSTILE) >= 25


@pytest.mark.parametrize(("request_bytes", "expected", "code_or_reason"), [row[1:] for row in HOSTILE],
                         ids=[row[0] for row in HOSTILE])
def test_a_hostile_request_gets_a_4xx_in_the_services_shape_and_the_server_stays_up(
        hostile_endpoint: OfflineEndpoint, request_bytes: bytes, expected: int | str, code_or_reason: str) -> None:
    answer = exchange(hostile_endpoint.port, request_bytes)

    assert answer.seconds < ANSWER_WITHIN_SECONDS and answer.ended != "hung"
    if expected == CLOSED:
        assert answer.status is None, answer
    else:
        assert answer.status == expected, answer
        assert answer.headers["content-type"].startswith("application/json")
        error = json.loads(answer.body)["error"]
        assert error["code"] == code_or_reason and isinstance(error["message"], str) and error["message"]
        assert len(answer.body) < 500  # it names the problem; it does not echo the request
    after = httpx.get(f"{hostile_endpoint.url}/catalog/models", timeout=ANSWER_WITHIN_SECONDS)
    assert after.status_code == 200


def test_an_answer_before_the_body_is_read_says_the_connection_closes(hostile_endpoint: OfflineEndpoint) -> None:
    # Tornado closes the connection when it answers before reading a body; a keep-alive client
    # must be told, or its next request goes into a closed socket.
    with httpx.Client(base_url=hostile_endpoint.url, timeout=5) as client:
        statuses = [client.request("BREW", "/chat/completions").status_code for _ in range(5)]
        closing = client.request("BREW", "/chat/completions").headers.get("connection")

    assert statuses == [405] * 5
    assert closing == "close"


# --- amplification ---------------------------------------------------------------------------

# A streamed token costs one event of about 250 bytes; the rest (role, finish, usage, [DONE]) is
# four more events. Whatever a request is padded with, nothing of it may be repeated per event.
BYTES_PER_EVENT = 400
FRAMING_EVENTS = 4
PADDED_FIELDS = ("model", "model-leading", "prompt", "system", "stop", "user")


def _padded_request(field: str, padding: int, stream: bool) -> dict:
    spaces = " " * padding
    question = {"role": "user", "content": "Give me 5 good reasons why I should exercise every day."}
    request: dict = {"model": TEST_MODEL, "stream": stream, "messages": [question]}
    if field == "model":
        request["model"] = TEST_MODEL + spaces
    elif field == "model-leading":
        request["model"] = spaces + TEST_MODEL
    elif field == "prompt":
        request["messages"][0]["content"] += spaces
    elif field == "system":
        request["messages"].insert(0, {"role": "system", "content": "Be brief." + spaces})
    elif field == "stop":
        request["stop"] = ["never in the answer" + spaces]
    else:
        request["user"] = "learner" + spaces
    return request


@pytest.fixture(scope="module")
def http_client(stand_in_session: OfflineEndpoint) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stand_in_session.url, headers=AUTH, timeout=10) as client:
        yield client


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(PADDED_FIELDS), padding=st.integers(0, 1_000_000), stream=st.booleans())
def test_response_size_is_bounded_by_the_answer_whatever_the_padding(
        http_client: httpx.Client, field: str, padding: int, stream: bool) -> None:
    response = http_client.post("/chat/completions", content=json.dumps(_padded_request(field, padding, stream)))

    assert response.status_code < 500
    tokens = 0
    if response.status_code == 200:
        last = response.text.split("data: ")[-2] if stream else response.text
        tokens = json.loads(last)["usage"]["completion_tokens"]
        assert tokens > 0
    assert len(response.content) <= BYTES_PER_EVENT * (tokens + FRAMING_EVENTS)


def test_a_padded_model_name_is_refused_with_a_short_message(http_client: httpx.Client) -> None:
    response = http_client.post("/chat/completions", content=json.dumps(_padded_request("model", 1_000_000, True)))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_model"
    assert len(response.content) < 400


def test_a_prompt_ending_in_a_megabyte_of_spaces_is_answered_in_seconds(http_client: httpx.Client) -> None:
    # Trailing spaces once made token counting quadratic: 40 KB of them took 50 s of the event loop.
    request = _padded_request("prompt", 1_000_000, False)

    response = http_client.post("/chat/completions", content=json.dumps(request), timeout=5)

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].startswith("Here are five good reasons")
