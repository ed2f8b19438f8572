"""``connect()``: one call that gives a notebook its client, whatever the configured provider."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

from azure.ai.inference import ChatCompletionsClient
from azure.core.credentials import AzureKeyCredential

from offline_endpoint import OfflineEndpoint, start_in_background

from .config import RETIREMENT_NOTE, ConfigurationError, Settings, load_settings, offline_pacing
from .errors import install_explanations

OFFLINE_KEY = "offline-practice-key"  # the offline endpoint accepts any key; this one is not secret
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


@functools.cache
def offline_endpoint() -> OfflineEndpoint:
    """The offline endpoint of this notebook, started on first use.

    Streamed answers are paced like a small model on a laptop, unless OFFLINE_FIRST_TOKEN_SECONDS
    and OFFLINE_TOKENS_PER_SECOND (in `.env` or the environment) say otherwise (the tests set both to 0).
    """
    return start_in_background(pacing=offline_pacing())


@dataclass(frozen=True)
class Connection:
    """What a notebook needs to talk to a model: ``client``, ``model``, and where they point."""

    provider: str
    title: str
    endpoint: str
    model: str
    client: ChatCompletionsClient = field(repr=False)
    key: str = field(default="", repr=False)
    openai_base_url: str = ""

    def openai_client(self) -> Any:
        """An ``openai.OpenAI`` client for the same provider, key and endpoint."""
        from openai import OpenAI

        install_explanations()  # now that openai is imported, its errors get explained too
        if self.key:
            return OpenAI(base_url=self.openai_base_url, api_key=self.key)
        credential = _entra_credential()  # Entra ID: the SDK asks for a fresh token before each request
        from azure.identity import get_bearer_token_provider

        return OpenAI(base_url=self.openai_base_url, api_key=get_bearer_token_provider(credential, ENTRA_SCOPE))

    def describe(self) -> str:
        """One line on where requests go: the provider, its URL (not for offline) and the model."""
        where = self.title if self.provider == "offline" else f"{self.title} at {self.endpoint}"
        return f"Connected to {where}. Model: {self.model}."


def _entra_credential() -> Any:
    """Entra ID sign-in (az login, a managed identity, ...), from the optional azure-identity package."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigurationError("FOUNDRY_USE_ENTRA_ID=true needs the azure-identity package: run "
                                 "`pip install azure-identity`, or set FOUNDRY_API_KEY and "
                                 "FOUNDRY_USE_ENTRA_ID=false.", "FOUNDRY_USE_ENTRA_ID") from None
    return DefaultAzureCredential()


def _credential(settings: Settings) -> Any:
    return _entra_credential() if settings.use_entra_id else AzureKeyCredential(settings.key)


def connect(model: str | None = None, *, quiet: bool = False) -> Connection:
    """Connect to the configured provider (offline unless `.env` says otherwise).

    ``model`` is a lesson model name such as "Phi-3-mini-4k-instruct"; it is mapped to the
    provider's own id. Prints one line saying where requests go (never the key), plus a note for
    the retired GitHub Models, and puts CHAT_ENDPOINT_URL, CHAT_API_KEY and CHAT_MODEL_ID in the
    environment for shell and Node cells. A configuration that cannot work raises
    ``ConfigurationError`` before any request.
    """
    install_explanations()
    settings = load_settings(model=model)
    if settings.provider == "offline":
        url = offline_endpoint().url
        settings = Settings(settings.provider, settings.title, settings.model, url, url + "/v1", OFFLINE_KEY)
    assert settings.endpoint is not None
    extra = {"credential_scopes": [ENTRA_SCOPE]} if settings.use_entra_id else {}
    client = ChatCompletionsClient(endpoint=settings.endpoint, credential=_credential(settings), **extra)
    os.environ.update(CHAT_ENDPOINT_URL=settings.endpoint, CHAT_MODEL_ID=settings.model)
    if settings.key:
        os.environ["CHAT_API_KEY"] = settings.key
    else:  # Entra ID: no key, so none left over from an earlier connection either
        os.environ.pop("CHAT_API_KEY", None)
    connection = Connection(settings.provider, settings.title, settings.endpoint, settings.model,
                            client, settings.key, settings.openai_base_url or "")
    if not quiet:
        print(connection.describe())
        if settings.provider == "github-models":
            print(RETIREMENT_NOTE)
    return connection
