"""Fuzzed raw HTTP requests against the offline endpoint: counts 5xx, hangs and resets (all should be 0).

    .venv/bin/python benchmarks/fuzz.py                  # 10,000 requests, seed 1
    .venv/bin/python benchmarks/fuzz.py --requests 2000 --seed 7

The endpoint runs as its own process on 127.0.0.1 with timeouts of 2 s, so a request that stalls
(a head never finished, a body shorter than announced) is settled well within the 5 s this
client waits. Each request is a valid one (chat, streamed chat, catalog) bent by one to three
mutations: flipped, inserted, deleted or cut bytes, a hostile header, odd framing, an odd request
line. Each goes on a new connection; 64 are in flight at once. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from collection_tools.raw_http import complete_response

REPOSITORY = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 5.0
IN_FLIGHT = 64
MODEL = "Phi-3-small-8k-instruct"

_CHAT = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "What is the capital of France?"}]})
_EXERCISE = "Give me 5 good reasons why I should exercise every day."
_STREAM = json.dumps({"model": MODEL, "stream": True, "messages": [{"role": "user", "content": _EXERCISE}]})


def _post(path: str, body: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


BASES = [
    _post("/chat/completions", _CHAT),
    _post("/inference/chat/completions", _STREAM),
    b"GET /catalog/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\napi-key: fuzz\r\n\r\n",
]
HOSTILE_HEADERS = [
    b"Content-Length: \xc2\xb2", b"Content-Length: " + b"9" * 5000, b"Content-Length: -1", b"Content-Length: 1, 2",
    b"Content-Length: 0x20", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: chunked, x",
    b"X-Nul: a\x00b", b"No colon here", b" folded: line", b"Host: second", b"Host: a b", b"Expect: 100-continue",
    b"api-key: " + b"k" * 70_000, b"X-Many: v\r\n" * 150 + b"X-End: v", b"Connection: close", b"Connection: keep-alive",
    b"x-offline-fault: server_error", b"x-offline-fault: slow", b"Authorization: Bearer \xff\xfe",
    b"Content-Type: application/json; charset=utf-16", b"X-Latin: \xe9t\xe9", b"Content-Encoding: gzip",
]
REQUEST_LINES = [
    b"GET / HTTP/1.1", b"BREW /chat/completions HTTP/1.1", b"POST /chat/completions HTTP/2.0",
    b"POST /chat/completions", b"POST  /chat/completions HTTP/1.1", b"POST /\xff\xfe HTTP/1.1",
    b"POST /" + b"a" * 10_000 + b" HTTP/1.1", b"POST http://elsewhere/chat/completions HTTP/1.1",
    b"POST /chat/completions?api-version=%zz HTTP/1.1", b"OPTIONS * HTTP/1.1", b"POST /chat/completions HTTP/1.0",
]


def mutate(request: bytes, rng: random.Random) -> bytes:
    data = bytearray(request)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["flip", "insert", "delete", "cut", "header", "line", "chunked", "length", "body"])
        position = rng.randrange(len(data) + 1)
        if kind == "flip" and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif kind == "insert":
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == "delete":
            del data[position:position + rng.randint(1, 16)]
        elif kind == "cut":
            del data[position:]
        elif kind == "header" and b"\r\n" in data:
            at = data.index(b"\r\n") + 2
            data[at:at] = rng.choice(HOSTILE_HEADERS) + b"\r\n"
        elif kind == "line" and b"\r\n" in data:
            data[: data.index(b"\r\n")] = rng.choice(REQUEST_LINES)
        elif kind == "chunked" and b"\r\n\r\n" in data:
            head, body = bytes(data).split(b"\r\n\r\n", 1)
            head = re.sub(rb"Content-Length: [^\r]*\r\n?", b"", head)
            chunks = [f"{rng.choice([len(body), len(body) + 3, 0])}".encode(), f"{len(body):x}".encode(),
                      b"zz", b"0" * 80 + b"1"]
            data = bytearray(head + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + rng.choice(chunks) + b"\r\n" + body
                             + rng.choice([b"\r\n0\r\n\r\n", b"0\r\n\r\n", b"\r\n", b""]))
        elif kind == "length":
            data = bytearray(re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % rng.randint(0, 400), bytes(data)))
        elif kind == "body" and b"\r\n\r\n" in data:
            head = bytes(data).split(b"\r\n\r\n", 1)[0]
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
            head = re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(body), head)
            data = bytearray(head + b"\r\n\r\n" + body)
    return bytes(data)


def _why_unanswerable(request: bytes) -> str:
    """Which of the documented cases tornado closes without an answer ``request`` is, if any."""
    blank_line = re.search(rb"\r?\n\r?\n", request)
    if not blank_line:
        return "head never ended"  # the idle timeout
    head, body = request[: blank_line.start()], request[blank_line.end():]
    if re.search(rb"transfer-encoding:\s*chunked", head, re.IGNORECASE) and b"\r\n" not in body[:66]:
        return "chunk-size line > 64 B"  # tornado's IOStream gives up on the line
    return "UNEXPECTED"


async def send(port: int, request: bytes) -> str:
    """How one request ended: a status class, "closed" or "reset" with no answer, or "hang"."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "connect failed"
    deadline = time.monotonic() + WAIT_SECONDS
    data = b""
    outcome = "hang"
    try:
        writer.write(request)
        try:
            await asyncio.wait_for(writer.drain(), WAIT_SECONDS)
        except (OSError, TimeoutError):
            pass  # refused before it was all sent: the answer may still be there to read
        while (answer := complete_response(data)) is None:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            except ConnectionResetError:
                outcome = "reset"
                break
            if not chunk:
                outcome = "closed"
                answer = complete_response(data, closed=True)
                break
            data += chunk
    finally:
        writer.transport.abort()
    if answer is None:
        if outcome == "closed":
            return f"closed: {_why_unanswerable(request)}"
        return outcome
    status, _, body = answer
    if 400 <= status < 500:
        try:
            error = json.loads(body)["error"]
            shaped = isinstance(error["code"], str) and isinstance(error["message"], str)
        except (ValueError, KeyError, TypeError):
            shaped = False
        return "4xx" if shaped else "4xx without the error shape"
    return f"{status // 100}xx"


