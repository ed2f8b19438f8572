"""Many prompts (lesson 11) through both SDKs' async clients: a batch paced by a semaphore and an
AsyncRequestPacer stays within the limits the endpoint enforces (counted server-side), keeps
each prompt's failure without losing the others, and a re-run from the answer cache sends nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import openai
import pytest
from azure.ai.inference.aio import ChatCompletionsClient as AsyncChatCompletionsClient
from azure.ai.inference.models import UserMessage
from azure.core.credentials import AzureKeyCredential
from chat_helpers import (
    AnswerCache,
    AsyncRequestPacer,
    Connection,
    async_inference_client,
    async_openai_client,
    most_in_any_window,
)

from offline_endpoint import OfflineEndpoint, RateLimits, start_in_background
from tests.support import TEST_KEY, TEST_MODEL

SDKS = ["azure-ai-inference", "openai"]
# Small limits so a batch takes under a second: 6 a quarter-second, 3 at once.
PER_WINDOW, WINDOW_SECONDS, AT_ONCE = 6, 0.25, 3
COUNTRIES = ["Japan", "Kenya", "Peru", "Chile", "Egypt", "Ghana", "Nepal", "Norway", "Poland", "Spain",
             "Sweden", "Turkey", "Ukraine", "Vietnam", "Greece", "Iceland", "India", "Ireland", "Italy", "Latvia"]
QUESTIONS = [f"What is the capital of {country}?" for country in COUNTRIES]
# The lesson's failures: a document too long for the model (413), and a question the content filter
# blocks (the practice endpoint's filter is switched on by a header).
TOO_LONG = "Summarize this report in one sentence: " + "The quarterly figures were in line with expectations. " * 900
BLOCKED = "Describe the battle in graphic detail."
FAULTS = {BLOCKED: "content_filter"}

Ask = Callable[[str], Awaitable[str]]


@pytest.fixture
def limited() -> Iterator[OfflineEndpoint]:
    """A fresh endpoint enforcing the small limits, so no earlier request counts."""
    with start_in_background(limits=RateLimits.demo(PER_WINDOW, window_seconds=WINDOW_SECONDS,
                                                    concurrent=AT_ONCE)) as endpoint:
        yield endpoint


def asker(sdk: str, endpoint: OfflineEndpoint, stack: AsyncExitStack) -> Ask:
    """``ask(question)``: one request with the SDK's own retries off, so a 429 reaches the caller."""
    if sdk == "openai":
        client = openai.AsyncOpenAI(base_url=endpoint.url + "/v1", api_key=TEST_KEY, max_retries=0)
        stack.push_async_callback(client.close)

        async def ask(question: str) -> str:
            headers = {"x-offline-fault": FAULTS[question]} if question in FAULTS else None
            response = await client.chat.completions.create(
                model=TEST_MODEL, messages=[{"role": "user", "content": question}], extra_headers=headers)
            return response.choices[0].message.content
        return ask

    azure = AsyncChatCompletionsClient(endpoint=endpoint.url, credential=AzureKeyCredential(TEST_KEY))
    stack.push_async_callback(azure.close)

    async def ask_azure(question: str) -> str:
        headers = {"x-offline-fault": FAULTS[question]} if question in FAULTS else None
        response = await azure.complete(messages=[UserMessage(content=question)], model=TEST_MODEL,
                                        retry_total=0, headers=headers)
        return response.choices[0].message.content
    return ask_azure


async def ask_all(questions: list[str], ask: Ask) -> list[Any]:
    """The lesson's batch: every question at once through ``ask``; an answer or an exception each, in order."""
    return await asyncio.gather(*(ask(question) for question in questions), return_exceptions=True)


def paced(ask: Ask, pacer: AsyncRequestPacer | None, at_once: asyncio.Semaphore) -> Ask:
    async def ask_paced(question: str) -> str:
        async with at_once:
            if pacer is None:
                return await ask(question)
            async with pacer:
                return await ask(question)
    return ask_paced


def cached(ask: Ask, cache: AnswerCache) -> Ask:
    async def ask_cached(question: str) -> str:
        key = cache.key(TEST_MODEL, [{"role": "user", "content": question}])
        if (answer := cache.get(key)) is not None:
            return answer
        answer = await ask(question)
        cache.put(key, answer)
        return answer
    return ask_cached


