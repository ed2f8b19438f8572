"""A soak test of the offline endpoint: many streaming clients for a minute. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/soak.py                          # 50 clients, 60 s
    .venv/bin/python benchmarks/soak.py --clients 20 --seconds 30

The endpoint runs as its own process on 127.0.0.1 (the standalone command, with the benchmark's
answers). Each client streams answers back to back on its own keep-alive connection: nine in
ten the 137-token exercise answer, one in ten the 2,000-token benchmark answer, every one read
to `data: [DONE]`. Each client sends its own key, so the limiter and the request log see 50
users. Printed: the server's RSS every 10 s, requests, requests/s, latency (request to
`[DONE]`) p50 and p99 per answer size, and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
ANSWERS = Path(__file__).resolve().parent / "answers.toml"
MODEL = "Phi-3-small-8k-instruct"
SHORT = "Give me 5 good reasons why I should exercise every day."
LONG = "Benchmark: write a long answer of 2,000 tokens."
RSS_EVERY_SECONDS = 10


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def soak(url: str, clients: int, seconds: float, pid: int) -> tuple[dict[str, list[float]], list[str], list]:
    import aiohttp

    latencies: dict[str, list[float]] = {"short": [], "long": []}
    errors: list[str] = []
    rss: list[tuple[float, float]] = []
    started = time.monotonic()
    end = started + seconds

    async def client(number: int) -> None:
        headers = {"Authorization": f"Bearer soak-client-{number}"}
        async with aiohttp.ClientSession(base_url=url, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=60)) as session:
            request = 0
            while time.monotonic() < end:
                size = "long" if (request + number) % 10 == 0 else "short"
                body = {"model": MODEL, "stream": True,
                        "messages": [{"role": "user", "content": LONG if size == "long" else SHORT}]}
                request += 1
                sent = time.perf_counter()
                try:
                    async with session.post("/chat/completions", data=json.dumps(body)) as response:
                        text = await response.text()
                    if response.status != 200 or not text.endswith("data: [DONE]\n\n"):
                        errors.append(f"HTTP {response.status}, {len(text)} characters")
                        continue
                except (aiohttp.ClientError, TimeoutError) as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    continue
                latencies[size].append(time.perf_counter() - sent)

    async def watch() -> None:
        while time.monotonic() < end:
            rss.append((time.monotonic() - started, rss_mb(pid)))
            await asyncio.sleep(min(RSS_EVERY_SECONDS, max(0.0, end - time.monotonic())))
        rss.append((time.monotonic() - started, rss_mb(pid)))

    await asyncio.gather(watch(), *(client(number) for number in range(clients)))
    return latencies, errors, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    arguments = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-m", "offline_endpoint", "--port", "0", "--answers", str(ANSWERS)],
                              cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split()[-1]
        latencies, errors, rss = asyncio.run(soak(url, arguments.clients, arguments.seconds, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=15)
        server_log = server.stderr.read()

    done = sum(len(values) for values in latencies.values())
    print(f"{arguments.clients} streaming clients for {arguments.seconds:g} s against {url}")
    print("server RSS (MB): " + ", ".join(f"{mb:.0f} at {at:.0f} s" for at, mb in rss))
    print(f"requests answered whole: {done} ({done / arguments.seconds:.0f}/s), errors: {len(errors)}")
    for size, label in (("short", "137 tokens"), ("long", "2,000 tokens")):
        values = latencies[size]
        if values:
            print(f"  {label:>12}: {len(values):>6} requests, latency p50 {statistics.median(values) * 1000:7.1f} ms, "
                  f"p99 {percentile(values, 0.99) * 1000:7.1f} ms")
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error} (x{errors.count(error)})")
    print(f"tracebacks in the server's log: {server_log.count('Traceback')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