async def fuzz(port: int, requests: list[bytes]) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(request: bytes) -> None:
        async with gate:
            counts[await send(port, request)] += 1

    await asyncio.gather(*(one(request) for request in requests))
    return counts


def serve() -> None:
    from offline_endpoint import ConnectionLimits, start_in_background

    limits = ConnectionLimits(idle_seconds=2, body_seconds=2, write_seconds=2)
    with start_in_background(port=0, connection_limits=limits, allow_fault_header=False) as endpoint:
        print(endpoint.url, flush=True)
        sys.stdin.read()  # until the parent closes it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve()
        return 0

    rng = random.Random(arguments.seed)
    requests = [mutate(rng.choice(BASES), rng) for _ in range(arguments.requests)]
    server = subprocess.Popen([sys.executable, __file__, "--serve"], cwd=REPOSITORY, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().rsplit(":", 1)[1])
        started = time.perf_counter()
        counts = asyncio.run(fuzz(port, requests))
        seconds = time.perf_counter() - started
        alive = asyncio.run(send(port, BASES[0])) == "2xx"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log = server.stderr.read()

    print(f"{arguments.requests} fuzzed requests (seed {arguments.seed}) in {seconds:.1f} s, {IN_FLIGHT} at a time")
    for outcome, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {outcome:<32} {count:>6}")
    print(f"  {'5xx':<32} {sum(n for o, n in counts.items() if o == '5xx'):>6}")
    print(f"  {'hangs (no answer in 5 s)':<32} {counts['hang']:>6}")
    print(f"  {'resets with no answer':<32} {counts['reset']:>6}")
    print("(closed: the connection ended with no answer, see offline_endpoint/README.md, Connections)")
    print(f"server answered a plain request afterwards: {'yes' if alive else 'NO'}")
    print(f"tracebacks in the server's log: {server_log.count('Traceback')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
