"""Configuration as a learner meets it: what `.env` and the environment select, and what a mistake says.

Every mistake must be one line that names the variable to fix, and no key may appear in
anything printed or in a repr.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_helpers import ConfigurationError, connect, explain, load_settings, practice_endpoint
from chat_helpers.config import VARIABLES, looks_like_a_key, offline_pacing, read_environment
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
KEY = "config-test-key-5b0c71"  # distinctive, so a test can search any output for it
FOUNDRY_URL = "https://contoso-phi.services.ai.azure.com/models"
OFFLINE_LINE = ("Connected to the offline practice endpoint (answers are scripted, not generated). "
                "Model: Phi-3-mini-4k-instruct.")
EXPORTED = ("CHAT_ENDPOINT_URL", "CHAT_API_KEY", "CHAT_MODEL_ID")


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A project folder with no `.env` yet and no configuration in the environment.

    connect() exports CHAT_* variables; registering them here makes monkeypatch restore them.
    """
    for name in VARIABLES:
        if not name.startswith("OFFLINE_"):  # the offline pacing stays as the tests set it
            monkeypatch.delenv(name, raising=False)
    for name in EXPORTED:
        monkeypatch.setenv(name, "")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write_env(folder: Path, **variables: str) -> None:
    (folder / ".env").write_text("".join(f"{name}={value}\n" for name, value in variables.items()), encoding="utf-8")


