"""The lessons' calls against a real model (the built-in llama.cpp one), through the helper.

A real model's words cannot be stored and compared, so these tests assert what holds for any
real model: answers are not empty, usage adds up, streams end with a finish reason, a small
max_tokens ends with 'length', history is kept whole, and a real server's context error is
explained from the fields it sends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from azure.ai.inference.models import UserMessage
from azure.core.exceptions import HttpResponseError
from chat_helpers import Connection, Conversation, connect, explain, finish_reason, read_stream

QUESTION = [UserMessage(content="What is the capital of France?")]


@pytest.fixture(scope="module")
def real() -> Iterator[Connection]:
    """The built-in model, as the lessons' ``connect(real=True)`` gives it when `.env` says offline."""
    connection = connect(real=True, quiet=True)
    yield connection
    connection.client.close()


def assert_usage_adds_up(usage: object) -> None:
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_real_means_the_built_in_model_when_env_says_offline(real: Connection,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert real.provider == "local" and real.endpoint.startswith("http://127.0.0.1:")
    line = connect(real=True).describe()
    assert capsys.readouterr().out == line + "\n"
    assert line.startswith("Connected to the built-in model (llama.cpp in this kernel) at http://127.0.0.1:")
    assert "135M-parameter model" in line and "fluent but often wrong" in line
    assert connect(real=True, quiet=True).endpoint == real.endpoint  # one server per kernel


@pytest.mark.parametrize("temperature", [0.0, 1.0, 1.8])
def test_an_answer_at_any_temperature_is_text_with_usage_that_adds_up(real: Connection, temperature: float) -> None:
    response = real.client.complete(messages=QUESTION, model=real.model, temperature=temperature, max_tokens=40)
    assert response.choices[0].message.content.strip()
    assert finish_reason(response.choices[0]) in ("stop", "length")
    assert_usage_adds_up(response.usage)


def test_a_small_max_tokens_ends_with_length(real: Connection) -> None:
    response = real.client.complete(messages=[UserMessage(content="Tell me a long story about the sea.")],
                                    model=real.model, max_tokens=5)
    assert finish_reason(response.choices[0]) == "length"
    assert response.usage.completion_tokens == 5


def test_a_streamed_answer_ends_with_a_finish_reason_and_usage(real: Connection) -> None:
    answer = read_stream(real.client.complete(messages=QUESTION, model=real.model, stream=True, max_tokens=30,
                                              model_extras={"stream_options": {"include_usage": True}}))
    assert answer.complete and answer.text.strip() and answer.pieces > 1
    assert answer.finish_reason in ("stop", "length")
    assert_usage_adds_up(answer.usage)


def test_the_openai_sdk_through_the_helper(real: Connection) -> None:
    client = real.openai_client()
    response = client.chat.completions.create(model=real.model, messages=[{"role": "user", "content": "Hi!"}],
                                              max_tokens=20)
    assert response.choices[0].message.content.strip()
    assert_usage_adds_up(response.usage)


def test_a_conversation_keeps_every_turn_with_a_real_model(real: Connection) -> None:
    conversation = Conversation(real)
    for question in ("My name is Ada.", "What is the capital of France?", "What is my name?"):
        conversation.ask(question, max_tokens=30)
    roles = [message["role"] for message in conversation.as_dicts()]
    assert roles == ["system"] + ["user", "assistant"] * 3
    assert all(message["content"] for message in conversation.as_dicts())


def test_a_prompt_over_the_real_context_is_explained_with_the_servers_counts(real: Connection) -> None:
    too_long = [UserMessage(content="Tell me more about Paris. " * 2000)]
    with pytest.raises(HttpResponseError) as caught:
        real.client.complete(messages=too_long, model=real.model, max_tokens=5)
    assert caught.value.status_code == 400
    text = str(explain(caught.value))
    assert text.startswith("The prompt is too long for the model: ")
    assert f"over the limit of {real.context_window}" in text
    assert "about" not in text.splitlines()[0]  # the server counted, so the count is exact


def test_the_built_in_server_ends_with_the_process_that_started_it() -> None:
    # A kernel is a Python process like this one: the server lives in its threads, so nothing outlives it.
    started = ("import urllib.request\n"
               "from chat_helpers import connect\n"
               "connection = connect(real=True, quiet=True)\n"
               "health = urllib.request.urlopen(connection.endpoint.removesuffix('/v1') + '/health').status\n"
               "print(connection.endpoint, health, flush=True)\n")
    env = {**os.environ, "CHAT_PROVIDER": "offline"}
    result = subprocess.run([sys.executable, "-c", started], capture_output=True, text=True, timeout=120, env=env,
                            check=True)
    endpoint, health = result.stdout.split()
    assert health == "200"  # it served while its process ran
    assert endpoint.startswith("http://127.0.0.1:") and endpoint.endswith("/v1")
    with pytest.raises(httpx.ConnectError):
        httpx.get(endpoint.removesuffix("/v1") + "/health", timeout=5)


def test_new_settings_in_env_never_start_a_second_server_in_the_kernel(
        real: Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOCAL_THREADS", "2")  # other settings than the running server's
    again = connect(real=True, quiet=True)
    assert again.endpoint == real.endpoint
    assert "restart the kernel to use the new ones" in capsys.readouterr().out
