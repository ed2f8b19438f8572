"""``connect()``: one call that gives a notebook its client, whatever the configured provider.

The servers it may start itself, the offline endpoint and the built-in model, are imported
only when the configuration asks for them: with any other provider neither is loaded.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from typing import Any

from azure.ai.inference import ChatCompletionsClient
from azure.core.credentials import AzureKeyCredential

from model_facts import find_model

from .config import (
    BUILT_IN,
    BuiltInModel,
    ConfigurationError,
    Secret,
    Settings,
    load_settings,
    offline_pacing,
    read_environment,
    retirement_note,
)
from .explanations import BuiltInModelFailed, ServerNotAnswering
from .ipython_hook import install_explanations
from .language import _

OFFLINE_KEY = "offline-practice-key"  # the offline endpoint accepts any key; this one is not secret
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
PROBE_SECONDS = 3.0  # a local server that does not answer its model list by then is not running


@functools.cache
def practice_endpoint() -> Any:
    """The offline endpoint of this kernel (an ``OfflineEndpoint``), started on first use.

    Streamed answers are paced like a small model on a laptop, unless OFFLINE_FIRST_TOKEN_SECONDS
    and OFFLINE_TOKENS_PER_SECOND (in `.env` or the environment) say otherwise (the tests set both to 0).
    """
    from offline_endpoint import Pacing, start_in_background

    # Faults by header on: lesson 06 asks for one with curl, as a learner may by hand.
    return start_in_background(pacing=Pacing(*offline_pacing()), allow_fault_header=True)


_built_in: dict[str, Any] = {}  # the one built-in server of this kernel, and the options it runs with


def built_in_server(options: BuiltInModel) -> Any:
    """The built-in llama.cpp server of this kernel (a ``builtin_model`` server), started on first use.

    Never a second one in the same kernel: a later ``connect()`` reuses it, and says so if `.env`
    now asks for other settings (they apply after a kernel restart). It serves from a thread of
    this process, so it ends with the kernel and never outlives it.
    """
    if "server" in _built_in:
        if _built_in["options"] != options:
            print(_("(The built-in model already runs in this kernel with the settings it started with; "
                    "restart the kernel to use the new ones from .env.)"))
        return _built_in["server"]
    import builtin_model

    try:
        server = builtin_model.start(options.model_file, threads=options.threads,
                                     context_size=options.context_size, parallel=options.parallel)
    except builtin_model.BuiltinModelError as error:
        raise BuiltInModelFailed(str(error)) from None
    _built_in.update(server=server, options=options)
    return server


@dataclass(frozen=True)
class Connection:
    """What a notebook needs to talk to a model: ``client`` and ``model``, and where they point.

    ``context_window`` is the model's context in tokens when known (None otherwise); a
    ``Conversation`` keeps its prompts inside half of it.
    """

    settings: Settings = field(repr=False)
    client: ChatCompletionsClient = field(repr=False)
    context_window: int | None = None
    note: str = ""  # what the connection line adds about this model, e.g. the built-in one's limits

    @property
    def provider(self) -> str:
        """offline, foundry, local or github-models."""
        return self.settings.provider

    @property
    def title(self) -> str:
        return self.settings.title

    @property
    def endpoint(self) -> str:
        """The URL the azure-ai-inference client sends to."""
        return self.settings.endpoint or ""

    @property
    def model(self) -> str:
        """The model id every request names, in the provider's own spelling."""
        return self.settings.model

    @property
    def key(self) -> Secret:
        return self.settings.key

    @property
    def openai_base_url(self) -> str:
        """The same provider's OpenAI-compatible base URL, for the openai SDK."""
        return self.settings.openai_base_url or ""

    def with_model(self, model: str) -> Connection:
        """The same provider and client, naming another model in each request."""
        known = find_model(model)
        return replace(self, settings=replace(self.settings, model=model),
                       context_window=known.context_window if known else self.context_window)

    def openai_client(self, **options: Any) -> Any:
        """An ``openai.OpenAI`` client for the same provider, key and endpoint."""
        from openai import OpenAI

        install_explanations()  # now that openai is imported, its errors get explained too
        if self.key:
            return OpenAI(base_url=self.openai_base_url, api_key=self.key.reveal(), **options)
        credential = entra_credential()  # Entra ID: the SDK asks for a fresh token before each request
        from azure.identity import get_bearer_token_provider

        return OpenAI(base_url=self.openai_base_url,
                      api_key=get_bearer_token_provider(credential, ENTRA_SCOPE), **options)

    def describe(self) -> str:
        """One line on where requests go: the provider, its URL (not for offline) and the model."""
        if self.provider == "offline":
            line = _("Connected to {provider}. Model: {model}.").format(provider=_(self.title), model=self.model)
        else:
            line = _("Connected to {provider} at {endpoint}. Model: {model}.").format(
                provider=_(self.title), endpoint=self.endpoint, model=self.model)
        return line + (f" {self.note}" if self.note else "")