def status(result: Any) -> int:
    return 200 if isinstance(result, str) else getattr(result, "status_code", 0)


async def run(sdk: str, endpoint: OfflineEndpoint, questions: list[str], pacer: AsyncRequestPacer | None,
              cache: AnswerCache | None = None) -> list[Any]:
    async with AsyncExitStack() as stack:
        ask = paced(asker(sdk, endpoint, stack), pacer, asyncio.Semaphore(AT_ONCE))
        return await ask_all(questions, cached(ask, cache) if cache is not None else ask)


# --- within the limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_a_paced_batch_gets_every_answer_within_the_limits_the_server_counts(limited: OfflineEndpoint,
                                                                             sdk: str) -> None:
    pacer = AsyncRequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)

    results = asyncio.run(run(sdk, limited, QUESTIONS, pacer))

    assert [status(result) for result in results] == [200] * len(QUESTIONS)
    assert results[0] == "The capital of Japan is Tokyo." and results[-1] == "The capital of Latvia is Riga."
    seen = list(limited.requests)
    assert [record.status for record in seen] == [200] * len(QUESTIONS)  # each sent once, none refused
    assert most_in_any_window([record.at for record in seen], WINDOW_SECONDS) == PER_WINDOW


@pytest.mark.parametrize("sdk", SDKS)
def test_the_same_batch_with_the_semaphore_alone_meets_the_rate_limit(limited: OfflineEndpoint, sdk: str) -> None:
    # The control for the test above: without the pacer, the endpoint refuses, so that test can fail.
    results = asyncio.run(run(sdk, limited, QUESTIONS, pacer=None))

    statuses = Counter(status(result) for result in results)
    assert statuses[429] > 0 and statuses[200] >= PER_WINDOW
    refused = next(result for result in results if status(result) == 429)
    assert "exceeded for UserByModelByMinute" in str(refused)  # the rate, not the concurrency


def test_the_pacer_keeps_its_concurrency_and_its_rate_for_tasks_of_one_loop() -> None:
    pacer = AsyncRequestPacer(requests=4, per_seconds=0.3, concurrent=2)
    in_flight, most, started = [0], [0], []

    async def request(_: int) -> None:
        async with pacer:
            started.append(time.monotonic())
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            await asyncio.sleep(0.02)
            in_flight[0] -= 1

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(10)))

    asyncio.run(main())
    assert most[0] == 2  # bounded, and not needlessly one by one
    assert most_in_any_window(started, 0.3) <= 4
    assert len(started) == 10


def test_a_pacer_made_in_one_event_loop_works_in_the_next() -> None:
    # A notebook makes the pacer in one cell; a script may call asyncio.run twice.
    pacer = AsyncRequestPacer(requests=2, per_seconds=0.1)

    async def two() -> None:
        for _ in range(2):
            async with pacer:
                pass

    asyncio.run(two())
    asyncio.run(two())


@pytest.mark.parametrize("arguments", [{"requests": 0}, {"requests": 1, "per_seconds": 0},
                                       {"requests": 1, "concurrent": 0}])
def test_a_pacer_that_could_never_send_is_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AsyncRequestPacer(**arguments)


# --- failures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_failures_are_kept_per_prompt_and_every_other_answer_arrives(limited: OfflineEndpoint, sdk: str) -> None:
    questions = [*QUESTIONS[:4], TOO_LONG, *QUESTIONS[4:8], BLOCKED, *QUESTIONS[8:10]]
    pacer = AsyncRequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)

    results = asyncio.run(run(sdk, limited, questions, pacer))

    assert len(results) == len(questions)
    assert [status(r) for r in results] == [200] * 4 + [413] + [200] * 4 + [400] + [200] * 2
    assert results[5] == "The capital of Egypt is Cairo."  # answers stay with their questions
    assert [record.status for record in limited.requests].count(200) == 10  # nothing lost, nothing sent twice
    assert len(limited.requests) == len(questions)


