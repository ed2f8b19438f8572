"""Which provider, endpoint, key and model the notebooks use, read from `.env` and the environment.

Nothing here sends a request: every mistake in the configuration is found before the first
call and reported in one line that names the variable to fix. Precedence, highest first: the
model a notebook asks for, the environment (e.g. a Codespaces secret), `.env`, the default.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from offline_endpoint import DEFAULT_MODEL, MODELS, Pacing

PROVIDERS = tomllib.loads((Path(__file__).parent / "providers.toml").read_text(encoding="utf-8"))
LOCAL_SERVERS = PROVIDERS["local"]
LESSON_MODELS = tuple(model.name for model in MODELS)
# Every variable read here, all documented in `.env.example`.
VARIABLES = ("CHAT_PROVIDER", "CHAT_MODEL", "FOUNDRY_ENDPOINT", "FOUNDRY_API_KEY", "FOUNDRY_USE_ENTRA_ID",
             "LOCAL_SERVER", "LOCAL_BASE_URL", "LOCAL_API_KEY", "LOCAL_MODEL", "GITHUB_TOKEN",
             "GITHUB_MODELS_ENDPOINT", "OFFLINE_FIRST_TOKEN_SECONDS", "OFFLINE_TOKENS_PER_SECOND")
RETIREMENT_NOTE = ("Note: GitHub Models was retired on 2026-07-30, so every request will answer 410 Gone. "
                   "Set CHAT_PROVIDER=offline (practice), foundry (Microsoft Foundry) or local "
                   "(Ollama, Foundry Local, llama.cpp) in .env instead; .env.example shows how.")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class ConfigurationError(ValueError):
    """The configuration cannot work; the message names the variable to fix, ``variable``."""

    def __init__(self, message: str, variable: str = "") -> None:
        super().__init__(message)
        self.variable = variable


class MissingSettingError(ConfigurationError):
    """A variable the chosen provider needs (its endpoint or key) is not set."""


@dataclass(frozen=True)
class Settings:
    """A checked configuration. ``endpoint`` is None for the offline endpoint (started on use)."""

    provider: str
    title: str
    model: str
    endpoint: str | None = None
    openai_base_url: str | None = None
    key: str = field(default="", repr=False)
    use_entra_id: bool = False


def read_environment(dotenv_path: str | os.PathLike | None = None) -> dict[str, str]:
    """The variables of `.env` (the nearest one above the working folder) overlaid by the environment."""
    path = dotenv_path if dotenv_path is not None else find_dotenv(usecwd=True)
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    return {**from_file, **os.environ}


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=2, cutoff=0.4)
    return f" Did you mean {' or '.join(close)}?" if close else ""


def _shown(value: str) -> str:
    """``value`` quoted for an error message, unless it looks like a key pasted into the wrong variable."""
    if re.fullmatch(r"[A-Za-z0-9_\-]{16,}", value):
        return f"a {len(value)}-character value that looks like a key, not shown"
    return repr(value)


def _check_url(url: str, variable: str) -> str:
    if "<" in url or ">" in url:
        raise ConfigurationError(
            f"{variable} is still the example's placeholder ({url}); replace the <...> part with your own.",
            variable)
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        valid = False
    if not valid or any(c.isspace() for c in url):
        raise ConfigurationError(
            f"{variable} is not a valid URL ({_shown(url)}); it should look like https://host/path.", variable)
    return url.rstrip("/")


def _flag(env: Mapping[str, str], variable: str) -> bool:
    value = env.get(variable, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ConfigurationError(f"{variable} is {_shown(value)}; set it to true or false.", variable)
    return value in _TRUE


def _number(env: Mapping[str, str], variable: str, default: float) -> float:
    text = env.get(variable, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value >= 0:  # also catches nan
        raise ConfigurationError(f"{variable} is {_shown(text)}; it should be a number, 0 or more.", variable)
    return value


def offline_pacing(env: Mapping[str, str] | None = None) -> Pacing:
    """How fast the offline endpoint streams: like a small model on a laptop unless `.env` says otherwise."""
    env = read_environment() if env is None else env
    return Pacing(first_token_seconds=_number(env, "OFFLINE_FIRST_TOKEN_SECONDS", 0.3),
                  tokens_per_second=_number(env, "OFFLINE_TOKENS_PER_SECOND", 60.0))


def _lesson_model(name: str) -> str | None:
    """The lesson model called ``name`` (any case), or None."""
    matches = [m for m in LESSON_MODELS if m.casefold() == name.strip().casefold()]
    return matches[0] if matches else None


def _model_id(requested: str, table: Mapping[str, str] | None, where: str, variable: str) -> str:
    """The id ``where`` uses for the lesson model ``requested``; other names pass unchanged."""
    lesson = _lesson_model(requested)
    if lesson is None or table is None:
        return lesson or requested
    if lesson not in table:
        available = ", ".join(f"{name} ({table[name]})" for name in table)
        raise ConfigurationError(
            f"{where} has no {lesson}. Available: {available}. Or set {variable} to a model you have.", variable)
    return table[lesson]


def _offline(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    lesson = _lesson_model(requested)
    if lesson is None:
        raise ConfigurationError(
            f"{asked_by} is {requested!r}, which the offline endpoint does not know."
            f"{_did_you_mean(requested, LESSON_MODELS)} It knows: {', '.join(LESSON_MODELS)}.", "CHAT_MODEL")
    return Settings("offline", PROVIDERS["offline"]["title"], lesson)


def _foundry(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    endpoint = env.get("FOUNDRY_ENDPOINT", "").strip()
    if not endpoint:
        raise MissingSettingError(
            "FOUNDRY_ENDPOINT is not set; copy it from your Foundry resource "
            "(https://<resource>.services.ai.azure.com/models).", "FOUNDRY_ENDPOINT")
    endpoint = _check_url(endpoint, "FOUNDRY_ENDPOINT")
    use_entra_id = _flag(env, "FOUNDRY_USE_ENTRA_ID")
    key = "" if use_entra_id else env.get("FOUNDRY_API_KEY", "").strip()
    if not key and not use_entra_id:
        raise MissingSettingError(
            "FOUNDRY_API_KEY is not set; add your Foundry key, or set FOUNDRY_USE_ENTRA_ID=true to sign in.",
            "FOUNDRY_API_KEY")
    root = urlsplit(endpoint)
    # The same resource serves the OpenAI/v1 API, which the openai SDK speaks, beside /models.
    return Settings("foundry", PROVIDERS["foundry"]["title"], _lesson_model(requested) or requested,
                    endpoint, f"{root.scheme}://{root.netloc}/openai/v1", key, use_entra_id)


def _local(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    server = env.get("LOCAL_SERVER", "").strip().lower() or "ollama"
    if server not in LOCAL_SERVERS:
        raise ConfigurationError(
            f"LOCAL_SERVER is {server!r}.{_did_you_mean(server, LOCAL_SERVERS)} "
            f"Choose one of {', '.join(LOCAL_SERVERS)}.", "LOCAL_SERVER")
    preset = LOCAL_SERVERS[server]
    base_url = _check_url(env.get("LOCAL_BASE_URL", "").strip() or preset["base_url"], "LOCAL_BASE_URL")
    model_id = env.get("LOCAL_MODEL", "").strip() or _model_id(
        requested, preset.get("models"), preset["title"].removesuffix(" on this machine"), "LOCAL_MODEL")
    key = env.get("LOCAL_API_KEY", "").strip() or "no-key-needed"  # the SDKs insist on some key
    return Settings("local", preset["title"], model_id, base_url, base_url, key)


def _github_models(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    endpoint = _check_url(env.get("GITHUB_MODELS_ENDPOINT", "").strip()
                          or PROVIDERS["github-models"]["endpoint"], "GITHUB_MODELS_ENDPOINT")
    key = env.get("GITHUB_TOKEN", "").strip()
    if not key:
        raise MissingSettingError("GITHUB_TOKEN is not set (and GitHub Models is retired: "
                                  "set CHAT_PROVIDER=offline, foundry or local instead).", "GITHUB_TOKEN")
    lesson = _lesson_model(requested)
    return Settings("github-models", PROVIDERS["github-models"]["title"],
                    f"microsoft/{lesson}" if lesson else requested, endpoint, endpoint, key)


_LOADERS = {"offline": _offline, "foundry": _foundry, "local": _local, "github-models": _github_models}
PROVIDER_NAMES = tuple(_LOADERS)


def load_settings(env: Mapping[str, str] | None = None, model: str | None = None) -> Settings:
    """Check the configuration in ``env`` (default: `.env` and the environment) and return it.

    ``model`` is the lesson's model name; it wins over CHAT_MODEL, which wins over the default.
    GITHUB_TOKEN alone selects nothing: Codespaces sets it for everyone.
    """
    env = read_environment() if env is None else env
    provider = env.get("CHAT_PROVIDER", "").strip().lower() or "offline"
    requested = model or env.get("CHAT_MODEL", "").strip() or DEFAULT_MODEL
    asked_by = "The model given to connect()" if model else "CHAT_MODEL"
    if provider not in _LOADERS:
        raise ConfigurationError(
            f"CHAT_PROVIDER is {provider!r}.{_did_you_mean(provider, PROVIDER_NAMES)} "
            f"Choose one of {', '.join(PROVIDER_NAMES)}.", "CHAT_PROVIDER")
    return _LOADERS[provider](env, requested, asked_by)
