"""Every provider profile over real HTTP, chosen only by the variables a `.env` would hold.

The offline endpoint stands in for each provider, mounted at that provider's URL shape
(Foundry's `/models`, a local server's `/v1`, GitHub Models' `/inference`). Each test checks
what the provider would see (path, auth headers, model id) and what the learner sees (the
helpers' output, which must be the same as offline).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chat_helpers.connection
import openai
import pytest
from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage
from azure.core.exceptions import HttpResponseError
from chat_helpers import ConfigurationError, Connection, connect, explain, show_answer, show_usage, stream_answer
from chat_helpers import usage_line as usage_text
from chat_helpers.config import VARIABLES
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from offline_endpoint import OfflineEndpoint
from tests.support import FRANCE, SPAIN

KEY = "provider-test-key-3e8f05"  # distinctive, so a test can search the output for it
# The provider's variables, and what connect() exports; the offline pacing stays as the tests set it.
CONFIG_VARIABLES = (*(name for name in VARIABLES if not name.startswith("OFFLINE_")),
                    "CHAT_ENDPOINT_URL", "CHAT_API_KEY", "CHAT_MODEL_ID")
SYSTEM = "You are a helpful assistant."
PARIS = "The capital of France is Paris."
EXERCISE = "Give me 5 good reasons why I should exercise every day."
AZURE_AUTH = ("Authorization", "api-key")  # AzureKeyCredential sends the key both ways
OPENAI_AUTH = ("Authorization",)  # the openai SDK: Bearer only


@dataclass(frozen=True)
class Profile:
    """A provider as `.env` selects it, and what it receives. ``{url}`` is the endpoint's base URL."""

    env: dict[str, str]
    connected: str
    path: str
    model_id: str
    openai_path: str


PROFILES = {
    "foundry": Profile(
        {"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": "{url}/models", "FOUNDRY_API_KEY": KEY},
        "Connected to Microsoft Foundry at {url}/models. Model: Phi-3-mini-4k-instruct.",
        "/models/chat/completions", "Phi-3-mini-4k-instruct", "/openai/v1/chat/completions"),
    "ollama": Profile(
        {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "ollama", "LOCAL_BASE_URL": "{url}/v1"},
        "Connected to Ollama on this machine at {url}/v1. Model: phi3:mini.",
        "/v1/chat/completions", "phi3:mini", "/v1/chat/completions"),
    "foundry-local": Profile(
        {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "foundry-local", "LOCAL_BASE_URL": "{url}/v1"},
        "Connected to Foundry Local on this machine at {url}/v1. Model: phi-3-mini-4k.",
        "/v1/chat/completions", "phi-3-mini-4k", "/v1/chat/completions"),
    "llama-cpp": Profile(
        {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "llama-cpp", "LOCAL_BASE_URL": "{url}/v1", "LOCAL_API_KEY": KEY},
        "Connected to llama.cpp's llama-server on this machine at {url}/v1. Model: Phi-3-mini-4k-instruct.",
        "/v1/chat/completions", "Phi-3-mini-4k-instruct", "/v1/chat/completions"),
    "github-models": Profile(
        {"CHAT_PROVIDER": "github-models", "GITHUB_MODELS_ENDPOINT": "{url}/inference", "GITHUB_TOKEN": KEY},
        "Connected to GitHub Models (retired on 2026-07-30) at {url}/inference. "
        "Model: microsoft/Phi-3-mini-4k-instruct.",
        "/inference/chat/completions", "microsoft/Phi-3-mini-4k-instruct", "/inference/chat/completions"),
}


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[dict[str, str]], None]:
    """``configure(env)``: exactly these variables set, as if from `.env`, and nothing else configured."""
    for name in CONFIG_VARIABLES:
        monkeypatch.setenv(name, "")  # registered, so monkeypatch restores what connect() exports
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer's `.env` on the way

    def apply(env: dict[str, str]) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


def connect_profile(profile: Profile, endpoint: OfflineEndpoint, configure: Callable[[dict[str, str]], None],
                    capsys: pytest.CaptureFixture) -> Connection:
    """connect() with ``profile`` configured against ``endpoint``; checks the one line it prints."""
    configure({name: value.format(url=endpoint.url) for name, value in profile.env.items()})
    chat = connect()
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == profile.connected.format(url=endpoint.url)
    assert KEY not in printed
    return chat