def entra_credential(asynchronous: bool = False) -> Any:
    """Entra ID sign-in (az login, a managed identity, ...), from the optional azure-identity package
    (its ``aio`` flavour for the async clients)."""
    try:
        if asynchronous:
            from azure.identity.aio import DefaultAzureCredential
        else:
            from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigurationError(_("FOUNDRY_USE_ENTRA_ID=true needs the azure-identity package: run "
                                   "`pip install azure-identity`, or set FOUNDRY_API_KEY and "
                                   "FOUNDRY_USE_ENTRA_ID=false."), "FOUNDRY_USE_ENTRA_ID") from None
    return DefaultAzureCredential()


def _check_answers(settings: Settings) -> None:
    """Ask a local server for its model list, so a server that is not running is reported now,
    not at the first call. Any HTTP answer will do (401 and 404 included): something listens."""
    request = urllib.request.Request(f"{settings.endpoint}/models", headers={"User-Agent": "chat-helpers"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_SECONDS):  # noqa: S310 (a URL from .env)
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ServerNotAnswering(settings.title.removesuffix(" on this machine"), settings.endpoint,
                                 str(getattr(reason, "strerror", None) or reason), settings.local_server) from None


def _started_here(settings: Settings) -> tuple[Settings, int | None, str]:
    """``settings`` with the URL of the server this kernel starts for it, its context (None when
    the model's own is meant), and a note."""
    if settings.provider == "offline":
        url = practice_endpoint().url
        return replace(settings, endpoint=url, openai_base_url=url + "/v1", key=Secret(OFFLINE_KEY)), None, ""
    assert settings.built_in is not None
    server = built_in_server(settings.built_in)
    note = _("Model file: {name}.").format(name=server.model_file.name)
    if server.is_bundled:
        note += " " + _("It is a 135M-parameter model: it writes fluent but often wrong text. It is here so "
                        "you can see real generation offline; .env can point LOCAL_MODEL_FILE at a Phi GGUF file.")
    return (replace(settings, endpoint=server.base_url, openai_base_url=server.base_url,
                    model=settings.model or server.model_name),
            server.slot_context, note)


def connect(model: str | None = None, *, quiet: bool = False, real: bool = False) -> Connection:
    """Connect to the configured provider (offline unless `.env` says otherwise).

    ``model`` is a lesson model name such as "Phi-3-mini-4k-instruct"; it is mapped to the
    provider's own id. Prints one line saying where requests go (never the key), plus a note for
    the retired GitHub Models, and puts CHAT_ENDPOINT_URL, CHAT_API_KEY and CHAT_MODEL_ID in the
    environment for shell and Node cells. A configuration that cannot work raises
    ``ConfigurationError`` before any request; a local server that does not answer raises
    ``ServerNotAnswering``. Errors from here on are explained instead of shown as a stack trace
    (``explain_errors(False)`` shows the trace again).

    ``real=True`` asks for a real model where the lesson needs one: the configured provider if
    it is a real one, else the built-in model (llama.cpp in this kernel, no account needed).
    """
    install_explanations()
    settings = load_settings(model=model)
    if real and settings.provider == "offline":
        settings = load_settings({**read_environment(), "CHAT_PROVIDER": "local", "LOCAL_SERVER": BUILT_IN,
                                  "LOCAL_MODEL": ""}, model=model)
    context_window, note = None, ""
    if settings.endpoint is None:
        settings, context_window, note = _started_here(settings)
    elif settings.provider == "local":
        _check_answers(settings)
    if context_window is None and (known := find_model(settings.model)):
        context_window = known.context_window
    assert settings.endpoint is not None
    if settings.use_entra_id:
        client = ChatCompletionsClient(endpoint=settings.endpoint, credential=entra_credential(),
                                       credential_scopes=[ENTRA_SCOPE])
    else:
        client = ChatCompletionsClient(endpoint=settings.endpoint, credential=AzureKeyCredential(settings.key.reveal()))
    os.environ.update(CHAT_ENDPOINT_URL=settings.endpoint, CHAT_MODEL_ID=settings.model)
    if settings.key:
        os.environ["CHAT_API_KEY"] = settings.key.reveal()
    else:  # Entra ID: no key, so none left over from an earlier connection either
        os.environ.pop("CHAT_API_KEY", None)
    connection = Connection(settings, client, context_window, note)
    if not quiet:
        print(connection.describe())
        if settings.provider == "github-models":
            print(retirement_note())
    return connection


def practice_fault(name: str, times: int = 1) -> bool:
    """Make the offline endpoint answer the next ``times`` requests with the failure ``name``
    (its list: ``offline_endpoint/faults.toml``), so a lesson can show that failure on demand.

    Only the offline endpoint fails on demand: with another provider this prints a one-line
    note, changes nothing, and returns False (the next call then goes through as usual).
    """
    settings = load_settings()
    if settings.provider != "offline":
        print(_("(Only the offline endpoint can fail on demand; {provider} answers as usual.)").format(
            provider=_(settings.title)))
        return False
    practice_endpoint().faults.add(name, times=times)
    return True
