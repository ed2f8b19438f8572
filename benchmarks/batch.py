"""How close a paced batch (lesson 11) comes to the rate limit's ceiling, and what a cached re-run costs.

    .venv/bin/python benchmarks/batch.py              # both SDKs, 150 prompts each (about 25 s)
    .venv/bin/python benchmarks/batch.py --prompts 300

The offline endpoint runs in this process (its request log is what counts) with the free tier's
limits, 15 requests a minute and 5 at once, the minute shrunk to a second as in the lesson, so a
run takes seconds.
Each SDK's async client sends the batch through an asyncio.Semaphore(5) and an AsyncRequestPacer,
with the SDK's own retries off, so any 429 would reach the batch's code. Figures, no pass/fail:

- throughput as a ratio to the ceiling: N requests at R per window W cannot end sooner than
  (ceil(N/R) - 1) * W after the first; the ratio is that over the time the endpoint took from the
  first answer to the last (target at least 0.9). The pacer counts a request from its end, so each
  window opens about one request's latency late: the shorter the window, the more that costs
  (a real minute: almost nothing);
- 429s: answered by the endpoint, and reaching the batch's code (target 0);
- the same batch again from the answer cache: requests sent (target 0) and time;
- for comparison, the batch with the semaphore alone: how many the endpoint refuses.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai
from azure.ai.inference.aio import ChatCompletionsClient
from azure.ai.inference.models import UserMessage
from azure.core.credentials import AzureKeyCredential
from chat_helpers import AnswerCache, AsyncRequestPacer, most_in_any_window

from offline_endpoint import RateLimits, start_in_background

ROOT = Path(__file__).resolve().parent.parent

MODEL = "Phi-3-mini-4k-instruct"
KEY = "benchmark-key"
PER_WINDOW, WINDOW_SECONDS, AT_ONCE = 15, 1.0, 5  # the free tier's 15 a minute and 5 at once, 60 times faster
COUNTRIES = ("Argentina Australia Austria Belgium Brazil Canada Chile China Colombia Croatia Czechia Denmark "
             "Egypt Estonia Finland France Germany Ghana Greece Hungary Iceland India Indonesia Ireland Italy "
             "Japan Kenya Latvia Lithuania Mexico Morocco Nepal Netherlands Nigeria Norway Peru Philippines "
             "Poland Portugal Romania Senegal Spain Sweden Switzerland Thailand Turkey Ukraine Vietnam Malta "
             "Oman").split()
WORDINGS = ("What is the capital of {}?", "Which city is the capital of {}?", "Name the capital of {}.",
            "Capital of {}?", "In one word, the capital of {}?", "Tell me the capital city of {}.")

Ask = Callable[[str], Awaitable[str]]


def prompts(count: int) -> list[str]:
    every = [wording.format(country) for wording in WORDINGS for country in COUNTRIES]
    if count > len(every):
        raise SystemExit(f"at most {len(every)} distinct prompts")
    return every[:count]


def client_for(sdk: str, url: str) -> tuple[Ask, Callable[[], Awaitable[None]]]:
    """``ask(prompt)`` through the SDK's async client, its retries off; and the client's close."""
    if sdk == "openai":
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)

        async def ask(prompt: str) -> str:
            response = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt}])
            return response.choices[0].message.content
        return ask, client.close

    azure = ChatCompletionsClient(endpoint=url, credential=AzureKeyCredential(KEY))

    async def ask_azure(prompt: str) -> str:
        response = await azure.complete(messages=[UserMessage(content=prompt)], model=MODEL, retry_total=0)
        return response.choices[0].message.content
    return ask_azure, azure.close


async def batch(questions: list[str], ask: Ask, pacer: AsyncRequestPacer | None,
                cache: AnswerCache | None) -> list[object]:
    """Lesson 11's batch: a semaphore, the pacer if given, the cache if given; one result per prompt."""
    at_once = asyncio.Semaphore(AT_ONCE)

    async def one(question: str) -> str:
        key = cache.key(MODEL, [{"role": "user", "content": question}]) if cache is not None else ""
        if cache is not None and (answer := cache.get(key)) is not None:
            return answer
        async with at_once:
            if pacer is None:
                answer = await ask(question)
            else:
                async with pacer:
                    answer = await ask(question)
        if cache is not None:
            cache.put(key, answer)
        return answer

    return await asyncio.gather(*(one(question) for question in questions), return_exceptions=True)


def refused(results: list[object]) -> int:
    return sum(1 for result in results if getattr(result, "status_code", None) == 429)


async def measure(sdk: str, questions: list[str]) -> dict[str, str]:
    limits = RateLimits.demo(PER_WINDOW, window_seconds=WINDOW_SECONDS, concurrent=AT_ONCE)
    figures: dict[str, str] = {}
    with start_in_background(limits=limits) as endpoint, tempfile.TemporaryDirectory() as folder:
        ask, close = client_for(sdk, endpoint.url)
        try:
            cache = AnswerCache(Path(folder) / "answer_cache")
            pacer = AsyncRequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)
            started = time.perf_counter()
            results = await batch(questions, ask, pacer, cache)
            wall = time.perf_counter() - started
            records = list(endpoint.requests)
            finished = sorted(record.at for record in records)
            best = (math.ceil(len(questions) / PER_WINDOW) - 1) * WINDOW_SECONDS
            statuses = Counter(record.status for record in records)
            figures["paced batch, wall time"] = f"{wall:.2f} s"
            figures["floor set by the limit"] = f"{best:.2f} s"
            figures["ratio to the ceiling"] = f"{best / (finished[-1] - finished[0]):.3f}"
            figures["429 answered by the endpoint"] = str(statuses[429])
            figures["429 reaching the batch's code"] = str(refused(results))
            figures["answers"] = f"{sum(isinstance(r, str) for r in results)} of {len(questions)}"
            figures["most in any window (limit)"] = f"{most_in_any_window(finished, WINDOW_SECONDS)} ({PER_WINDOW})"

            before = len(endpoint.requests)
            started = time.perf_counter()
            again = await batch(questions, ask, pacer, cache)
            figures["cached re-run, requests sent"] = str(len(endpoint.requests) - before)
            figures["cached re-run, wall time"] = f"{(time.perf_counter() - started) * 1000:.1f} ms"
            figures["cached re-run, same answers"] = "yes" if again == results else "NO"
        finally:
            await close()

    with start_in_background(limits=limits) as endpoint:  # fresh: the paced run's requests do not count
        ask, close = client_for(sdk, endpoint.url)
        try:
            results = await batch(questions, ask, pacer=None, cache=None)
        finally:
            await close()
        figures["semaphore alone: 429 of the batch"] = f"{refused(results)} of {len(questions)}"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=150, help="prompts per batch (default 150)")
    args = parser.parse_args()
    questions = prompts(args.prompts)
    print(f"{len(questions)} prompts; limits {PER_WINDOW} per {WINDOW_SECONDS} s and {AT_ONCE} at once "
          "(the free tier's 15 a minute and 5 at once, 60 times faster)\n")
    columns = {sdk: asyncio.run(measure(sdk, questions)) for sdk in ("openai", "azure-ai-inference")}
    rows = [["measurement", *columns]] + [[name, *(figures[name] for figures in columns.values())]
                                          for name in next(iter(columns.values()))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print("\nTargets: ratio to the ceiling at least 0.9; 0 × 429 reaching the batch's code; 0 requests "
          "for the cached re-run.")


if __name__ == "__main__":
    main()
