"""What one request, one client or many can make the endpoint hold or write is bounded."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import TEST_KEY, TEST_MODEL
from offline_endpoint import OfflineEndpoint, start_in_background
from offline_endpoint.catalog import MAX_OUTPUT_TOKENS
from offline_endpoint.validation import TOO_LONG, declared_length

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
