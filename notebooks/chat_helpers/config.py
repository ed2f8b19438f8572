"""Which provider, endpoint, key and model the notebooks use, read from `.env` and the environment.

Nothing here sends a request: every mistake in the configuration is found before the first
call and reported in one line that names the variable to fix. Precedence, highest first: the
model a notebook asks for, the environment (e.g. a Codespaces secret), `.env`, the default.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from model_facts import DEFAULT_MODEL, LESSON_MODELS, LOCAL_SERVERS, PROVIDERS, RETIREMENT, model_ids

from .language import LANGUAGE_VARIABLE, N_, _

# Every variable the helper reads (here, and CHAT_LESSON_LANGUAGE in language.py), all documented in `.env.example`.
VARIABLES = ("CHAT_PROVIDER", "CHAT_MODEL", "FOUNDRY_ENDPOINT", "FOUNDRY_API_KEY", "FOUNDRY_USE_ENTRA_ID",
             "LOCAL_SERVER", "LOCAL_BASE_URL", "LOCAL_API_KEY", "LOCAL_MODEL", "LOCAL_MODEL_FILE",
             "LOCAL_THREADS", "LOCAL_CONTEXT_SIZE", "LOCAL_PARALLEL", "GITHUB_TOKEN",
             "GITHUB_MODELS_ENDPOINT", "OFFLINE_FIRST_TOKEN_SECONDS", "OFFLINE_TOKENS_PER_SECOND", LANGUAGE_VARIABLE)
BUILT_IN = "built-in"  # the LOCAL_SERVER that connect() starts itself
IN_CODE = N_("The model given to connect()")  # who asked for a model, when it was not CHAT_MODEL
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def retirement_note() -> str:
    """What connect() adds for GitHub Models: it is retired, and where to go instead."""
    return _("Note: {retired}, so every request will answer 410 Gone. {what_to_do}; .env.example shows how.").format(
        retired=_(RETIREMENT.message), what_to_do=_(RETIREMENT.what_to_do))


# A run of 12+ letters and digits, both, between separators: the body of a key or token in any
# alphabet (hex, base62, base64's + / =), but no part of a model name or a URL's words.
_KEY_RUN = re.compile(r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{12,}")
_LONG_RUN = re.compile(r"[A-Za-z0-9]{24,}")  # no word of a URL or a model name is this long


class ConfigurationError(ValueError):
    """The configuration cannot work; the message names the variable to fix, ``variable``."""

    def __init__(self, message: str, variable: str = "") -> None:
        super().__init__(message)
        self.variable = variable


class MissingSettingError(ConfigurationError):
    """A variable the chosen provider needs (its endpoint or key) is not set."""


class Secret:
    """A key that stays out of every repr, ``vars()`` and f-string: ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('…')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class BuiltInModel:
    """How the built-in llama.cpp server is to run: which GGUF file (None: the bundled one) and its sizes."""

    model_file: str | None = None
    threads: int = 1
    context_size: int = 4096
    parallel: int = 2


@dataclass(frozen=True)
class Settings:
    """A checked configuration. ``endpoint`` is None for a server that ``connect()`` starts itself
    (the offline endpoint, the built-in model); ``built_in`` says how to start the latter."""

    provider: str
    title: str
    model: str
    endpoint: str | None = None
    openai_base_url: str | None = None
    key: Secret = field(default_factory=lambda: Secret(""), repr=False)
    use_entra_id: bool = False
    local_server: str = ""
    built_in: BuiltInModel | None = None


def read_environment(dotenv_path: str | os.PathLike | None = None) -> dict[str, str]:
    """The variables of `.env` (the nearest one above the working folder) overlaid by the environment."""
    path = dotenv_path if dotenv_path is not None else find_dotenv(usecwd=True)
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    return {**from_file, **os.environ}


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=2, cutoff=0.4)
    return " " + _("Did you mean {names}?").format(names=_(" or ").join(close)) if close else ""


