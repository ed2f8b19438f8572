"""How fast the offline endpoint answers, beside a minimal canned server (the floor).

    .venv/bin/python benchmarks/endpoint.py

Both servers run as their own processes on 127.0.0.1 (as a learner runs the endpoint), so the
client does not share a GIL with them. Prints one table and stops by itself. Targets (issue 2):
SDK latency at most 1.2 times the floor's, at least 500 requests per second with 8 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
# Benchmark-only answers (the 2,000-token one): the endpoint loads them only when told to.
ANSWERS = Path(__file__).resolve().parent / "answers.toml"
LONG_PROMPT = "Benchmark: write a long answer of 2,000 tokens."
LONG_STREAM_CALLS = 20
MODEL = "Phi-3-small-8k-instruct"
PROMPT = "What is the capital of France?"
WARM_UP_CALLS = 20
LATENCY_CALLS = 400
STREAM_CALLS = 100
CONCURRENT_CLIENTS = 8
REQUESTS_PER_CLIENT = 150
THROUGHPUT_ROUNDS = 3
LATENCY_TARGET = 1.2
THROUGHPUT_TARGET = 500

CANNED_ANSWER = {
    "id": "chatcmpl-canned", "object": "chat.completion", "created": 1_700_000_000, "model": MODEL,
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "The capital of France is Paris.", "tool_calls": None}}],
    "usage": {"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21},
}


def serve_canned() -> None:
    """The floor: a minimal tornado app answering every POST with the same completion."""
    from tornado import ioloop, web

    body = json.dumps(CANNED_ANSWER)

    class Canned(web.RequestHandler):
        def post(self, *_: str) -> None:
            self.set_header("Content-Type", "application/json")
            self.finish(body)

    app = web.Application([(r"/.*", Canned)], log_function=lambda handler: None)
    server = app.listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    print(f"Canned server listening on http://127.0.0.1:{port}", flush=True)
    try:
        ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        pass


@contextmanager
def server_process(*args: str) -> Iterator[str]:
    """Run a server as a child process; yield the URL it prints; always end it."""
    process = subprocess.Popen([sys.executable, *args], cwd=REPOSITORY, stdout=subprocess.PIPE, text=True)
    try:
        match = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        if not match:
            raise RuntimeError(f"{args} did not print its URL")
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def sdk_latencies_ms(*urls: str) -> list[float]:
    """Median time of a non-streamed SDK call to each URL, the calls interleaved so each sees the same load."""
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import UserMessage
    from azure.core.credentials import AzureKeyCredential

    messages = [UserMessage(content=PROMPT)]
    clients = [ChatCompletionsClient(endpoint=url, credential=AzureKeyCredential("benchmark"), model=MODEL)
               for url in urls]
    times: list[list[float]] = [[] for _ in urls]
    try:
        for call in range(WARM_UP_CALLS + LATENCY_CALLS):
            for client, client_times in zip(clients, times, strict=True):
                start = time.perf_counter()
                client.complete(messages=messages, retry_total=0)
                if call >= WARM_UP_CALLS:
                    client_times.append(time.perf_counter() - start)
    finally:
        for client in clients:
            client.close()
    return [statistics.median(client_times) * 1000 for client_times in times]


def time_to_first_token_ms(url: str) -> float:
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import UserMessage
    from azure.core.credentials import AzureKeyCredential

    messages = [UserMessage(content="Give me 5 good reasons why I should exercise every day.")]
    times = []
    with ChatCompletionsClient(endpoint=url, credential=AzureKeyCredential("benchmark"), model=MODEL) as client:
        for _ in range(STREAM_CALLS):
            start = time.perf_counter()
            stream = client.complete(stream=True, messages=messages, retry_total=0)
            for update in stream:
                if update.choices and update.choices[0].delta.content:
                    times.append(time.perf_counter() - start)
                    break
            stream.close()
    return statistics.median(times[WARM_UP_CALLS:]) * 1000


def long_stream_ms(url: str) -> float:
    """Median time to receive the whole 2,000-token streamed answer, raw (no SDK), in ms."""
    import httpx

    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": LONG_PROMPT}]}
    times = []
    with httpx.Client(headers={"Authorization": "Bearer benchmark"}, timeout=30) as client:
        for _ in range(LONG_STREAM_CALLS):
            start = time.perf_counter()
            events = client.post(f"{url}/chat/completions", json=body).text.count("data: ")
            times.append(time.perf_counter() - start)
            if events < 2000:
                raise RuntimeError(f"the long answer came in {events} events: is {ANSWERS.name} loaded?")
    return statistics.median(times[2:]) * 1000


def requests_per_second(*urls: str) -> list[float]:
    """Requests per second with 8 concurrent aiohttp clients, for each URL: the best of rounds taken in turn."""
    import aiohttp

    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]})
    headers = {"Authorization": "Bearer benchmark", "Content-Type": "application/json"}

    async def client(session: aiohttp.ClientSession, url: str, count: int) -> None:
        for _ in range(count):
            async with session.post(f"{url}/chat/completions", data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")

    async def rate(session: aiohttp.ClientSession, url: str) -> float:
        start = time.perf_counter()
        await asyncio.gather(*(client(session, url, REQUESTS_PER_CLIENT) for _ in range(CONCURRENT_CLIENTS)))
        return CONCURRENT_CLIENTS * REQUESTS_PER_CLIENT / (time.perf_counter() - start)

    async def run() -> list[float]:
        best = [0.0] * len(urls)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENT_CLIENTS)) as session:
            for url in urls:  # warm up
                await asyncio.gather(*(client(session, url, 20) for _ in range(CONCURRENT_CLIENTS)))
            for _ in range(THROUGHPUT_ROUNDS):
                for index, url in enumerate(urls):
                    best[index] = max(best[index], await rate(session, url))
        return best

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canned-server", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args().canned_server:
        serve_canned()
        return 0

    with server_process("-m", "offline_endpoint", "--port", "0", "--answers", str(ANSWERS)) as offline, \
            server_process(__file__, "--canned-server") as canned:
        offline_ms, canned_ms = sdk_latencies_ms(offline, canned)
        ttft_ms = time_to_first_token_ms(offline)
        long_ms = long_stream_ms(offline)
        offline_rps, canned_rps = requests_per_second(offline, canned)

    ratio = offline_ms / canned_ms
    ratio_verdict = "ok" if ratio <= LATENCY_TARGET else "MISSED"
    rows = [
        ("SDK call, median (ms)", f"{offline_ms:.2f}", f"{canned_ms:.2f}", ""),
        ("  ratio to the floor", f"{ratio:.2f}", "", f"<= {LATENCY_TARGET} {ratio_verdict}"),
        ("Streamed first token, median (ms)", f"{ttft_ms:.2f}", "", ""),
        ("2,000-token stream, whole, median (ms)", f"{long_ms:.1f}", "", ""),
        (f"Requests/s, {CONCURRENT_CLIENTS} aiohttp clients", f"{offline_rps:.0f}", f"{canned_rps:.0f}",
         f">= {THROUGHPUT_TARGET} {'ok' if offline_rps >= THROUGHPUT_TARGET else 'MISSED'}"),
    ]
    header = ("", "offline endpoint", "canned floor", "target")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
