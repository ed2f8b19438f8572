"""Every failure of lesson 05 through the real SDKs against the offline endpoint: the exception a
learner gets, the explanation they read, retries after a 429, and a conversation that loses nothing."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import UserMessage
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseTimeoutError,
)
from chat_helpers import (
    ConfigurationError,
    Connection,
    Conversation,
    call_with_retry,
    check_answer,
    estimate_tokens,
    explain,
    explain_answer,
    last_error,
    load_settings,
    read_stream,
)
from chat_helpers.config import Settings
from chat_helpers.failures import HttpFailure, retry_after_seconds
from chat_helpers.ipython_hook import install_explanations
from IPython.core.interactiveshell import InteractiveShell

from offline_endpoint import OfflineEndpoint, start_in_background
from tests.support import TEST_KEY, TEST_MODEL

QUESTION = [UserMessage(content="What is the capital of France?")]
LONG_QUESTION = [UserMessage(content="Give me 5 good reasons why I should exercise every day.")]
MakeClient = Callable[..., ChatCompletionsClient]


def fail(call: Callable[[], Any]) -> BaseException:
    """The exception ``call`` raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def explained(error: BaseException) -> str:
    explanation = explain(error)
    assert explanation is not None, f"no explanation for {type(error).__name__}: {error}"
    return str(explanation)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def client(make_chat_client: MakeClient) -> ChatCompletionsClient:
    return make_chat_client("")


@pytest.mark.parametrize(("fault", "error_class", "status", "key_words"), [
    ("unauthorized", ClientAuthenticationError, 401, ["refused the key (401 Unauthorized)", "FOUNDRY_API_KEY", ".env"]),
    ("forbidden", HttpResponseError, 403, ["403 Forbidden", "deployed", "role"]),
    ("retired", HttpResponseError, 410, ["410 Gone", "retired on 2026-07-30", "CHAT_PROVIDER=offline"]),
    ("rate_limit_minute", HttpResponseError, 429, ["UserByModelByMinute", "15 requests per minute", "wait 1 s"]),
    ("rate_limit_day", HttpResponseError, 429,
     ["UserByModelByDay", "150 requests per day", "do not retry", "in about 1 h 34 min"]),
    ("content_filter", HttpResponseError, 400, ["content filter blocked the prompt", "violence (medium severity)",
                                                "rephrase"]),
    ("server_error", HttpResponseError, 500, ["service's side", "try again"]),
])
def test_each_http_failure_raises_its_sdk_error_and_is_explained(
        client: ChatCompletionsClient, fault: str, error_class: type, status: int, key_words: list[str]) -> None:
    error = fail(lambda: client.complete(messages=QUESTION, headers={"x-offline-fault": fault}, retry_total=0))
    assert type(error) is error_class
    assert error.status_code == status
    text = explained(error)
    assert len(text.splitlines()) == 3 and text.splitlines()[1].startswith("Why: ")
    for words in key_words:
        assert words in text


def test_a_misspelt_model_is_a_404_that_names_the_closest_models(client: ChatCompletionsClient) -> None:
    error = fail(lambda: client.complete(messages=QUESTION, model="Phi-3-mini-4k-instruc", retry_total=0))
    assert isinstance(error, ResourceNotFoundError)
    assert "Did you mean Phi-3-mini-4k-instruct or Phi-3-mini-128k-instruct?" in explained(error)


def test_an_unrelated_model_name_lists_the_known_ones(client: ChatCompletionsClient) -> None:
    error = fail(lambda: client.complete(messages=QUESTION, model="gpt-4o", retry_total=0))
    assert "'gpt-4o'" in explained(error) and "Known here: Phi-3-mini-4k-instruct" in explained(error)


def test_a_prompt_over_the_context_window_says_both_counts(client: ChatCompletionsClient) -> None:
    messages = [UserMessage(content="Tell me more about Paris. " * 900)]
    error = fail(lambda: client.complete(messages=messages, model="Phi-3-mini-4k-instruct", retry_total=0))
    assert isinstance(error, HttpResponseError) and error.status_code == 413
    assert f"about {estimate_tokens(messages)} tokens, over the limit of 4096" in explained(error)
    assert "128k model" in explained(error)


def test_max_tokens_over_the_per_request_limit_says_the_limit(client: ChatCompletionsClient) -> None:
    error = fail(lambda: client.complete(messages=QUESTION, max_tokens=5000, retry_total=0))
    assert "max_tokens asks for 5000 tokens, over the limit of 4000" in explained(error)


def test_a_missing_setting_is_explained_before_any_request() -> None:
    error = fail(lambda: load_settings({"CHAT_PROVIDER": "foundry"}))
    assert isinstance(error, ConfigurationError)
    assert "FOUNDRY_ENDPOINT" in explained(error) and ".env" in explained(error)


