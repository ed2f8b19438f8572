"""Which provider, endpoint, key and model the notebooks use, read from `.env` and the environment.

Nothing here sends a request: every mistake in the configuration is found before the first
call and reported in one line that names the variable to fix. Environment variables win
over `.env`, so a Codespaces secret overrides the file.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from offline_endpoint import DEFAULT_MODEL, MODELS

PROVIDERS = tomllib.loads((Path(__file__).parent / "providers.toml").read_text(encoding="utf-8"))
LOCAL_SERVERS = PROVIDERS["local"]
PROVIDER_NAMES = ("offline", "foundry", "local", "github-models")
LESSON_MODELS = tuple(model.name for model in MODELS)


class ConfigurationError(ValueError):
    """The configuration cannot work; the message names the variable to fix."""


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


def _check_url(url: str, variable: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{variable} is not a valid URL ({url!r}); it should look like https://host/path.")
    return url.rstrip("/")


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
            f"{where} has no {lesson}. Available: {available}. Or set {variable} to a model you have.")
    return table[lesson]


def load_settings(env: Mapping[str, str] | None = None, model: str | None = None) -> Settings:
    """Check the configuration in ``env`` (default: `.env` and the environment) and return it.

    ``model`` is the lesson's model name; it wins over CHAT_MODEL, which wins over the default.
    """
    env = read_environment() if env is None else env
    provider = env.get("CHAT_PROVIDER", "").strip().lower() or "offline"
    requested = model or env.get("CHAT_MODEL", "").strip() or DEFAULT_MODEL

    if provider == "offline":
        if _lesson_model(requested) is None:
            close = difflib.get_close_matches(requested, LESSON_MODELS, n=2, cutoff=0.4)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ConfigurationError(
                f"CHAT_MODEL is {requested!r}, which the offline endpoint does not know.{hint} "
                f"It knows: {', '.join(LESSON_MODELS)}.")
        return Settings("offline", PROVIDERS["offline"]["title"], _lesson_model(requested) or requested)

    if provider == "foundry":
        endpoint = env.get("FOUNDRY_ENDPOINT", "").strip()
        if not endpoint:
            raise ConfigurationError(
                "FOUNDRY_ENDPOINT is not set; copy it from your Foundry resource "
                "(https://<resource>.services.ai.azure.com/models).")
        endpoint = _check_url(endpoint, "FOUNDRY_ENDPOINT")
        use_entra_id = env.get("FOUNDRY_USE_ENTRA_ID", "").strip().lower() in ("1", "true", "yes")
        key = env.get("FOUNDRY_API_KEY", "").strip()
        if not key and not use_entra_id:
            raise ConfigurationError(
                "FOUNDRY_API_KEY is not set; add your Foundry key, or set FOUNDRY_USE_ENTRA_ID=true to sign in.")
        root = urlsplit(endpoint)
        return Settings("foundry", PROVIDERS["foundry"]["title"], _lesson_model(requested) or requested,
                        endpoint, f"{root.scheme}://{root.netloc}/openai/v1", key, use_entra_id)

    if provider == "local":
        server = env.get("LOCAL_SERVER", "").strip().lower() or "ollama"
        if server not in LOCAL_SERVERS:
            raise ConfigurationError(
                f"LOCAL_SERVER is {server!r}; choose one of {', '.join(LOCAL_SERVERS)}.")
        preset = LOCAL_SERVERS[server]
        base_url = _check_url(env.get("LOCAL_BASE_URL", "").strip() or preset["base_url"], "LOCAL_BASE_URL")
        model_id = env.get("LOCAL_MODEL", "").strip() or _model_id(
            requested, preset.get("models"), preset["title"].removesuffix(" on this machine"), "LOCAL_MODEL")
        key = env.get("LOCAL_API_KEY", "").strip() or "no-key-needed"
        return Settings("local", preset["title"], model_id, base_url, base_url, key)

    if provider == "github-models":
        endpoint = _check_url(env.get("GITHUB_MODELS_ENDPOINT", "").strip()
                              or PROVIDERS["github-models"]["endpoint"], "GITHUB_MODELS_ENDPOINT")
        key = env.get("GITHUB_TOKEN", "").strip()
        if not key:
            raise ConfigurationError("GITHUB_TOKEN is not set (and GitHub Models is retired: "
                                     "set CHAT_PROVIDER=offline, foundry or local instead).")
        lesson = _lesson_model(requested)
        return Settings("github-models", PROVIDERS["github-models"]["title"],
                        f"microsoft/{lesson}" if lesson else requested, endpoint, endpoint, key)

    raise ConfigurationError(
        f"CHAT_PROVIDER is {provider!r}; choose one of {', '.join(PROVIDER_NAMES)}.")