def error_of(env: dict[str, str], model: str | None = None) -> str:
    """The message of the configuration error ``env`` causes; it must be a single line."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env, model=model)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- what is selected, and from where ---

def test_nothing_configured_is_offline_with_the_default_model(project: Path, capsys: pytest.CaptureFixture) -> None:
    chat = connect()
    assert capsys.readouterr().out == OFFLINE_LINE + "\n"
    assert (chat.provider, chat.model) == ("offline", "Phi-3-mini-4k-instruct")


def test_github_token_alone_selects_offline(project: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", KEY)  # what Codespaces does for everyone
    chat = connect()
    assert capsys.readouterr().out == OFFLINE_LINE + "\n"
    assert chat.provider == "offline"
    assert load_settings({"GITHUB_TOKEN": KEY, "GITHUB_MODELS_ENDPOINT": "https://models.github.ai/inference"}
                         ).provider == "offline"


def test_model_precedence_argument_then_environment_then_dotenv_then_default(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().model == "Phi-3-mini-4k-instruct"
    write_env(project, CHAT_MODEL="Phi-3-medium-4k-instruct")
    assert load_settings().model == "Phi-3-medium-4k-instruct"
    monkeypatch.setenv("CHAT_MODEL", "Phi-3-small-8k-instruct")
    assert load_settings().model == "Phi-3-small-8k-instruct"
    assert load_settings(model="Phi-3-mini-128k-instruct").model == "Phi-3-mini-128k-instruct"
    assert connect("Phi-3-mini-128k-instruct", quiet=True).model == "Phi-3-mini-128k-instruct"


def test_provider_precedence_environment_over_dotenv(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_env(project, CHAT_PROVIDER="local", LOCAL_SERVER="foundry-local")
    settings = load_settings()
    assert (settings.provider, settings.endpoint, settings.model) == (
        "local", "http://localhost:5273/v1", "phi-3-mini-4k")
    monkeypatch.setenv("CHAT_PROVIDER", "offline")  # e.g. a Codespaces secret
    assert load_settings().provider == "offline"


def test_dotenv_is_found_from_a_subfolder_and_an_empty_environment_value_wins(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_env(project, CHAT_PROVIDER="local", CHAT_MODEL="Phi-3-medium-4k-instruct")
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")  # the kernel starts in the notebooks' folder
    assert read_environment()["CHAT_PROVIDER"] == "local"
    assert load_settings().model == "phi3:medium"
    monkeypatch.setenv("CHAT_MODEL", "")  # how the tests neutralise a developer's `.env`
    assert load_settings().model == "phi3:mini"


def test_offline_pacing_comes_from_dotenv_unless_the_environment_says_otherwise(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OFFLINE_FIRST_TOKEN_SECONDS", raising=False)
    monkeypatch.delenv("OFFLINE_TOKENS_PER_SECOND", raising=False)
    assert offline_pacing() == offline_pacing({"OFFLINE_FIRST_TOKEN_SECONDS": "0.3", "OFFLINE_TOKENS_PER_SECOND": "60"})
    write_env(project, OFFLINE_FIRST_TOKEN_SECONDS="1.5", OFFLINE_TOKENS_PER_SECOND="20")
    assert (offline_pacing().first_token_seconds, offline_pacing().tokens_per_second) == (1.5, 20.0)
    monkeypatch.setenv("OFFLINE_TOKENS_PER_SECOND", "0")
    assert offline_pacing().tokens_per_second == 0.0


def test_each_provider_maps_the_lesson_model_to_its_own_id() -> None:
    def model(**env: str) -> str:
        return load_settings(env, model="Phi-3-medium-128k-instruct").model

    assert model(CHAT_PROVIDER="offline") == "Phi-3-medium-128k-instruct"
    assert model(CHAT_PROVIDER="foundry", FOUNDRY_ENDPOINT=FOUNDRY_URL, FOUNDRY_API_KEY=KEY) == \
        "Phi-3-medium-128k-instruct"
    assert model(CHAT_PROVIDER="local", LOCAL_SERVER="ollama") == "phi3:medium-128k"
    assert model(CHAT_PROVIDER="local", LOCAL_SERVER="llama-cpp") == "Phi-3-medium-128k-instruct"
    assert model(CHAT_PROVIDER="local", LOCAL_MODEL="phi4-mini") == "phi4-mini"
    assert model(CHAT_PROVIDER="github-models", GITHUB_TOKEN=KEY) == "microsoft/Phi-3-medium-128k-instruct"


def test_foundry_derives_the_openai_v1_url_from_the_models_endpoint() -> None:
    settings = load_settings({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": FOUNDRY_URL + "/",
                              "FOUNDRY_API_KEY": KEY})
    assert settings.endpoint == FOUNDRY_URL
    assert settings.openai_base_url == "https://contoso-phi.services.ai.azure.com/openai/v1"


def test_foundry_with_entra_id_needs_no_key() -> None:
    settings = load_settings({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": FOUNDRY_URL,
                              "FOUNDRY_USE_ENTRA_ID": "true"})
    assert settings.use_entra_id and not settings.key


# --- every mistake, by its message ---

@pytest.mark.parametrize(("env", "expected"), [
    pytest.param({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": "contoso.services.ai.azure.com/models",
                  "FOUNDRY_API_KEY": KEY},
                 "FOUNDRY_ENDPOINT is not a valid URL ('contoso.services.ai.azure.com/models'); "
                 "it should look like https://host/path.", id="url-without-scheme"),
    pytest.param({"CHAT_PROVIDER": "local", "LOCAL_BASE_URL": "http://localhost:port/v1"},
                 "LOCAL_BASE_URL is not a valid URL", id="url-with-bad-port"),
    pytest.param({"CHAT_PROVIDER": "github-models", "GITHUB_TOKEN": KEY, "GITHUB_MODELS_ENDPOINT": "ftp://x/y"},
                 "GITHUB_MODELS_ENDPOINT is not a valid URL", id="url-with-wrong-scheme"),
    pytest.param({"CHAT_PROVIDER": "foundry", "FOUNDRY_API_KEY": KEY},
                 "FOUNDRY_ENDPOINT is not set; copy it from your Foundry resource", id="missing-endpoint"),
    pytest.param({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": FOUNDRY_URL},
                 "FOUNDRY_API_KEY is not set; add your Foundry key, or set FOUNDRY_USE_ENTRA_ID=true",
                 id="missing-foundry-key"),
    pytest.param({"CHAT_PROVIDER": "github-models"},
                 "GITHUB_TOKEN is not set (and GitHub Models was retired on 2026-07-30: set CHAT_PROVIDER=offline "
                 "(practice), foundry (Microsoft Foundry) or local", id="missing-github-token"),
    pytest.param({"CHAT_PROVIDER": "openai"},
                 "CHAT_PROVIDER is 'openai'. Choose one of offline, foundry, local, github-models.",
                 id="unknown-provider"),
    pytest.param({"CHAT_PROVIDER": "Foundary"}, "CHAT_PROVIDER is 'foundary'. Did you mean foundry?",
                 id="misspelt-provider"),
    pytest.param({"CHAT_PROVIDER": "local", "LOCAL_SERVER": "lmstudio"},
                 "LOCAL_SERVER is 'lmstudio'. Choose one of ollama, foundry-local, llama-cpp, built-in.",
                 id="unknown-local-server"),
    pytest.param({"CHAT_PROVIDER": "local", "CHAT_MODEL": "Phi-3-small-8k-instruct"},
                 "Ollama has no Phi-3-small-8k-instruct. Available: Phi-3-mini-4k-instruct (phi3:mini), ",
                 id="model-ollama-lacks"),
    pytest.param({"CHAT_PROVIDER": "local", "LOCAL_SERVER": "foundry-local", "CHAT_MODEL": "Phi-3-medium-4k-instruct"},
                 "Foundry Local has no Phi-3-medium-4k-instruct. Available: Phi-3-mini-4k-instruct (phi-3-mini-4k), "
                 "Phi-3-mini-128k-instruct (phi-3-mini-128k). So use one of those, or set LOCAL_MODEL to a model you "
                 "have.",
                 id="model-foundry-local-lacks"),
    pytest.param({"CHAT_MODEL": "Phi-3-mini"},
                 "CHAT_MODEL is 'Phi-3-mini', which the offline endpoint does not know. Did you mean "
                 "Phi-3-mini-4k-instruct or Phi-3-mini-128k-instruct? It knows: Phi-3-mini-4k-instruct,",
                 id="unknown-offline-model"),
    pytest.param({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": FOUNDRY_URL, "FOUNDRY_USE_ENTRA_ID": "ture"},
                 "FOUNDRY_USE_ENTRA_ID is 'ture'; set it to true or false.", id="entra-id-not-a-flag"),
])
def test_a_mistake_is_one_line_naming_the_variable(env: dict[str, str], expected: str) -> None:
    assert error_of(env).startswith(expected)


def test_the_placeholder_copied_from_env_example_is_rejected() -> None:
    example = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    env = {**example, "CHAT_PROVIDER": "foundry", "FOUNDRY_API_KEY": KEY}
    assert error_of(env) == ("FOUNDRY_ENDPOINT is still the example's placeholder "
                             "(https://<resource>.services.ai.azure.com/models); replace the <...> part with your own.")


def test_env_example_as_copied_selects_offline() -> None:
    example = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    assert load_settings(example).provider == "offline"
    assert offline_pacing(example).tokens_per_second == 60.0


def test_a_model_given_to_connect_is_named_as_such_when_unknown() -> None:
    assert error_of({}, model="Phi-3-smal-8k-instruct").startswith(
        "The model given to connect() is 'Phi-3-smal-8k-instruct', which the offline endpoint does not know. "
        "Did you mean Phi-3-small-8k-instruct")


def test_a_model_given_in_code_is_fixed_in_code_not_in_dotenv() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({}, model="Phi-3.5-mini-instruct")
    assert str(caught.value).endswith("Pass one of those to connect().")
    assert caught.value.variable == ""  # no variable of .env is to blame
    explanation = str(explain(caught.value))
    assert "connect(...)" in explanation and ".env" not in explanation


def test_offline_pacing_that_is_not_a_number_names_its_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^OFFLINE_TOKENS_PER_SECOND is 'fast'; it should be a number"):
        offline_pacing({"OFFLINE_TOKENS_PER_SECOND": "fast"})
    with pytest.raises(ConfigurationError, match=r"^OFFLINE_FIRST_TOKEN_SECONDS is '-1'"):
        offline_pacing({"OFFLINE_FIRST_TOKEN_SECONDS": "-1"})


def test_entra_id_without_azure_identity_says_how_to_install_it(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as on a machine without the optional extra
    write_env(project, CHAT_PROVIDER="foundry", FOUNDRY_ENDPOINT=FOUNDRY_URL, FOUNDRY_USE_ENTRA_ID="true")
    with pytest.raises(ConfigurationError) as caught:
        connect()
    assert str(caught.value) == ("FOUNDRY_USE_ENTRA_ID=true needs the azure-identity package: run "
                                 "`pip install azure-identity`, or set FOUNDRY_API_KEY and FOUNDRY_USE_ENTRA_ID=false.")


# --- keys stay secret ---

@pytest.mark.parametrize("env", [
    pytest.param({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": FOUNDRY_URL, "FOUNDRY_API_KEY": KEY}, id="foundry"),
    pytest.param({"CHAT_PROVIDER": "local", "LOCAL_API_KEY": KEY, "LOCAL_BASE_URL": "SERVER"}, id="local"),
    pytest.param({"CHAT_PROVIDER": "github-models", "GITHUB_TOKEN": KEY}, id="github-models"),
])
def test_no_key_in_any_printed_line_or_repr(project: Path, env: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    if env.get("LOCAL_BASE_URL") == "SERVER":  # connect() checks that a local server answers
        env = {**env, "LOCAL_BASE_URL": practice_endpoint().url + "/v1"}
    write_env(project, **env)
    chat = connect()
    printed = capsys.readouterr()
    assert printed.out.startswith("Connected to ")
    assert KEY not in printed.out + printed.err
    settings = load_settings()
    assert settings.key.reveal() == KEY  # the key is there, only never shown
    for text in (repr(settings), str(settings), repr(chat), str(chat), chat.describe(), repr(vars(chat)),
                 repr(vars(settings)), repr(chat.key), f"{chat.key}"):
        assert KEY not in text


def test_no_key_in_a_configuration_error(project: Path) -> None:
    message = error_of({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": "not a url", "FOUNDRY_API_KEY": KEY})
    assert KEY not in message


# Keys in the alphabets keys come in: hex, base62, base64 (+ / =), URL-safe base64, and a token prefix.
PASTED_KEYS = ["a1b2c3d4" * 4, "Zx81" * 21, "q+Zr/8Kd0w9PpL3s+uY2=", "q-Zr_8Kd0w9PpL3s-uY2", "ghp_" + "aB3d" * 9,
               "sk-proj-" + "X9y" * 10]
WRONG_PLACES = ["CHAT_PROVIDER", "CHAT_MODEL", "FOUNDRY_ENDPOINT", "FOUNDRY_USE_ENTRA_ID", "LOCAL_SERVER",
                "LOCAL_BASE_URL", "LOCAL_THREADS", "OFFLINE_TOKENS_PER_SECOND"]


@pytest.mark.parametrize("variable", WRONG_PLACES)
@pytest.mark.parametrize("pasted", PASTED_KEYS)
def test_a_key_pasted_into_the_wrong_variable_is_not_shown(project: Path, variable: str, pasted: str) -> None:
    provider = "local" if variable.startswith("LOCAL_") else "foundry"
    env = {"CHAT_PROVIDER": provider, "FOUNDRY_ENDPOINT": "https://contoso.services.ai.azure.com/models",
           "FOUNDRY_API_KEY": KEY, "LOCAL_SERVER": "built-in" if variable == "LOCAL_THREADS" else "ollama",
           variable: pasted}
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env)
        offline_pacing(env)
    message = str(caught.value)
    assert message.startswith(f"{variable} is ") or message.startswith(f"{variable} is not a valid URL")
    for piece in (pasted, pasted.lower(), pasted[4:20].lower()):
        assert piece not in message.lower()
    assert "looks like a key" in message


@pytest.mark.parametrize("name", ["Phi-3-medium-128k-instruct", "phi3:mini-128k", "Phi-3.5-mini-instruct",
                                  "https://contoso-phi.services.ai.azure.com/models"])
def test_model_names_and_urls_are_not_taken_for_keys(name: str) -> None:
    assert not looks_like_a_key(name)


def test_the_retired_provider_prints_what_to_set_instead(project: Path, capsys: pytest.CaptureFixture) -> None:
    write_env(project, CHAT_PROVIDER="github-models", GITHUB_TOKEN=KEY)
    connect()
    connected, note = capsys.readouterr().out.splitlines()
    assert connected == ("Connected to GitHub Models (retired on 2026-07-30) at https://models.github.ai/inference. "
                         "Model: microsoft/Phi-3-mini-4k-instruct.")
    assert note.startswith("Note: GitHub Models was retired on 2026-07-30, so every request will answer 410 Gone. "
                           "Set CHAT_PROVIDER=offline (practice), foundry (Microsoft Foundry) or local")


def test_env_example_documents_every_variable_and_no_other() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assigned = set(re.findall(r"^([A-Z_]+)=", text, re.M))
    assert assigned <= set(VARIABLES)
    assert [name for name in VARIABLES if name not in text] == []


# --- the built-in model's file ---

@pytest.mark.parametrize(("make", "says"), [
    pytest.param(lambda folder: folder / "missing.gguf", "which is not a file", id="missing"),
    pytest.param(lambda folder: folder, "which is not a file", id="a-folder"),
    pytest.param(lambda folder: (folder / "notes.gguf", (folder / "notes.gguf").write_text("not a model"))[0],
                 "which is not a GGUF model file", id="not-gguf"),
])
def test_a_wrong_model_file_is_one_line_naming_the_variable(project: Path, make, says: str) -> None:
    path = make(project)
    message = error_of({"CHAT_PROVIDER": "local", "LOCAL_SERVER": "built-in", "LOCAL_MODEL_FILE": str(path)})
    assert message.startswith(f"LOCAL_MODEL_FILE names {str(path)!r}, {says}")


def test_an_unreadable_model_file_is_one_line_naming_the_variable(project: Path) -> None:
    # A file whose first bytes cannot be read, whoever runs the test (root reads any mode 000 file).
    unreadable = "/proc/self/mem"
    message = error_of({"CHAT_PROVIDER": "local", "LOCAL_SERVER": "built-in", "LOCAL_MODEL_FILE": unreadable})
    assert message.startswith(f"LOCAL_MODEL_FILE names {unreadable!r}, which cannot be read (")


def test_a_relative_model_file_is_found_from_the_project_folder(project: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "models").mkdir()
    (project / "models" / "tiny.gguf").write_bytes(b"GGUF and the rest")
    write_env(project, CHAT_PROVIDER="local", LOCAL_SERVER="built-in", LOCAL_MODEL_FILE="models/tiny.gguf")
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")  # where a notebook's kernel runs
    assert load_settings().built_in.model_file == str(project / "models" / "tiny.gguf")
