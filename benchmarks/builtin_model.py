"""How fast the built-in model (llama.cpp on the bundled SmolLM2-135M) starts and answers.

    .venv/bin/python benchmarks/builtin_model.py [--clients 20] [--seconds 30]

Prints figures, no verdicts: the time until ready, the first token and tokens per second through
the azure-ai-inference SDK beside a raw HTTP client on the same server, the server's memory, and a
workshop room (many streaming clients at once for a while). Everything runs on 127.0.0.1, every
loop is bounded in count and time, and the server it starts is always ended.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPOSITORY = Path(__file__).resolve().parents[1]
PROMPTS = [  # what a room of learners asks, roughly
    "Give me 5 good reasons why I should exercise every day.",
    "What is the capital of France?",
    "Explain what a token is, in two sentences.",
    "Write a short poem about the sea.",
]
STREAM_TOKENS = 128  # per answer in the SDK-versus-raw comparison
STREAM_ROUNDS = 6  # answers per client kind, taken in turn so both see the same load
ROOM_TOKENS = 64  # per answer in the room
REQUEST_TIMEOUT = 60.0  # seconds: no single request waits longer
# llama.cpp closes the connection after each streamed answer although it answered "Keep-Alive", so a
# client reusing it may get "Server disconnected" (the SDKs retry). The raw clients here reconnect
# for every request instead, so such errors are not counted as the server's.
NO_KEEP_ALIVE = httpx.Limits(max_keepalive_connections=0)
START_TIMEOUT = 60.0


@contextmanager
def standalone_server(*arguments: str) -> Iterator[tuple[subprocess.Popen[str], str, float]]:
    """``python -m builtin_model --port 0``: yield it, its base URL and the seconds until its banner; always end it."""
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "builtin_model", "--port", "0", *arguments], cwd=REPOSITORY,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = ""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("python -m builtin_model ended before it was ready")
            if line.startswith("Serving the chat completions API at "):
                base_url = line.rsplit(" ", 1)[1].strip()
            if line.startswith(("A key is required", "Any key or none")):  # the banner's last line
                break
        if not base_url:
            raise RuntimeError("python -m builtin_model printed no URL in time")
        yield process, base_url, time.perf_counter() - began
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_in_a_fresh_process() -> float:
    """Seconds ``start()`` takes in a new interpreter, model load and /health included (import excluded)."""
    code = ("import time, builtin_model\nbegan = time.perf_counter()\nmodel = builtin_model.start()\n"
            "print(time.perf_counter() - began)\nmodel.stop()\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True,
                            timeout=START_TIMEOUT, check=True)
    return float(result.stdout.strip())


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak, in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@dataclass
class Answer:
    first_token: float  # seconds from sending to the first piece of text
    tokens: int  # chunks with text (llama.cpp sends one token per chunk)
    generating: float  # seconds from the first to the last piece of text

    @property
    def tokens_per_second(self) -> float:
        return (self.tokens - 1) / self.generating if self.generating > 0 and self.tokens > 1 else 0.0


def azure_answer(client: object, prompt: str) -> Answer:
    from azure.ai.inference.models import UserMessage

    began = time.perf_counter()
    first = last = 0.0
    tokens = 0
    # ignore_eos (llama.cpp's) makes every answer STREAM_TOKENS long, so the two clients do equal work
    stream = client.complete(messages=[UserMessage(prompt)], max_tokens=STREAM_TOKENS, temperature=0, stream=True,
                             model_extras={"ignore_eos": True})
    for update in stream:
        if update.choices and update.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            tokens += 1
    stream.close()
    return Answer(first - began, tokens, last - first)


def raw_answer(client: httpx.Client, base_url: str, prompt: str) -> Answer:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": STREAM_TOKENS, "temperature": 0,
            "stream": True, "ignore_eos": True}
    began = time.perf_counter()
    first = last = 0.0
    tokens = 0
    with client.stream("POST", base_url + "/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            choices = json.loads(line[6:])["choices"]
            if choices and choices[0]["delta"].get("content"):
                last = time.perf_counter()
                first = first or last
                tokens += 1
    return Answer(first - began, tokens, last - first)


def sdk_versus_raw(base_url: str) -> tuple[list[Answer], list[Answer]]:
    from azure.ai.inference import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    azure, raw = [], []
    with ChatCompletionsClient(endpoint=base_url, credential=AzureKeyCredential("benchmark")) as sdk, \
            httpx.Client(trust_env=False, timeout=REQUEST_TIMEOUT, limits=NO_KEEP_ALIVE) as client:
        azure_answer(sdk, PROMPTS[0])  # warm up both paths
        raw_answer(client, base_url, PROMPTS[0])
        for round_number in range(STREAM_ROUNDS):
            # A number first, so neither client finds its prompt in the server's cache from the other's turn.
            prompt = f"Question {round_number}: {PROMPTS[round_number % len(PROMPTS)]}"
            azure.append(azure_answer(sdk, prompt))
            raw.append(raw_answer(client, base_url, "Raw " + prompt))
    return azure, raw


@dataclass
class Room:
    answers: list[Answer]
    errors: list[str]
    seconds: float


def workshop_room(base_url: str, clients: int, seconds: float) -> Room:
    """``clients`` learners each streaming one answer after another for ``seconds``."""
    answers: list[Answer] = []
    errors: list[str] = []

    async def learner(number: int, client: httpx.AsyncClient, deadline: float) -> None:
        asked = 0
        while time.monotonic() < deadline:
            prompt = PROMPTS[(number + asked) % len(PROMPTS)]
            asked += 1
            body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": ROOM_TOKENS, "stream": True}
            began = time.perf_counter()
            first = last = 0.0
            tokens = 0
            try:
                async with client.stream("POST", base_url + "/chat/completions", json=body) as response:
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                        continue
                    async for line in response.aiter_lines():
                        if line.startswith("data: {"):
                            choices = json.loads(line[6:])["choices"]
                            if choices and choices[0]["delta"].get("content"):
                                last = time.perf_counter()
                                first = first or last
                                tokens += 1
            except (httpx.HTTPError, json.JSONDecodeError) as error:
                errors.append(f"{type(error).__name__}: {error}")
                continue
            if tokens:
                answers.append(Answer(first - began, tokens, last - first))
            else:
                errors.append("empty answer")

    async def run() -> float:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)  # see NO_KEEP_ALIVE
        async with httpx.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT, limits=limits) as client:
            began = time.monotonic()
            deadline = began + seconds
            # Answers started before the deadline may finish after it, but never after this.
            await asyncio.wait_for(asyncio.gather(*(learner(n, client, deadline) for n in range(clients))),
                                   timeout=seconds + REQUEST_TIMEOUT + 5)
            return time.monotonic() - began

    elapsed = asyncio.run(run())
    return Room(answers, errors, elapsed)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="learners streaming at once (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the room lasts (default 30)")
    parser.add_argument("--threads", default="1", help="the server's --threads (default 1)")
    parser.add_argument("--parallel", default="4", help="the server's --parallel (default 4)")
    parser.add_argument("--context-size", default="4096", help="the server's --context-size (default 4096)")
    args = parser.parse_args()

    in_process = start_in_a_fresh_process()
    server_options = ("--threads", args.threads, "--parallel", args.parallel, "--context-size", args.context_size)
    with standalone_server(*server_options) as (process, base_url, banner):
        rss_idle, _ = memory_mib(process.pid)
        azure, raw = sdk_versus_raw(base_url)
        room = workshop_room(base_url, args.clients, args.seconds)
        rss_after, rss_peak = memory_mib(process.pid)

    def median(answers: list[Answer], figure: str) -> float:
        return statistics.median(getattr(answer, figure) for answer in answers)

    azure_ttft, raw_ttft = median(azure, "first_token"), median(raw, "first_token")
    azure_rate, raw_rate = median(azure, "tokens_per_second"), median(raw, "tokens_per_second")
    print(f"Built-in model, {args.threads} thread(s), {args.parallel} slots sharing {args.context_size} tokens; "
          "every figure is a median unless named")
    print(f"ready: start() in a fresh process {in_process:.2f} s; python -m builtin_model to its banner {banner:.2f} s")
    print(f"first token, {STREAM_TOKENS}-token answers: azure SDK {azure_ttft * 1000:.0f} ms, "
          f"raw httpx {raw_ttft * 1000:.0f} ms (ratio {azure_ttft / raw_ttft:.2f})")
    print(f"tokens per second: azure SDK {azure_rate:.1f}, raw httpx {raw_rate:.1f} "
          f"(ratio {azure_rate / raw_rate:.2f}; {STREAM_ROUNDS} answers each, taken in turn)")
    print(f"server memory (RSS): {rss_idle:.0f} MiB loaded and idle, {rss_after:.0f} MiB after the room, "
          f"peak {rss_peak:.0f} MiB")
    print(f"room: {args.clients} streaming clients for {args.seconds:g} s ({room.seconds:.1f} s with the last "
          f"answers), {ROOM_TOKENS} tokens at most per answer")
    if room.answers:
        ttfts = [answer.first_token for answer in room.answers]
        rates = [answer.tokens_per_second for answer in room.answers]
        total_tokens = sum(answer.tokens for answer in room.answers)
        print(f"  answers {len(room.answers)}, errors {len(room.errors)}"
              + (f" ({', '.join(sorted(set(room.errors)))})" if room.errors else ""))
        print(f"  first token p50 {percentile(ttfts, 0.5):.2f} s, p95 {percentile(ttfts, 0.95):.2f} s, "
              f"max {max(ttfts):.2f} s")
        print(f"  per client tokens/s p50 {percentile(rates, 0.5):.1f}, p5 {percentile(rates, 0.05):.1f}; "
              f"whole room {total_tokens / room.seconds:.1f} tokens/s")
    else:
        print(f"  no answer at all; errors {len(room.errors)}: {', '.join(sorted(set(room.errors)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
