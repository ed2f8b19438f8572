"""The offline endpoint through the azure-ai-inference SDK, sync and aio, as the notebooks use it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.aio import ChatCompletionsClient as AsyncChatCompletionsClient
from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from offline_endpoint import FAULTS, Pacing, RateLimits, Window, start_in_background
from tests.support import TEST_KEY, TEST_MODEL

SYSTEM = SystemMessage(content="You are a helpful assistant.")
FRANCE = UserMessage(content="What is the capital of France?")
SPAIN = UserMessage(content="What about Spain?")
EXERCISE = UserMessage(content="Give me 5 good reasons why I should exercise every day.")
SEED_CONVERSATION = [SYSTEM, FRANCE, AssistantMessage(content="The capital of France is Paris."), SPAIN]

MakeClient = Callable[..., ChatCompletionsClient]


def _requests_since(endpoint: Any, count_before: int) -> list[Any]:
    return list(endpoint.requests)[count_before:]


def _assert_usage_adds_up(usage: Any) -> None:
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens


# --- answers ---------------------------------------------------------------------------------


def test_seed_basic_call_answers_paris(make_chat_client: MakeClient) -> None:
    client = make_chat_client("")
    response = client.complete(messages=[SYSTEM, FRANCE], temperature=1.0, max_tokens=1000, top_p=1.0)

    choice = response.choices[0]
    assert "Paris" in choice.message.content
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert response.model == TEST_MODEL
    assert response.id and response.created.year >= 2024
    _assert_usage_adds_up(response.usage)


def test_seed_follow_up_is_answered_in_the_context_of_the_conversation(make_chat_client: MakeClient) -> None:
    response = make_chat_client("").complete(messages=SEED_CONVERSATION)

    assert "Madrid" in response.choices[0].message.content


def test_follow_up_without_history_is_not_answered_as_madrid(make_chat_client: MakeClient) -> None:
    response = make_chat_client("").complete(messages=[SYSTEM, SPAIN])

    answer = response.choices[0].message.content
    assert "Madrid" not in answer
    assert "context" in answer.lower()


def test_unscripted_prompt_gets_the_polite_offline_reply(make_chat_client: MakeClient) -> None:
    first = make_chat_client().complete(messages=[UserMessage(content="Tell me about quasars.")])
    second = make_chat_client().complete(messages=[UserMessage(content="Tell me about quasars.")])

    answer = first.choices[0].message.content
    assert "offline practice endpoint" in answer
    assert "CHAT_PROVIDER" in answer  # how to connect a real model
    assert answer == second.choices[0].message.content


@pytest.mark.parametrize("base_path", ["", "/inference", "/models", "/v1"])
def test_every_base_path_answers(stand_in: Any, make_chat_client: MakeClient, base_path: str) -> None:
    before = len(stand_in.requests)
    response = make_chat_client(base_path).complete(messages=[FRANCE])

    assert "Paris" in response.choices[0].message.content
    [record] = _requests_since(stand_in, before)
    assert record.path == f"{base_path}/chat/completions"


@pytest.mark.parametrize(
    "model",
    ["Phi-3-small-8k-instruct", "microsoft/Phi-3-small-8k-instruct", "PHI-3-MINI-4K-INSTRUCT",
     "microsoft/phi-3-medium-128k-instruct"],
)
def test_model_is_echoed_as_requested_with_prefix_and_any_case(make_chat_client: MakeClient, model: str) -> None:
    response = make_chat_client(model=model).complete(messages=[FRANCE])

    assert response.model == model
    assert "Paris" in response.choices[0].message.content


def test_max_tokens_truncates_and_finishes_with_length(make_chat_client: MakeClient) -> None:
    client = make_chat_client()
    whole = client.complete(messages=[EXERCISE]).choices[0].message.content

    response = client.complete(messages=[EXERCISE], max_tokens=5)

    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert response.usage.completion_tokens == 5
    assert whole.startswith(choice.message.content) and len(choice.message.content) < len(whole)


def test_stop_sequence_ends_the_answer_before_it(make_chat_client: MakeClient) -> None:
    response = make_chat_client().complete(messages=[FRANCE], stop=[" Paris", "never appears"])

    assert response.choices[0].message.content == "The capital of France is"
    assert response.choices[0].finish_reason == "stop"


def test_get_model_info_names_the_model(make_chat_client: MakeClient) -> None:
    info = make_chat_client("/models").get_model_info()

    assert info.model_name == "Phi-3-mini-4k-instruct"  # the default: the SDK names no model for /info
    assert info.model_type == "chat-completion"
    assert info.model_provider_name == "Microsoft"


# --- streaming -------------------------------------------------------------------------------


def test_stream_sends_role_first_small_pieces_then_finish_reason_and_usage(make_chat_client: MakeClient) -> None:
    client = make_chat_client("")
    whole = client.complete(messages=[SYSTEM, EXERCISE]).choices[0].message.content

    updates = [update for update in client.complete(stream=True, messages=[SYSTEM, EXERCISE])]

    choices = [update.choices[0] for update in updates if update.choices]
    assert choices[0].delta.role == "assistant"
    pieces = [choice.delta.content for choice in choices if choice.delta.content]
    assert len(pieces) > 50
    assert all(len(piece.split()) <= 1 for piece in pieces)  # at most one word per piece
    assert "".join(pieces) == whole
    assert [choice.finish_reason for choice in choices][:-1] == [None] * (len(choices) - 1)
    assert choices[-1].finish_reason == "stop"
    usage = updates[-1].usage
    _assert_usage_adds_up(usage)
    assert usage.completion_tokens == len(pieces)


def test_stream_with_max_tokens_finishes_with_length(make_chat_client: MakeClient) -> None:
    updates = list(make_chat_client().complete(stream=True, messages=[EXERCISE], max_tokens=4))

    choices = [update.choices[0] for update in updates if update.choices]
    assert len([c for c in choices if c.delta.content]) == 4
    assert choices[-1].finish_reason == "length"


# --- faults ----------------------------------------------------------------------------------

# Status and code each fault must surface with, as the real service sent them (facts.md), and
# the exception class azure-ai-inference raises for that status.
FAULT_EXPECTATIONS: dict[str, tuple[type[HttpResponseError], int, str]] = {
    "unauthorized": (ClientAuthenticationError, 401, "unauthorized"),
    "forbidden": (HttpResponseError, 403, "forbidden"),
    "unknown_model": (ResourceNotFoundError, 404, "unknown_model"),
    "retired": (HttpResponseError, 410, "github_models_retirement_brownout"),
    "rate_limit_minute": (HttpResponseError, 429, "RateLimitReached"),
    "rate_limit_day": (HttpResponseError, 429, "RateLimitReached"),
    "content_filter": (HttpResponseError, 400, "content_filter"),
    "server_error": (HttpResponseError, 500, "internal_server_error"),
    "service_unavailable": (HttpResponseError, 503, "service_unavailable"),
}


def test_every_error_fault_has_an_expectation() -> None:
    assert {name for name, fault in FAULTS.items() if "status" in fault} == set(FAULT_EXPECTATIONS)


@pytest.mark.parametrize("fault", sorted(FAULT_EXPECTATIONS))
def test_queued_fault_surfaces_as_the_sdk_exception(
    stand_in: Any, make_chat_client: MakeClient, fault: str
) -> None:
    error_class, status, code = FAULT_EXPECTATIONS[fault]
    stand_in.faults.add(fault)

    with pytest.raises(HttpResponseError) as raised:
        make_chat_client().complete(messages=[FRANCE], retry_total=0)

    assert type(raised.value) is error_class
    assert raised.value.status_code == status
    assert raised.value.error.code == code
    assert raised.value.error.message
    assert len(stand_in.faults) == 0
    # the fault was for one request only
    assert "Paris" in make_chat_client().complete(messages=[FRANCE]).choices[0].message.content


def test_fault_by_header_applies_to_that_request(make_chat_client: MakeClient) -> None:
    with pytest.raises(HttpResponseError) as raised:
        make_chat_client().complete(messages=[FRANCE], headers={"x-offline-fault": "retired"}, retry_total=0)

    assert raised.value.status_code == 410


def test_content_filter_error_carries_inner_error_with_category_results(
    stand_in: Any, make_chat_client: MakeClient
) -> None:
    stand_in.faults.add("content_filter")

    with pytest.raises(HttpResponseError) as raised:
        make_chat_client().complete(messages=[FRANCE], retry_total=0)

    inner = raised.value.error.innererror
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    results = inner["content_filter_result"]
    assert set(results) == {"hate", "self_harm", "sexual", "violence"}
    assert all(set(result) == {"filtered", "severity"} for result in results.values())
    assert any(result["filtered"] for result in results.values())


def test_content_filter_finish_ends_the_answer_early(stand_in: Any, make_chat_client: MakeClient) -> None:
    client = make_chat_client()
    whole = client.complete(messages=[EXERCISE]).choices[0].message.content
    stand_in.faults.add("content_filter_finish", times=2)

    response = client.complete(messages=[EXERCISE])
    streamed = [u.choices[0] for u in client.complete(stream=True, messages=[EXERCISE]) if u.choices]

    assert response.choices[0].finish_reason == "content_filter"
    assert whole.startswith(response.choices[0].message.content)
    assert len(response.choices[0].message.content) < len(whole)
    assert streamed[-1].finish_reason == "content_filter"


def test_cut_stream_raises_midway_after_some_content(stand_in: Any, make_chat_client: MakeClient) -> None:
    stand_in.faults.add("cut_stream")
    received: list[str] = []

    with pytest.raises(HttpResponseError):
        for update in make_chat_client().complete(stream=True, messages=[EXERCISE], retry_total=0):
            if update.choices and update.choices[0].delta.content:
                received.append(update.choices[0].delta.content)

    assert len(received) > 10
    assert not "".join(received).endswith("habit.")


def test_info_names_the_model_asked_for_and_refuses_an_unknown_one(stand_in: Any) -> None:
    headers = {"api-key": TEST_KEY}
    known = httpx.get(f"{stand_in.url}/models/info", params={"model": "phi3:medium"}, headers=headers)
    unknown = httpx.get(f"{stand_in.url}/models/info", params={"model": "Phi-9"}, headers=headers)

    assert known.json()["model_name"] == "Phi-3-medium-4k-instruct"
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"code": "unknown_model", "message": "Unknown model: Phi-9"}}


def test_cut_stream_cuts_a_non_streamed_answer_midway_too(stand_in: Any, make_chat_client: MakeClient) -> None:
    stand_in.faults.add("cut_stream")

    with pytest.raises(AzureError) as raised:
        make_chat_client().complete(messages=[EXERCISE], retry_total=0)

    assert "incomplete" in str(raised.value).lower() or "IncompleteRead" in repr(raised.value.__cause__ or raised.value)
    assert len(stand_in.faults) == 0


def test_slow_fault_lets_a_read_timeout_fire() -> None:
    # An endpoint of its own: the slow answer still arrives later and must not land in another test's log.
    with start_in_background() as endpoint, _limited_client(endpoint.url) as client:
        endpoint.faults.add("slow")
        with pytest.raises(AzureError) as raised:
            client.complete(messages=[FRANCE], retry_total=0, read_timeout=0.5)

    assert not isinstance(raised.value, HttpResponseError)  # a timeout, not an HTTP answer


def test_unknown_fault_name_is_refused_when_queued(stand_in: Any) -> None:
    with pytest.raises(Exception, match="Unknown fault 'no_such_fault'"):
        stand_in.faults.add("no_such_fault")


# --- retries ---------------------------------------------------------------------------------


def test_sdk_retry_honours_retry_after_on_a_per_minute_429(stand_in: Any, make_chat_client: MakeClient) -> None:
    before = len(stand_in.requests)
    stand_in.faults.add("rate_limit_minute")

    response = make_chat_client().complete(messages=[FRANCE])

    assert "Paris" in response.choices[0].message.content
    first, second = _requests_since(stand_in, before)
    assert (first.status, second.status) == (429, 200)
    retry_after = float(FAULTS["rate_limit_minute"]["headers"]["retry-after"])
    assert second.at - first.at >= retry_after * 0.9  # the SDK waited as told


def test_per_day_429_with_retries_off_surfaces_at_once_with_its_headers(
    stand_in: Any, make_chat_client: MakeClient
) -> None:
    # azure-core would sleep the whole retry-after (hours) before retrying: lessons turn retries off.
    before = len(stand_in.requests)
    stand_in.faults.add("rate_limit_day")

    with pytest.raises(HttpResponseError) as raised:
        make_chat_client().complete(messages=[FRANCE], retry_total=0)

    headers = raised.value.response.headers
    assert headers["x-ratelimit-type"] == "UserByModelByDay"
    assert int(headers["retry-after"]) > 3600
    assert "UserByModelByDay" in raised.value.error.message
    assert len(_requests_since(stand_in, before)) == 1


def test_sdk_retries_a_per_day_429_too_because_it_only_reads_retry_after() -> None:
    # A two-second "day", so the retry-after the SDK obeys is seconds, not hours.
    limits = RateLimits(per_day=Window(1, 2, "UserByModelByDay"))
    with start_in_background(limits=limits) as endpoint, _limited_client(endpoint.url) as client:
        client.complete(messages=[FRANCE])
        response = client.complete(messages=[FRANCE])
        statuses = [record.status for record in endpoint.requests]

    assert "Paris" in response.choices[0].message.content
    assert statuses == [200, 429, 200]


# --- rate limits, switched on ----------------------------------------------------------------


def _limited_client(url: str, key: str = TEST_KEY, model: str = TEST_MODEL) -> ChatCompletionsClient:
    return ChatCompletionsClient(endpoint=url, credential=AzureKeyCredential(key), model=model)


def test_demo_rate_limit_answers_429_like_the_service_per_key_and_model() -> None:
    with start_in_background(limits=RateLimits.demo(2)) as endpoint, _limited_client(endpoint.url) as client:
        for _ in range(2):
            client.complete(messages=[FRANCE], retry_total=0)
        with pytest.raises(HttpResponseError) as raised:
            client.complete(messages=[FRANCE], retry_total=0)
        with _limited_client(endpoint.url, key="another-key") as other_key:
            assert other_key.complete(messages=[FRANCE], retry_total=0).choices
        with _limited_client(endpoint.url, model="Phi-3-mini-4k-instruct") as other_model:
            assert other_model.complete(messages=[FRANCE], retry_total=0).choices

    error = raised.value
    assert error.status_code == 429
    assert error.error.code == "RateLimitReached"
    assert "Rate limit of 2 per 60s exceeded for UserByModelByMinute" in error.error.message
    assert error.response.headers["x-ratelimit-type"] == "UserByModelByMinute"
    assert 1 <= int(error.response.headers["retry-after"]) <= 60


def test_free_tier_allows_15_requests_a_minute() -> None:
    with start_in_background(limits=RateLimits.free_tier()) as endpoint, _limited_client(endpoint.url) as client:
        for _ in range(15):
            client.complete(messages=[FRANCE], retry_total=0)
        with pytest.raises(HttpResponseError) as raised:
            client.complete(messages=[FRANCE], retry_total=0)

    assert raised.value.status_code == 429
    assert "Rate limit of 15 per 60s" in raised.value.error.message


def test_per_day_window_reports_its_own_type() -> None:
    limits = RateLimits(per_day=Window(1, 86400, "UserByModelByDay"))
    with start_in_background(limits=limits) as endpoint, _limited_client(endpoint.url) as client:
        client.complete(messages=[FRANCE], retry_total=0)
        with pytest.raises(HttpResponseError) as raised:
            client.complete(messages=[FRANCE], retry_total=0)

    assert raised.value.response.headers["x-ratelimit-type"] == "UserByModelByDay"
    assert int(raised.value.response.headers["retry-after"]) > 86000


def test_concurrency_limit_refuses_a_second_request_while_one_streams() -> None:
    limits = RateLimits.demo(100, concurrent=1)
    with start_in_background(limits=limits, pacing=Pacing(first_token_seconds=0.6)) as endpoint, \
            _limited_client(endpoint.url) as first, _limited_client(endpoint.url) as second:
        stream = first.complete(stream=True, messages=[FRANCE], retry_total=0)  # holds its place while paced
        with pytest.raises(HttpResponseError) as raised:
            second.complete(messages=[FRANCE], retry_total=0)
        streamed = "".join(u.choices[0].delta.content or "" for u in stream if u.choices)
        after = second.complete(messages=[FRANCE], retry_total=0)

    assert raised.value.status_code == 429
    assert raised.value.response.headers["x-ratelimit-type"] == "UserConcurrentRequests"
    assert "Paris" in streamed and "Paris" in after.choices[0].message.content


def test_rate_limits_are_off_by_default(make_chat_client: MakeClient) -> None:
    client = make_chat_client()
    for _ in range(20):
        client.complete(messages=[FRANCE], retry_total=0)


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"api-key": ""}],
    ids=["no key", "empty bearer", "not bearer", "empty api-key"],
)
def test_request_without_a_key_gets_401(stand_in: Any, headers: dict[str, str]) -> None:
    body = {"model": TEST_MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    response = httpx.post(f"{stand_in.url}/inference/chat/completions", json=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", ["Authorization", "api-key"])
def test_either_key_header_is_enough(stand_in: Any, header: str) -> None:
    value = f"Bearer {TEST_KEY}" if header == "Authorization" else TEST_KEY
    body = {"model": TEST_MODEL, "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    response = httpx.post(f"{stand_in.url}/chat/completions", json=body, headers={header: value})

    assert response.status_code == 200
    assert "Paris" in response.json()["choices"][0]["message"]["content"]


def test_key_is_never_echoed_in_a_response_or_the_request_log(stand_in: Any) -> None:
    url = stand_in.url
    auth = {"Authorization": f"Bearer {TEST_KEY}", "api-key": TEST_KEY}
    ok = {"model": TEST_MODEL, "messages": [{"role": "user", "content": TEST_KEY}]}
    responses = [
        httpx.post(f"{url}/chat/completions", json=ok, headers=auth),
        httpx.post(f"{url}/chat/completions", json={**ok, "stream": True}, headers=auth),
        httpx.post(f"{url}/chat/completions", json={**ok, "model": "nope"}, headers=auth),
        httpx.post(f"{url}/chat/completions", json={"messages": 1}, headers=auth),
        httpx.post(f"{url}/chat/completions", json=ok, headers={**auth, "x-offline-fault": "unauthorized"}),
        httpx.get(f"{url}/chat/completions", headers=auth),
        httpx.get(f"{url}/nowhere", headers=auth),
        httpx.get(f"{url}/info", headers=auth),
    ]

    for response in responses:
        assert TEST_KEY not in response.text
        assert TEST_KEY not in str(response.headers)
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 401, 405, 404, 200]
    assert "offline-test-key" not in repr(list(stand_in.requests))


# --- limits of the models --------------------------------------------------------------------


def test_prompt_over_a_4k_window_gets_413_naming_the_limit(make_chat_client: MakeClient) -> None:
    long_prompt = UserMessage(content="word " * 5000)

    with pytest.raises(HttpResponseError) as raised:
        make_chat_client(model="Phi-3-mini-4k-instruct").complete(messages=[long_prompt], retry_total=0)

    assert raised.value.status_code == 413
    assert raised.value.error.code == "tokens_limit_reached"
    assert "4096" in raised.value.error.message


def test_prompt_over_the_published_8000_input_limit_gets_413_on_a_128k_model(make_chat_client: MakeClient) -> None:
    client = make_chat_client(model="Phi-3-mini-128k-instruct")
    assert client.complete(messages=[UserMessage(content="word " * 5000)]).choices  # fits a 128k model

    with pytest.raises(HttpResponseError) as raised:
        client.complete(messages=[UserMessage(content="word " * 9000)], retry_total=0)

    assert raised.value.status_code == 413
    assert "8000" in raised.value.error.message


def test_max_tokens_over_4000_is_refused_naming_the_limit(make_chat_client: MakeClient) -> None:
    client = make_chat_client()
    assert client.complete(messages=[FRANCE], max_tokens=4000).choices

    with pytest.raises(HttpResponseError) as raised:
        client.complete(messages=[FRANCE], max_tokens=4001, retry_total=0)

    assert 400 <= raised.value.status_code < 500
    assert raised.value.error.code == "tokens_limit_reached"
    assert "4000" in raised.value.error.message and "max_tokens" in raised.value.error.message


def test_unknown_model_gets_404_naming_it(make_chat_client: MakeClient) -> None:
    with pytest.raises(ResourceNotFoundError) as raised:
        make_chat_client(model="gpt-17-ultra").complete(messages=[FRANCE], retry_total=0)

    assert raised.value.status_code == 404
    assert raised.value.error.code == "unknown_model"
    assert "gpt-17-ultra" in raised.value.error.message


# --- routes ----------------------------------------------------------------------------------


def test_wrong_method_gets_405_with_the_error_body(stand_in: Any) -> None:
    response = httpx.get(f"{stand_in.url}/inference/chat/completions", headers={"api-key": "k"})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.json()["error"]["message"]


def test_unknown_path_gets_404_with_the_error_body(stand_in: Any) -> None:
    response = httpx.post(f"{stand_in.url}/inference/chat/complete", json={}, headers={"api-key": "k"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/chat/completions" in response.json()["error"]["message"]


def test_catalog_lists_the_six_seed_models(stand_in: Any) -> None:
    catalog = httpx.get(f"{stand_in.url}/catalog/models").json()

    assert {entry["id"] for entry in catalog} == {
        f"microsoft/Phi-3-{size}-instruct"
        for size in ("mini-4k", "mini-128k", "small-8k", "small-128k", "medium-4k", "medium-128k")
    }


# --- the aio client --------------------------------------------------------------------------


def _run(coroutine_function: Callable[[AsyncChatCompletionsClient], Any], url: str) -> Any:
    async def main() -> Any:
        async with AsyncChatCompletionsClient(
            endpoint=url, credential=AzureKeyCredential(TEST_KEY), model=TEST_MODEL
        ) as client:
            return await coroutine_function(client)

    return asyncio.run(main())


def test_aio_basic_multi_turn_and_model_info(stand_in: Any) -> None:
    async def calls(client: AsyncChatCompletionsClient) -> tuple[Any, Any, Any]:
        return (
            await client.complete(messages=[SYSTEM, FRANCE]),
            await client.complete(messages=SEED_CONVERSATION),
            await client.get_model_info(),
        )

    basic, multi_turn, info = _run(calls, stand_in.url + "/inference")

    assert "Paris" in basic.choices[0].message.content
    _assert_usage_adds_up(basic.usage)
    assert "Madrid" in multi_turn.choices[0].message.content
    assert info.model_type == "chat-completion"


def test_aio_streaming(stand_in: Any) -> None:
    async def stream(client: AsyncChatCompletionsClient) -> list[Any]:
        response = await client.complete(stream=True, messages=[SYSTEM, EXERCISE])
        return [update async for update in response]

    updates = _run(stream, stand_in.url)

    choices = [update.choices[0] for update in updates if update.choices]
    assert choices[0].delta.role == "assistant"
    pieces = [choice.delta.content for choice in choices if choice.delta.content]
    assert "".join(pieces).startswith("Here are five good reasons")
    assert choices[-1].finish_reason == "stop"
    assert updates[-1].usage.completion_tokens == len(pieces)


@pytest.mark.parametrize("fault", sorted(FAULT_EXPECTATIONS))
def test_aio_fault_surfaces_as_the_sdk_exception(stand_in: Any, fault: str) -> None:
    error_class, status, code = FAULT_EXPECTATIONS[fault]
    stand_in.faults.add(fault)

    with pytest.raises(HttpResponseError) as raised:
        _run(lambda client: client.complete(messages=[FRANCE], retry_total=0), stand_in.url)

    assert type(raised.value) is error_class
    assert (raised.value.status_code, raised.value.error.code) == (status, code)


def test_aio_cut_stream_raises_after_some_content(stand_in: Any) -> None:
    stand_in.faults.add("cut_stream")
    received: list[str] = []

    async def stream(client: AsyncChatCompletionsClient) -> None:
        response = await client.complete(stream=True, messages=[EXERCISE], retry_total=0)
        async for update in response:
            if update.choices and update.choices[0].delta.content:
                received.append(update.choices[0].delta.content)

    with pytest.raises(HttpResponseError):
        _run(stream, stand_in.url)
    assert len(received) > 10


def test_aio_sdk_retry_honours_retry_after(stand_in: Any) -> None:
    before = len(stand_in.requests)
    stand_in.faults.add("rate_limit_minute")

    response = _run(lambda client: client.complete(messages=[FRANCE]), stand_in.url)

    assert "Paris" in response.choices[0].message.content
    assert [r.status for r in _requests_since(stand_in, before)] == [429, 200]


# --- standalone ------------------------------------------------------------------------------


def test_standalone_command_prints_its_url_answers_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "offline_endpoint", "--port", "0"],
        cwd=Path(__file__).parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    killer = threading.Timer(20, process.kill)  # a hung server must not hang the suite
    killer.start()
    try:
        first_line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first_line).group(0)
        with _limited_client(url + "/inference") as client:
            answer = client.complete(messages=[FRANCE], retry_total=0).choices[0].message.content
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        killer.cancel()
        process.kill()

    assert "Paris" in answer
    assert process.returncode == 0, stderr
    assert "Stopped." in stdout
    assert "Traceback" not in stderr


def test_a_server_that_cannot_start_says_so_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    import offline_endpoint
    import offline_endpoint.background

    def broken_app(state: Any) -> Any:
        raise OSError("no application today")

    monkeypatch.setattr(offline_endpoint.background, "make_app", broken_app)
    with pytest.raises(RuntimeError, match="could not start") as raised:
        offline_endpoint.start_in_background()

    assert "no application today" in str(raised.value.__cause__)
