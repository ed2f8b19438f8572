"""What one request, one client or many can make the endpoint hold or write is bounded."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from offline_endpoint import OfflineEndpoint, RateLimits, RequestRecord, start_in_background
from offline_endpoint.catalog import MAX_OUTPUT_TOKENS
from offline_endpoint.errors import ApiError
from offline_endpoint.http1 import ConnectionLimits
from offline_endpoint.limits import RateLimiter
from offline_endpoint.server import RECORDED_CHARS, REQUEST_LOG_LENGTH
from offline_endpoint.validation import TOO_LONG, declared_length
from tests.support import TEST_KEY, TEST_MODEL

LONG_PROMPT = "Write the longest answer you can."
# Tokens of 1,500 letters: the capped answer (4,000 of them, about 6.5 MB of events) is more than
# the kernel's socket buffers on both sides can take, so a client that does not read holds it up.
LONG_WORD = "a" * 1500


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture(scope="module")
def long_answer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("answers") / "long.toml"
    reply = " ".join([LONG_WORD] * (MAX_OUTPUT_TOKENS + 500))
    path.write_text(f'[[answer]]\nprompt = "{LONG_PROMPT}"\nreply = "{reply}"\n', encoding="utf-8")
    return path


def _stream_request(port: int) -> socket.socket:
    body = json.dumps({"model": TEST_MODEL, "stream": True,
                       "messages": [{"role": "user", "content": LONG_PROMPT}]}).encode()
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a slow reader: a small window
    reader.settimeout(10)
    reader.connect(("127.0.0.1", port))
    reader.sendall(b"POST /chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TEST_KEY.encode()
                   + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return reader


def _read_to_done(reader: socket.socket) -> bytes:
    received = bytearray()
    deadline = time.monotonic() + 20
    while not received.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n") and time.monotonic() < deadline:
        chunk = reader.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    return bytes(received)


def _streams(endpoint: OfflineEndpoint) -> list[int]:
    """The statuses of the finished streamed requests (a request is logged once its answer is written)."""
    return [record.status for record in endpoint.requests if record.stream]


def test_a_stream_nobody_reads_waits_for_its_reader_and_others_are_served(long_answer_file: Path) -> None:
    with start_in_background(answer_files=[long_answer_file]) as endpoint:
        reader = _stream_request(endpoint.port)
        try:
            started = _wait_for(lambda: reader.recv(1, socket.MSG_PEEK) != b"", 5)
            time.sleep(0.5)
            streams_finished_unread = _streams(endpoint)
            other = httpx.get(f"{endpoint.url}/catalog/models", timeout=5)
            raw = _read_to_done(reader)
        finally:
            reader.close()
        finished_after_reading = _wait_for(lambda: _streams(endpoint) == [200], 5)

    assert started and other.status_code == 200
    # Still writing while unread: its answer is not sitting whole in the server's memory.
    assert streams_finished_unread == []
    assert finished_after_reading
    assert raw.count(LONG_WORD.encode()) == MAX_OUTPUT_TOKENS  # capped at the output limit
    assert b'"finish_reason": "length"' in raw


@pytest.mark.parametrize(("value", "length"), [
    ("0", 0), ("42", 42), ("007", 7), ("²", None), ("٣", None), ("-1", None), ("1e3", None), (" 4", None),
    ("", None), ("9" * 18, 10**18 - 1), ("9" * 19, TOO_LONG), ("9" * 5000, TOO_LONG), ("0" * 30 + "5", 5),
])
def test_content_length_is_read_as_ascii_digits_only(value: str, length: int | None) -> None:
    assert declared_length(value) == length


# --- the request log -------------------------------------------------------------------------


def _recorded_chars(record: RequestRecord) -> int:
    """The characters a record keeps of what the client chose; the rest of a record is fixed-size."""
    return len(record.method) + len(record.path) + len(record.model or "") + sum(map(len, record.auth_headers))


def test_the_request_log_is_bounded_in_bytes_not_only_in_count() -> None:
    bound = 16 + 2 * RECORDED_CHARS + len("Authorization") + len("api-key")
    huge_model = {"model": "m" * 1_000_000, "messages": [{"role": "user", "content": "Hi"}]}
    with start_in_background() as endpoint, \
            httpx.Client(base_url=endpoint.url, headers={"api-key": TEST_KEY}, timeout=10) as client:
        statuses = [client.post("/chat/completions", content=json.dumps(huge_model)).status_code for _ in range(10)]
        statuses += [client.get("/" + "p" * 4000).status_code for _ in range(10)]
        statuses += [client.request("X" * 2000, "/chat/completions").status_code for _ in range(10)]
        records = list(endpoint.requests)

    assert statuses == [404] * 20 + [405] * 10
    assert len(records) == 30
    assert max(map(_recorded_chars, records)) <= bound
    assert records[0].model.startswith("mmm") and records[10].path.startswith("/ppp")
    # So the whole log, full, keeps at most this much of what clients sent: about 3 MB.
    assert endpoint.requests.maxlen == REQUEST_LOG_LENGTH


# --- connections -----------------------------------------------------------------------------


def _closed_by_server(connection: socket.socket, seconds: float) -> bool:
    """Whether the server ends ``connection`` within ``seconds`` (what was sent before is read and dropped)."""
    connection.settimeout(seconds)
    try:
        while connection.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_connections_past_the_cap_are_closed_and_room_comes_back() -> None:
    with start_in_background(connection_limits=ConnectionLimits(max_connections=3)) as endpoint:
        held = [socket.create_connection(("127.0.0.1", endpoint.port)) for _ in range(3)]
        try:
            time.sleep(0.2)  # accepted in order: these three hold every place
            with socket.create_connection(("127.0.0.1", endpoint.port)) as extra:
                turned_away = _closed_by_server(extra, 2)
            held.pop().close()
            room_again = _wait_for(lambda: httpx.get(f"{endpoint.url}/catalog/models", timeout=2).status_code == 200, 3)
        finally:
            for connection in held:
                connection.close()

    assert turned_away
    assert room_again


def test_an_idle_keep_alive_connection_is_closed_after_idle_seconds() -> None:
    with start_in_background(connection_limits=ConnectionLimits(idle_seconds=0.5)) as endpoint, \
            socket.create_connection(("127.0.0.1", endpoint.port)) as connection:
        connection.sendall(b"GET /catalog/models HTTP/1.1\r\nHost: x\r\n\r\n")
        connection.settimeout(2)
        answered = connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        closed = _closed_by_server(connection, 5)
        idle_for = time.monotonic() - started

    assert answered and closed
    assert idle_for < 3


def test_a_client_that_stops_reading_a_stream_is_dropped_after_write_seconds(long_answer_file: Path) -> None:
    limits = ConnectionLimits(write_seconds=0.5)
    with start_in_background(answer_files=[long_answer_file], connection_limits=limits) as endpoint:
        reader = _stream_request(endpoint.port)
        try:
            time.sleep(2)  # not reading: the server's slice waits, then the server gives up
            raw = bytearray()
            with contextlib.suppress(ConnectionResetError):
                while chunk := reader.recv(1 << 20):
                    raw += chunk
        finally:
            reader.close()

    assert raw.startswith(b"HTTP/1.1 200 ")
    assert b"data: [DONE]" not in raw  # the server ended the connection before the answer was whole


# --- the rate limiter ------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limiter_forgets_keys_that_have_gone_quiet() -> None:
    clock = _Clock()
    limiter = RateLimiter(RateLimits.demo(3, window_seconds=1), clock=clock)

    for number in range(10_000):  # a new key every request, 100 a second
        with limiter.admit(f"key-{number}", TEST_MODEL):
            pass
        clock.now += 0.01
    during = (len(limiter), limiter.remembered_requests())
    clock.now += 5
    with limiter.admit("one-more", TEST_MODEL):
        pass

    # At most the keys of about two windows (the last one, and the one before the last sweep).
    assert during[0] <= 2 * 100 + 1 and during[1] <= 2 * 100 + 1
    assert len(limiter) == 1


def test_the_limiter_remembers_at_most_max_tracked_keys_even_within_a_day() -> None:
    clock = _Clock()
    limiter = RateLimiter(RateLimits.free_tier(), clock=clock, max_tracked=500)

    for number in range(10_000):  # a per-day window: nothing expires by itself
        with limiter.admit(f"key-{number}", TEST_MODEL):
            pass

    assert len(limiter) == 500
    assert limiter.remembered_requests() == 500 * 2  # one time per window, per-day and per-minute


def test_the_limiter_keeps_a_key_in_flight_whatever_else_arrives() -> None:
    clock = _Clock()
    limiter = RateLimiter(RateLimits(concurrent=1), clock=clock, max_tracked=10)

    with limiter.admit("busy", TEST_MODEL):
        for number in range(1_000):
            with limiter.admit(f"key-{number}", TEST_MODEL):
                pass
            clock.now += 1
        with pytest.raises(ApiError) as raised:
            limiter.admit("busy", TEST_MODEL).__enter__()

    assert raised.value.status == 429
    assert len(limiter) <= 11