def looks_like_a_key(value: str) -> bool:
    """True for a value that may be a key or token, in any alphabet; it is then never shown."""
    if _KEY_RUN.search(value) or _LONG_RUN.search(value):
        return True
    pieces = re.split(r"[^A-Za-z0-9]+", value)
    mixed = any(len(p) >= 8 and re.search(r"[a-z]", p) and re.search(r"[A-Z]", p) and re.search(r"[0-9]", p)
                for p in pieces)
    base64ish = (len(value) >= 16 and bool(re.search(r"[+/=]", value)) and bool(re.search(r"[0-9]", value))
                 and not re.search(r"[.:\s]", value))
    return mixed or base64ish


def _shown(value: str, as_written: str | None = None) -> str:
    """``value`` quoted for an error message, unless it looks like a key pasted into the wrong variable.

    ``as_written`` is the value before it was lower-cased: a key is told by its mix of cases too.
    """
    if looks_like_a_key(as_written or value):
        return _("a {length}-character value that looks like a key, not shown").format(length=len(value))
    return repr(value)


def _check_url(url: str, variable: str) -> str:
    if "<" in url or ">" in url:
        raise ConfigurationError(
            _("{variable} is still the example's placeholder ({url}); replace the <...> part with your own.")
            .format(variable=variable, url=url), variable)
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        valid = False
    if not valid or any(c.isspace() for c in url):
        raise ConfigurationError(
            _("{variable} is not a valid URL ({value}); it should look like https://host/path.")
            .format(variable=variable, value=_shown(url)), variable)
    return url.rstrip("/")


def _flag(env: Mapping[str, str], variable: str) -> bool:
    written = env.get(variable, "").strip()
    value = written.lower()
    if value not in _TRUE + _FALSE:
        raise ConfigurationError(_("{variable} is {value}; set it to true or false.")
                                 .format(variable=variable, value=_shown(value, written)), variable)
    return value in _TRUE