# --- the cache --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_a_re_run_from_the_cache_sends_no_request_and_gives_the_same_answers(
        limited: OfflineEndpoint, sdk: str, tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "answer_cache")
    pacer = AsyncRequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)

    first = asyncio.run(run(sdk, limited, QUESTIONS, pacer, cache))
    sent_first = len(limited.requests)
    again = asyncio.run(run(sdk, limited, QUESTIONS, pacer, cache))

    assert sent_first == len(QUESTIONS) and len(cache) == len(QUESTIONS)
    assert len(limited.requests) == sent_first  # the re-run: 0 requests
    assert again == first


def test_failures_are_not_cached_so_a_re_run_asks_only_them_again(limited: OfflineEndpoint, tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path)
    questions = [*QUESTIONS[:3], BLOCKED]
    pacer = AsyncRequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)
    asyncio.run(run("openai", limited, questions, pacer, cache))

    asyncio.run(run("openai", limited, questions, pacer, cache))

    assert len(limited.requests) == 4 + 1


def test_the_key_changes_with_the_model_the_messages_and_the_parameters() -> None:
    messages = [{"role": "user", "content": "What is the capital of Japan?"}]
    key = AnswerCache.key(TEST_MODEL, messages)

    assert AnswerCache.key(TEST_MODEL, [{"content": "What is the capital of Japan?", "role": "user"}]) == key
    assert AnswerCache.key(TEST_MODEL, [UserMessage(content="What is the capital of Japan?")]) == key  # either SDK
    assert AnswerCache.key(TEST_MODEL, messages, temperature=None) == key  # not given
    assert len({key, AnswerCache.key("Phi-3-mini-4k-instruct", messages),
                AnswerCache.key(TEST_MODEL, messages, temperature=0),
                AnswerCache.key(TEST_MODEL, [{"role": "user", "content": "What is the capital of Kenya?"}])}) == 4


def test_a_half_written_file_is_a_miss_and_clear_removes_only_the_caches_files(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path)
    key = cache.key(TEST_MODEL, [{"role": "user", "content": "Hi"}])
    cache.put(key, {"text": "Hello!", "finish_reason": "stop"})
    assert cache.get(key) == {"text": "Hello!", "finish_reason": "stop"}
    (tmp_path / f"{key}.json").write_text('{"answer": "Hel', encoding="utf-8")
    (tmp_path / "notes.json").write_text(json.dumps({"mine": True}), encoding="utf-8")

    assert cache.get(key) is None
    cache.clear()
    assert len(cache) == 0 and (tmp_path / "notes.json").exists()
    with pytest.raises(ValueError):
        cache.get("../notes")


# --- the learner's own provider ---------------------------------------------------------------------


def test_the_async_clients_reach_the_connections_provider(chat: Connection) -> None:
    async def both() -> tuple[str, str]:
        inference, client = async_inference_client(chat), async_openai_client(chat, max_retries=0)
        async with inference, client:
            first = await inference.complete(messages=[UserMessage(content="What is the capital of Japan?")],
                                             model=chat.model)
            second = await client.chat.completions.create(
                messages=[{"role": "user", "content": "What is the capital of Japan?"}], model=chat.model)
        return first.choices[0].message.content, second.choices[0].message.content

    assert asyncio.run(both()) == ("The capital of Japan is Tokyo.",) * 2


# --- the lesson's exercise --------------------------------------------------------------------------


def test_exercise_11_ten_more_countries_cost_ten_requests(limited: OfflineEndpoint, tmp_path: Path) -> None:
    # The exercise: add ten countries to the list and run the cached batch again. You should see
    # 10 requests sent, for the new questions only, and every question answered.
    cache = AnswerCache(tmp_path)
    pacer = AsyncRequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)
    asyncio.run(run("openai", limited, QUESTIONS, pacer, cache))
    before = len(limited.requests)
    more = [f"What is the capital of {country}?" for country in
            ("Bolivia", "Cuba", "Jordan", "Laos", "Mali", "Malta", "Oman", "Qatar", "Togo", "Yemen")]

    results = asyncio.run(run("openai", limited, QUESTIONS + more, pacer, cache))

    assert len(limited.requests) - before == 10
    assert all(isinstance(result, str) for result in results)