def seeds_with_azure(chat: Connection) -> list[Any]:
    """The seeds' three calls with azure-ai-inference, as the notebooks make them."""
    system = SystemMessage(content=SYSTEM)
    basic = chat.client.complete(messages=[system, UserMessage(content=FRANCE)], model=chat.model,
                                 temperature=1.0, max_tokens=1000, top_p=1.0)
    follow_up = chat.client.complete(model=chat.model, messages=[
        system, UserMessage(content=FRANCE), AssistantMessage(content=PARIS), UserMessage(content=SPAIN)])
    stream = chat.client.complete(stream=True, model=chat.model, messages=[system, UserMessage(content=EXERCISE)])
    return [basic, follow_up, stream]


def seeds_with_openai(chat: Connection) -> list[Any]:
    """The same three calls with the openai SDK, on the client the helper makes."""
    client = chat.openai_client()
    system = {"role": "system", "content": SYSTEM}
    basic = client.chat.completions.create(model=chat.model, temperature=1.0, max_tokens=1000, top_p=1.0,
                                           messages=[system, {"role": "user", "content": FRANCE}])
    follow_up = client.chat.completions.create(model=chat.model, messages=[
        system, {"role": "user", "content": FRANCE}, {"role": "assistant", "content": PARIS},
        {"role": "user", "content": SPAIN}])
    stream = client.chat.completions.create(model=chat.model, stream=True, stream_options={"include_usage": True},
                                            messages=[system, {"role": "user", "content": EXERCISE}])
    return [basic, follow_up, stream]


def what_the_learner_sees(calls: Callable[[], list[Any]]) -> list[str]:
    """The outputs a notebook would store for the seeds' calls, shown with the helpers."""
    with capture_output() as seen:
        basic, follow_up, stream = calls()
        show_answer(basic)
        show_usage(basic)
        show_answer(follow_up)
        answer = stream_answer(stream)
        print(answer.finish_reason, usage_text(answer.usage))
    # Live updates of a streamed answer depend on timing; nbval ignores them, and so does this.
    shown = [output.data["text/markdown"] for output in seen.outputs if not output.update]
    return shown + seen.stdout.splitlines()


@pytest.fixture(scope="module")
def offline_outputs(shell: InteractiveShell) -> list[str]:
    """What the learner sees offline, the reference every profile must match."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("CHAT_PROVIDER", "offline")
        monkeypatch.setenv("CHAT_MODEL", "")
        chat = connect(quiet=True)
        return what_the_learner_sees(lambda: seeds_with_azure(chat))


def test_offline_outputs_are_the_seeds_answers(offline_outputs: list[str]) -> None:
    """The reference is meaningful: the seeds' answers, the streamed one complete, usage that adds up."""
    paris, madrid, live, exercise, basic_usage, stream_end = offline_outputs
    assert (paris, live) == (PARIS, "")  # the live output ends empty; the whole answer follows it
    assert madrid.startswith("The capital of Spain is Madrid.")
    assert exercise.startswith("Here are five good reasons to exercise every day:")
    assert exercise.endswith("start small and build the habit.")
    finish, stream_usage = stream_end.split(" ", 1)
    assert finish == "stop"
    for line in (basic_usage, stream_usage):
        prompt, completion, total = map(int, re.fullmatch(
            r"Tokens: (\d+) prompt \+ (\d+) completion = (\d+) total", line).groups())
        assert prompt > 0 and completion > 0 and prompt + completion == total


# Each SDK: how it runs the seeds' three calls, the path attribute of the profile it posts to,
# and the auth headers it sends.
SDKS = {
    "azure-ai-inference": (seeds_with_azure, "path", AZURE_AUTH),
    "openai": (seeds_with_openai, "openai_path", OPENAI_AUTH),
}


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("name", PROFILES)
def test_profile_sends_what_its_provider_expects_and_shows_what_offline_shows(
        name: str, sdk: str, stand_in: OfflineEndpoint, configure: Callable[[dict[str, str]], None],
        capsys: pytest.CaptureFixture, shell: InteractiveShell, offline_outputs: list[str]) -> None:
    profile = PROFILES[name]
    run_seeds, path_attribute, auth_headers = SDKS[sdk]
    chat = connect_profile(profile, stand_in, configure, capsys)
    seen_before = len(stand_in.requests)
    assert what_the_learner_sees(lambda: run_seeds(chat)) == offline_outputs
    received = list(stand_in.requests)[seen_before:]
    path = getattr(profile, path_attribute)
    assert [(r.path, r.auth_headers, r.model, r.stream, r.status) for r in received] == [
        (path, auth_headers, profile.model_id, stream, 200) for stream in (False, False, True)]