def _number(env: Mapping[str, str], variable: str, default: float) -> float:
    text = env.get(variable, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value >= 0:  # also catches nan
        raise ConfigurationError(_("{variable} is {value}; it should be a number, 0 or more.")
                                 .format(variable=variable, value=_shown(text)), variable)
    return value


class OfflinePacing(NamedTuple):
    """How fast the offline endpoint streams (its own ``Pacing`` takes the same two numbers)."""

    first_token_seconds: float
    tokens_per_second: float


def offline_pacing(env: Mapping[str, str] | None = None) -> OfflinePacing:
    """How fast the offline endpoint streams: like a small model on a laptop unless `.env` says otherwise."""
    env = read_environment() if env is None else env
    return OfflinePacing(_number(env, "OFFLINE_FIRST_TOKEN_SECONDS", 0.3),
                         _number(env, "OFFLINE_TOKENS_PER_SECOND", 60.0))


def _whole_number(env: Mapping[str, str], variable: str, default: int, least: int = 1) -> int:
    text = env.get(variable, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < least:
        raise ConfigurationError(
            _("{variable} is {value}; it should be a whole number, {least} or more.")
            .format(variable=variable, value=_shown(text), least=least), variable)
    return int(text)


def _lesson_model(name: str) -> str | None:
    """The lesson model called ``name`` (any case), or None."""
    matches = [m for m in LESSON_MODELS if m.casefold() == name.strip().casefold()]
    return matches[0] if matches else None


def _model_id(requested: str, table: Mapping[str, str] | None, where: str, asked_by: str) -> str:
    """The id ``where`` uses for the lesson model ``requested``; other names pass unchanged."""
    lesson = _lesson_model(requested)
    if lesson is None or table is None:
        return lesson or requested
    if lesson not in table:
        available = ", ".join(f"{name} ({table[name]})" for name in table)
        message = _("{server} has no {model}. Available: {available}. So pass one of those to connect(), or set "
                    "LOCAL_MODEL to a model you have.") if asked_by == IN_CODE else \
            _("{server} has no {model}. Available: {available}. So use one of those, or set LOCAL_MODEL to a model "
              "you have.")
        raise ConfigurationError(message.format(server=_(where), model=lesson, available=available), "LOCAL_MODEL")
    return table[lesson]


def _unknown_model(requested: str, asked_by: str) -> ConfigurationError:
    in_code = asked_by == IN_CODE
    message = _("{asked_by} is {value}, which the offline endpoint does not know.{did_you_mean} It knows: {models}. "
                "Pass one of those to connect().") if in_code else \
        _("{asked_by} is {value}, which the offline endpoint does not know.{did_you_mean} It knows: {models}. "
          "Set CHAT_MODEL to one of those in .env.")
    return ConfigurationError(message.format(asked_by=_(asked_by), value=_shown(requested),
                                             did_you_mean=_did_you_mean(requested, LESSON_MODELS),
                                             models=", ".join(LESSON_MODELS)), "" if in_code else "CHAT_MODEL")


def _offline(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    lesson = _lesson_model(requested)
    if lesson is None:
        raise _unknown_model(requested, asked_by)
    return Settings("offline", PROVIDERS["offline"]["title"], lesson)


def _foundry(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    endpoint = env.get("FOUNDRY_ENDPOINT", "").strip()
    if not endpoint:
        raise MissingSettingError(
            _("FOUNDRY_ENDPOINT is not set; copy it from your Foundry resource "
              "(https://<resource>.services.ai.azure.com/models)."), "FOUNDRY_ENDPOINT")
    endpoint = _check_url(endpoint, "FOUNDRY_ENDPOINT")
    use_entra_id = _flag(env, "FOUNDRY_USE_ENTRA_ID")
    key = "" if use_entra_id else env.get("FOUNDRY_API_KEY", "").strip()
    if not key and not use_entra_id:
        raise MissingSettingError(
            _("FOUNDRY_API_KEY is not set; add your Foundry key, or set FOUNDRY_USE_ENTRA_ID=true to sign in."),
            "FOUNDRY_API_KEY")
    root = urlsplit(endpoint)
    # The same resource serves the OpenAI/v1 API, which the openai SDK speaks, beside /models.
    return Settings("foundry", PROVIDERS["foundry"]["title"], _lesson_model(requested) or requested,
                    endpoint, f"{root.scheme}://{root.netloc}/openai/v1", Secret(key), use_entra_id)


def _local(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    written = env.get("LOCAL_SERVER", "").strip()
    server = written.lower() or "ollama"
    if server not in LOCAL_SERVERS:
        raise ConfigurationError(
            _("LOCAL_SERVER is {value}.{did_you_mean} Choose one of {choices}.").format(
                value=_shown(server, written), did_you_mean=_did_you_mean(server, LOCAL_SERVERS),
                choices=", ".join(LOCAL_SERVERS)), "LOCAL_SERVER")
    preset = LOCAL_SERVERS[server]
    key = env.get("LOCAL_API_KEY", "").strip() or "no-key-needed"  # the SDKs insist on some key
    if server == BUILT_IN:
        model_file = _model_file(env.get("LOCAL_MODEL_FILE", "").strip())
        built_in = BuiltInModel(model_file, _whole_number(env, "LOCAL_THREADS", 1),
                                _whole_number(env, "LOCAL_CONTEXT_SIZE", 4096, least=256),
                                _whole_number(env, "LOCAL_PARALLEL", 2))
        # The model id is the server's own name for its file, known once it runs.
        return Settings("local", preset["title"], env.get("LOCAL_MODEL", "").strip(), None, None, Secret(key),
                        local_server=server, built_in=built_in)
    base_url = _check_url(env.get("LOCAL_BASE_URL", "").strip() or preset["base_url"], "LOCAL_BASE_URL")
    model_id = env.get("LOCAL_MODEL", "").strip() or _model_id(
        requested, model_ids(server), preset["title"].removesuffix(" on this machine"), asked_by)
    return Settings("local", preset["title"], model_id, base_url, base_url, Secret(key), local_server=server)


def _model_file(written: str) -> str | None:
    """The GGUF file LOCAL_MODEL_FILE names, checked now so a mistake is one line, not a crash at start."""
    if not written:
        return None  # the bundled model
    path = Path(written).expanduser()
    if not path.is_absolute():  # relative to the project, where `.env` is, not to the notebook's folder
        found = find_dotenv(usecwd=True)
        path = (Path(found).parent if found else Path.cwd()) / path
    if not path.is_file():
        raise ConfigurationError(_("LOCAL_MODEL_FILE names {written!r}, which is not a file ({path} does not "
                                   "exist). Put the path of a .gguf file there, or leave it empty for the "
                                   "bundled model.").format(written=written, path=path), "LOCAL_MODEL_FILE")
    try:
        with path.open("rb") as file:
            magic = file.read(4)
    except OSError as error:
        raise ConfigurationError(_("LOCAL_MODEL_FILE names {written!r}, which cannot be read ({reason}).")
                                 .format(written=written, reason=error.strerror), "LOCAL_MODEL_FILE") from None
    if magic != b"GGUF":
        raise ConfigurationError(_("LOCAL_MODEL_FILE names {written!r}, which is not a GGUF model file "
                                   "(llama.cpp reads only .gguf files).").format(written=written), "LOCAL_MODEL_FILE")
    return str(path)


def _github_models(env: Mapping[str, str], requested: str, asked_by: str) -> Settings:
    endpoint = _check_url(env.get("GITHUB_MODELS_ENDPOINT", "").strip()
                          or PROVIDERS["github-models"]["endpoint"], "GITHUB_MODELS_ENDPOINT")
    key = env.get("GITHUB_TOKEN", "").strip()
    if not key:
        raise MissingSettingError(_("GITHUB_TOKEN is not set (and {retired}: {instead} instead).").format(
            retired=_(RETIREMENT.message), instead=_(RETIREMENT.instead)), "GITHUB_TOKEN")
    lesson = _lesson_model(requested)
    return Settings("github-models", PROVIDERS["github-models"]["title"],
                    f"microsoft/{lesson}" if lesson else requested, endpoint, endpoint, Secret(key))


_LOADERS = {"offline": _offline, "foundry": _foundry, "local": _local, "github-models": _github_models}
PROVIDER_NAMES = tuple(_LOADERS)


def load_settings(env: Mapping[str, str] | None = None, model: str | None = None) -> Settings:
    """Check the configuration in ``env`` (default: `.env` and the environment) and return it.

    ``model`` is the lesson's model name; it wins over CHAT_MODEL, which wins over the default.
    GITHUB_TOKEN alone selects nothing: Codespaces sets it for everyone.
    """
    env = read_environment() if env is None else env
    written = env.get("CHAT_PROVIDER", "").strip()
    provider = written.lower() or "offline"
    requested = model or env.get("CHAT_MODEL", "").strip() or DEFAULT_MODEL
    asked_by = IN_CODE if model else "CHAT_MODEL"
    if looks_like_a_key(requested):  # it would be printed in the connection line and sent as the model
        raise ConfigurationError(_("{asked_by} is {value}: put a key in FOUNDRY_API_KEY or LOCAL_API_KEY, and a "
                                   "model name here.").format(asked_by=_(asked_by), value=_shown(requested)),
                                 "" if model else "CHAT_MODEL")
    if provider not in _LOADERS:
        raise ConfigurationError(
            _("CHAT_PROVIDER is {value}.{did_you_mean} Choose one of {choices}.").format(
                value=_shown(provider, written), did_you_mean=_did_you_mean(provider, PROVIDER_NAMES),
                choices=", ".join(PROVIDER_NAMES)), "CHAT_PROVIDER")
    return _LOADERS[provider](env, requested, asked_by)