def test_an_answer_stopped_by_the_content_filter_is_flagged(
        client: ChatCompletionsClient, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.complete(messages=LONG_QUESTION, headers={"x-offline-fault": "content_filter_finish"})
    assert "finish_reason 'content_filter'" in str(explain_answer(response))
    check_answer(response)
    assert "the text is partial" in capsys.readouterr().out


def test_a_whole_answer_is_said_to_be_complete(
        client: ChatCompletionsClient, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.complete(messages=QUESTION)
    assert explain_answer(response) is None
    check_answer(response)
    assert capsys.readouterr().out == "The answer is complete.\n"


def test_a_slow_answer_times_out_and_is_explained() -> None:
    # Its own endpoint: the slow answer still ends later.
    with start_in_background(allow_fault_header=True) as endpoint:
        client = ChatCompletionsClient(endpoint=endpoint.url, credential=AzureKeyCredential(TEST_KEY))
        error = fail(lambda: client.complete(messages=QUESTION, model=TEST_MODEL, read_timeout=0.2,
                                             headers={"x-offline-fault": "slow"}, retry_total=0))
        client.close()
    assert isinstance(error, ServiceResponseTimeoutError)
    assert "No answer arrived in time" in explained(error) and "read_timeout=120" in explained(error)


def test_a_server_that_never_accepts_is_a_connect_timeout() -> None:
    with socket.socket() as listener:  # a full accept queue: the next connection attempt hangs
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        waiting = [socket.socket() for _ in range(3)]
        for queued in waiting:
            queued.setblocking(False)
            queued.connect_ex(("127.0.0.1", port))
        client = ChatCompletionsClient(endpoint=f"http://127.0.0.1:{port}", credential=AzureKeyCredential(TEST_KEY))
        error = fail(lambda: client.complete(messages=QUESTION, model=TEST_MODEL, connection_timeout=0.2,
                                             retry_total=0))
        for queued in waiting:
            queued.close()
    assert isinstance(error, ServiceRequestTimeoutError)
    assert f"Could not connect to 127.0.0.1:{port} in time" in explained(error)


def test_connection_refused_names_the_address_and_how_to_start_a_server() -> None:
    port = closed_port()
    client = ChatCompletionsClient(endpoint=f"http://127.0.0.1:{port}/v1", credential=AzureKeyCredential(TEST_KEY))
    error = fail(lambda: client.complete(messages=QUESTION, model=TEST_MODEL, retry_total=0))
    assert type(error) is ServiceRequestError
    assert f"Nothing is listening at 127.0.0.1:{port} (connection refused)" in explained(error)
    assert "ollama serve" in explained(error)


def test_a_stream_cut_off_keeps_what_arrived_marked_incomplete(
        client: ChatCompletionsClient, capsys: pytest.CaptureFixture[str]) -> None:
    whole = client.complete(messages=LONG_QUESTION).choices[0].message.content
    updates = client.complete(messages=LONG_QUESTION, stream=True, headers={"x-offline-fault": "cut_stream"})
    answer = read_stream(updates)
    assert not answer.complete and answer.text and whole.startswith(answer.text) and answer.text != whole
    assert "cut off midway" in explained(answer.error)
    check_answer(answer)
    assert "keeps what arrived and marks it incomplete" in capsys.readouterr().out


@pytest.fixture
def openai_client(stand_in: OfflineEndpoint) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stand_in.url + "/v1", api_key=TEST_KEY, max_retries=0) as client:
        yield client


@pytest.mark.parametrize(("fault", "error_class", "key_words"), [
    ("rate_limit_day", openai.RateLimitError, "do not retry: the quota returns in about 1 h 34 min"),
    ("unauthorized", openai.AuthenticationError, "refused the key (401 Unauthorized)"),
    ("content_filter", openai.BadRequestError, "violence (medium severity)"),
])
def test_openai_sdk_errors_are_explained_alike(
        openai_client: openai.OpenAI, fault: str, error_class: type, key_words: str) -> None:
    error = fail(lambda: openai_client.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Hello"}], extra_headers={"x-offline-fault": fault}))
    assert type(error) is error_class
    assert key_words in explained(error)


def test_openai_connection_refused_and_cut_stream_are_told_apart(openai_client: openai.OpenAI) -> None:
    refused = openai.OpenAI(base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key=TEST_KEY, max_retries=0)
    error = fail(lambda: refused.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}]))
    assert isinstance(error, openai.APIConnectionError) and "connection refused" in explained(error)

    def read_cut_stream() -> None:
        for _ in openai_client.chat.completions.create(
                model=TEST_MODEL, stream=True, extra_headers={"x-offline-fault": "cut_stream"},
                messages=[{"role": "user", "content": LONG_QUESTION[0].content}]):
            pass
    assert "cut off midway" in explained(fail(read_cut_stream))