def test_offline_profile_over_http(configure: Callable[[dict[str, str]], None], capsys: pytest.CaptureFixture,
                                   shell: InteractiveShell, offline_outputs: list[str]) -> None:
    configure({"CHAT_PROVIDER": "offline"})
    chat = connect()
    assert capsys.readouterr().out == ("Connected to the offline practice endpoint (answers are scripted, not "
                                       "generated). Model: Phi-3-mini-4k-instruct.\n")
    endpoint = chat_helpers.connection.practice_endpoint()
    seen_before = len(endpoint.requests)
    assert what_the_learner_sees(lambda: seeds_with_openai(chat)) == offline_outputs
    received = list(endpoint.requests)[seen_before:]
    assert [(r.path, r.auth_headers, r.model) for r in received] == [
        ("/v1/chat/completions", OPENAI_AUTH, "Phi-3-mini-4k-instruct")] * 3


@pytest.mark.parametrize(("name", "lesson_model", "model_id"), [
    ("ollama", "Phi-3-medium-4k-instruct", "phi3:medium"),
    ("ollama", "Phi-3-mini-128k-instruct", "phi3:mini-128k"),
    ("foundry-local", "Phi-3-mini-128k-instruct", "phi-3-mini-128k"),
    ("foundry", "Phi-3-small-8k-instruct", "Phi-3-small-8k-instruct"),
    ("github-models", "Phi-3-small-8k-instruct", "microsoft/Phi-3-small-8k-instruct"),
])
def test_a_lesson_model_in_dotenv_reaches_the_provider_as_its_own_id(
        name: str, lesson_model: str, model_id: str, stand_in: OfflineEndpoint,
        configure: Callable[[dict[str, str]], None]) -> None:
    profile = PROFILES[name]
    configure({**{k: v.format(url=stand_in.url) for k, v in profile.env.items()}, "CHAT_MODEL": lesson_model})
    chat = connect(quiet=True)
    response = chat.client.complete(messages=[UserMessage(content=FRANCE)], model=chat.model)
    assert response.choices[0].message.content == PARIS
    assert stand_in.requests[-1].model == model_id


@pytest.mark.parametrize(("name", "env", "message"), [
    ("ollama", {"CHAT_MODEL": "Phi-3-small-8k-instruct"}, "Ollama has no Phi-3-small-8k-instruct."),
    ("foundry", {"FOUNDRY_API_KEY": ""}, "FOUNDRY_API_KEY is not set"),
    ("foundry", {"FOUNDRY_ENDPOINT": "127.0.0.1/models"}, "FOUNDRY_ENDPOINT is not a valid URL"),
    ("github-models", {"GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
])
def test_a_mistake_is_reported_before_any_request(
        name: str, env: dict[str, str], message: str, stand_in: OfflineEndpoint,
        configure: Callable[[dict[str, str]], None]) -> None:
    configured = {**PROFILES[name].env, **env}
    configure({k: v.format(url=stand_in.url) for k, v in configured.items()})
    seen_before = len(stand_in.requests)
    with pytest.raises(ConfigurationError, match=message):
        connect()
    assert len(stand_in.requests) == seen_before


def test_the_retired_service_answers_410_and_the_helper_explains_it(
        stand_in: OfflineEndpoint, configure: Callable[[dict[str, str]], None],
        capsys: pytest.CaptureFixture) -> None:
    chat = connect_profile(PROFILES["github-models"], stand_in, configure, capsys)
    stand_in.faults.add("retired", times=2)
    with pytest.raises(HttpResponseError) as azure_error:
        chat.client.complete(messages=[UserMessage(content=FRANCE)], model=chat.model)
    with pytest.raises(openai.APIStatusError) as openai_error:
        chat.openai_client().chat.completions.create(model=chat.model, messages=[{"role": "user", "content": FRANCE}])
    for error in (azure_error.value, openai_error.value):
        assert error.status_code == 410
        explanation = str(explain(error))
        assert "GitHub Models was retired on 2026-07-30" in explanation
        assert "Set CHAT_PROVIDER=offline (practice), foundry (Microsoft Foundry) or local" in explanation
