"""The offline endpoint through the openai SDK and through curl, as notebooks 06 and 08 use them."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import openai
import pytest

from tests.support import TEST_KEY, TEST_MODEL

FRANCE = {"role": "user", "content": "What is the capital of France?"}
EXERCISE = {"role": "user", "content": "Give me 5 good reasons why I should exercise every day."}
CURL = shutil.which("curl") or "curl"  # notebook 06 needs it too: missing, these tests fail


@pytest.fixture
def openai_client(stand_in: Any) -> openai.OpenAI:
    client = openai.OpenAI(base_url=stand_in.url + "/v1", api_key=TEST_KEY, max_retries=0)
    yield client
    client.close()


def test_openai_sdk_basic_call(openai_client: openai.OpenAI) -> None:
    response = openai_client.chat.completions.create(model=TEST_MODEL, messages=[FRANCE])

    assert "Paris" in response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"
    assert response.model == TEST_MODEL
    usage = response.usage
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens


def test_openai_sdk_streaming_with_include_usage_ends_with_a_usage_chunk(openai_client: openai.OpenAI) -> None:
    chunks = list(openai_client.chat.completions.create(
        model=TEST_MODEL, messages=[EXERCISE], stream=True, stream_options={"include_usage": True},
    ))

    *answer_chunks, usage_chunk = chunks
    assert answer_chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in answer_chunks if c.choices[0].delta.content]
    assert "".join(pieces).startswith("Here are five good reasons")
    assert answer_chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in answer_chunks)
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == len(pieces)
    assert usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens == usage_chunk.usage.total_tokens


def test_openai_sdk_streaming_without_include_usage_sends_no_usage_only_chunk(openai_client: openai.OpenAI) -> None:
    chunks = list(openai_client.chat.completions.create(model=TEST_MODEL, messages=[FRANCE], stream=True))

    assert all(chunk.choices for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_sdk_error_carries_the_service_code(stand_in: Any, openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        openai_client.chat.completions.create(model="no-such-model", messages=[FRANCE])

    assert raised.value.status_code == 404
    assert raised.value.code == "unknown_model"


def test_openai_sdk_lists_models(openai_client: openai.OpenAI) -> None:
    ids = {model.id for model in openai_client.models.list()}

    assert TEST_MODEL in ids and len(ids) == 6


def _curl(url: str, body: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[bytes]:
    """The seeds' curl command, with the endpoint URL changed."""
    return subprocess.run(
        [CURL, "-sS", "-X", "POST", url, "-H", "Content-Type: application/json",
         "-H", f"Authorization: Bearer {TEST_KEY}", "-d", json.dumps(body), *extra],
        capture_output=True, timeout=20, check=True,
    )


def test_curl_json_answer(stand_in: Any) -> None:
    body = {"messages": [{"role": "system", "content": "You are a helpful assistant."}, FRANCE], "model": TEST_MODEL}

    result = _curl(f"{stand_in.url}/chat/completions", body, "-w", "\n%{http_code} %{content_type}")

    text, status_line = result.stdout.decode().rsplit("\n", 1)
    assert status_line.startswith("200 application/json")
    assert "Paris" in json.loads(text)["choices"][0]["message"]["content"]


def test_curl_error_body_and_status(stand_in: Any) -> None:
    result = _curl(f"{stand_in.url}/inference/chat/completions", {"messages": [], "model": TEST_MODEL},
                   "-w", "\n%{http_code}")

    text, status = result.stdout.decode().rsplit("\n", 1)
    assert status == "400"
    assert set(json.loads(text)["error"]) == {"code", "message"}


def test_curl_sse_framing_is_exactly_what_strict_parsers_need(stand_in: Any) -> None:
    body = {"messages": [EXERCISE], "model": TEST_MODEL, "stream": True}

    raw = _curl(f"{stand_in.url}/inference/chat/completions", body, "-N").stdout

    assert b"\r" not in raw
    assert raw.endswith(b"data: [DONE]\n\n")
    events = raw.decode().split("\n\n")
    assert events[-1] == ""  # the stream ends with a blank line
    events = events[:-1]
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == sum(
        1 for chunk in chunks if chunk["choices"][0]["delta"].get("content")
    )
    assert len({chunk["id"] for chunk in chunks}) == 1


def test_curl_sse_headers(stand_in: Any) -> None:
    body = {"messages": [FRANCE], "model": TEST_MODEL, "stream": True}

    headers = _curl(f"{stand_in.url}/chat/completions", body, "-N", "-D", "-", "-o", "/dev/null").stdout

    assert headers.startswith(b"HTTP/1.1 200")
    assert b"\r\nContent-Type: text/event-stream\r\n" in headers