def test_a_per_minute_429_is_retried_after_the_advertised_wait(
        client: ChatCompletionsClient, stand_in: OfflineEndpoint,
        capsys: pytest.CaptureFixture[str]) -> None:
    before = len(stand_in.requests)
    stand_in.faults.add("rate_limit_minute")  # retry-after: 1
    response = call_with_retry(client.complete, messages=QUESTION)
    assert response.choices[0].message.content == "The capital of France is Paris."
    assert capsys.readouterr().out == "Rate limited (UserByModelByMinute): waiting 1 s, then retrying.\n"
    limited, answered = list(stand_in.requests)[before:]  # the SDK itself retried nothing
    assert (limited.status, answered.status) == (429, 200)
    assert answered.at - limited.at >= 1.0


def test_a_per_day_429_is_not_retried(client: ChatCompletionsClient, stand_in: OfflineEndpoint,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = len(stand_in.requests)
    stand_in.faults.add("rate_limit_day")  # retry-after: 5631
    waits: list[float] = []  # a wrong retry is recorded here instead of sleeping for 94 minutes
    error = fail(lambda: call_with_retry(client.complete, messages=QUESTION, longest_wait=10_000,
                                         sleep=waits.append))
    assert waits == []
    assert [r.status for r in list(stand_in.requests)[before:]] == [429]
    assert "do not retry" in "\n".join(error.__notes__)
    assert capsys.readouterr().out == ""


def test_a_retry_gives_up_after_its_attempts(client: ChatCompletionsClient, stand_in: OfflineEndpoint,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    stand_in.faults.add("rate_limit_minute", times=2)
    error = fail(lambda: call_with_retry(client.complete, messages=QUESTION, attempts=2))
    assert isinstance(error, HttpResponseError) and error.status_code == 429
    assert capsys.readouterr().out.count("waiting 1 s") == 1


@pytest.fixture
def conversation(client: ChatCompletionsClient, stand_in: OfflineEndpoint) -> Conversation:
    settings = Settings("offline", "the offline endpoint", TEST_MODEL, stand_in.url)
    connection = Connection(settings, client, context_window=8192)
    chat = Conversation(connection)
    chat.ask("What is the capital of France?")
    return chat


def test_a_failed_turn_leaves_the_history_unchanged_and_the_retry_stores_it_once(
        conversation: Conversation, stand_in: OfflineEndpoint) -> None:
    history = conversation.as_dicts()
    stand_in.faults.add("server_error")
    fail(lambda: conversation.ask("What about Spain?", retry_total=0))
    assert conversation.as_dicts() == history

    response = conversation.ask("What about Spain?")
    assert response.choices[0].message.content.startswith("The capital of Spain is Madrid.")
    questions = [m["content"] for m in conversation.as_dicts() if m["role"] == "user"]
    assert questions == ["What is the capital of France?", "What about Spain?"]
    assert len(conversation) == len(history) + 2


def test_a_turn_retried_after_a_429_is_sent_with_its_history_and_stored_once(
        conversation: Conversation, stand_in: OfflineEndpoint, capsys: pytest.CaptureFixture[str]) -> None:
    stand_in.faults.add("rate_limit_minute")
    response = call_with_retry(conversation.ask, "What about Spain?")
    assert "waiting 1 s" in capsys.readouterr().out
    assert response.choices[0].message.content.startswith("The capital of Spain is Madrid.")
    assert [m["role"] for m in conversation.as_dicts()] == ["system", "user", "assistant", "user", "assistant"]


@pytest.fixture
def ipython_shell() -> Iterator[InteractiveShell]:
    """An IPython shell for this test only, so later tests run without one as before."""
    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def test_the_notebook_hook_prints_the_explanation_and_keeps_the_exception(
        ipython_shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    shell = ipython_shell
    install_explanations()
    shell.user_ns["port"] = closed_port()
    shell.run_cell(
        "from azure.ai.inference import ChatCompletionsClient\n"
        "from azure.ai.inference.models import UserMessage\n"
        "from azure.core.credentials import AzureKeyCredential\n"
        "ChatCompletionsClient(endpoint=f'http://127.0.0.1:{port}', credential=AzureKeyCredential('k'))"
        ".complete(messages=[UserMessage('Hi')], model='m', retry_total=0)\n")
    printed = capsys.readouterr().out
    assert printed.startswith("ServiceRequestError: Nothing is listening at 127.0.0.1:")
    assert "Traceback" not in printed and "last_error()" in printed
    assert isinstance(last_error(), ServiceRequestError)


@pytest.mark.parametrize(("header", "seconds"), [("1", 1.0), ("0.5", 0.5), ("5631", 5631.0), ("-1", None),
                                                 ("nan", None), ("inf", None), ("soon", None), ("", None)])
def test_only_a_plain_number_of_seconds_in_retry_after_is_waited_for(header: str, seconds: float | None) -> None:
    answer = HttpFailure(429, "RateLimitReached", "", {"retry-after": header} if header else {})

    assert retry_after_seconds(answer) == seconds
