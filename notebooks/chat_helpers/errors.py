"""Readable explanations of the failures a learner meets, shown instead of a bare stack trace.

``explain(error)`` turns an exception into two or three lines: what happened, why, and what
to do. It knows the errors of the azure-ai-inference SDK (azure-core) and of the openai SDK.
``install_explanations()`` makes a notebook show those lines whenever a cell fails with such
an error (call it again after importing openai); the original exception stays available as
``last_error()``. ``check_answer()`` does
the same for an answer that arrived but is not whole (a content filter, ``max_tokens``, a
stream cut off midway).
"""

from __future__ import annotations

import difflib
import re
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from offline_endpoint import MODELS

from .config import ConfigurationError
from .display import finish_reason

_last_error: BaseException | None = None

KNOWN_MODEL_NAMES = tuple(name for model in MODELS for name in (model.name, *model.aliases))
_KNOWN_BY_FOLDED = {name.casefold(): name for name in KNOWN_MODEL_NAMES}
# Exceptions that a broken connection in the middle of a streamed body leaves in the chain.
_CUT_OFF_CAUSES = {"ChunkedEncodingError", "IncompleteRead", "ProtocolError", "RemoteProtocolError"}


@dataclass(frozen=True)
class Explanation:
    """What happened, why, and what to do next, for one failure."""

    what: str
    why: str
    todo: str

    def __str__(self) -> str:
        return f"{self.what}\nWhy: {self.why}\nWhat to do: {self.todo}"

    def wrapped(self, width: int = 90) -> str:
        """The same lines folded at ``width`` between words (a notebook folds them mid-word)."""
        return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in str(self).splitlines())


@dataclass(frozen=True)
class HttpFailure:
    """What an HTTP error response said (status, code, message, headers), the same for both SDKs."""

    status: int | None
    code: str = ""
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    inner: Mapping[str, Any] = field(default_factory=dict)


def _openai() -> Any:
    """The openai SDK if this program has imported it (importing it here would slow every lesson by
    a second); an error from it means it has been imported."""
    return sys.modules.get("openai")


def _status(error: BaseException) -> int | None:
    return getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)


def http_failure(error: BaseException) -> HttpFailure:
    """What the service answered, from an azure-core or openai error (status None: no answer)."""
    status = _status(error)
    response = getattr(error, "response", None)
    headers = {str(k).lower(): str(v) for k, v in dict(getattr(response, "headers", None) or {}).items()}
    body = getattr(error, "error", None)  # azure-core: the parsed {"error": {...}} (ODataV4Format)
    if body is not None:
        return HttpFailure(status, body.code or "", body.message or "", headers, body.innererror or {})
    body = getattr(error, "body", None)  # openai: the value of "error", or the whole body
    if isinstance(body, dict):
        return HttpFailure(status, str(body.get("code") or ""), str(body.get("message") or ""), headers,
                           body.get("innererror") or {})
    return HttpFailure(status, str(getattr(error, "code", "") or ""), str(getattr(error, "message", "")), headers)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what caused it: ``__cause__``, ``__context__`` and azure-core's ``inner_exception``."""
    seen: list[BaseException] = []
    todo = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "inner_exception", None)]
    return seen


def _is_cut_off(error: BaseException) -> bool:
    """True for an answer whose body broke off midway (a stream cut off)."""
    if isinstance(error, IncompleteReadError):
        return True
    if isinstance(error, HttpResponseError) and error.status_code is None:
        return True  # a response had begun, so its status was read; the body then broke off
    openai = _openai()
    is_openai_connection = openai is not None and isinstance(error, openai.APIConnectionError)
    return is_openai_connection and any(type(e).__name__ in _CUT_OFF_CAUSES for e in _chain(error)[1:])


def _where(error: BaseException) -> str:
    """host:port the request went to, from the error (never the key: URLs here carry none)."""
    request = getattr(error, "request", None)
    url = getattr(request, "url", None)
    if url is not None and getattr(url, "host", None):
        return f"{url.host}:{url.port}" if url.port else str(url.host)
    found = re.search(r"host='([^']+)', port=(\d+)", str(error))
    return f"{found[1]}:{found[2]}" if found else "the endpoint's address"


def _duration(seconds: int) -> str:
    """5631 -> "1 h 34 min"; 42 -> "42 s"."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    hours = f"{minutes // 60} h" if minutes >= 60 else ""
    return " ".join(part for part in (hours, f"{minutes % 60} min" if minutes % 60 else "") if part)


def _per(seconds: int) -> str:
    """60 -> "minute"; 86400 -> "day"; other windows in seconds."""
    return {60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")


def _closest_models(name: str) -> list[str]:
    key = name.casefold().removeprefix("microsoft/")
    return [_KNOWN_BY_FOLDED[k] for k in difflib.get_close_matches(key, list(_KNOWN_BY_FOLDED), n=2, cutoff=0.6)]


def retry_after_seconds(answer: HttpFailure) -> float | None:
    """The wait a ``retry-after`` header asks for, in seconds, or None if it names no usable one."""
    text = answer.headers.get("retry-after", "")
    return float(text) if re.fullmatch(r"\d+(\.\d+)?", text.strip()) else None


def _connection_failure(error: BaseException) -> Explanation:
    text = " ".join(str(e) for e in _chain(error))
    where = _where(error)
    if "refused" in text.lower():
        return Explanation(
            f"Nothing is listening at {where} (connection refused).",
            "the server is not running there, or it listens on another port.",
            "start it (Ollama: `ollama serve`; Foundry Local: `foundry service status` shows its URL) "
            "or fix the URL in .env (LOCAL_BASE_URL or FOUNDRY_ENDPOINT), then restart the kernel.")
    if re.search(r"resolve|name or service not known|nodename|getaddrinfo", text, re.IGNORECASE):
        return Explanation(f"The host name of {where} could not be found.",
                           "the URL is mistyped, or this machine has no network.",
                           "check the endpoint URL in .env and your network connection.")
    return Explanation("The request did not reach the service.",
                       "the connection failed before an answer could arrive (network, proxy or firewall).",
                       "check the endpoint URL in .env and your network, then try again.")


def _rate_limited(answer: HttpFailure) -> Explanation:
    kind = answer.headers.get("x-ratelimit-type", "")
    seconds = retry_after_seconds(answer)
    wait = None if seconds is None else int(seconds)
    limit = re.search(r"Rate limit of (\d+) per (\d+)s", answer.message)
    allowance = f"{limit[1]} requests per {_per(int(limit[2]))}" if limit else "a fixed number of requests"
    if kind.endswith("ByDay"):
        when = f"in about {_duration(wait)} (retry-after: {wait} s)" if wait is not None else "tomorrow"
        return Explanation(
            f"Daily limit reached ({kind}): this key has used its {allowance} for this model.",
            "the free tier counts requests per user and model per day; retrying now only fails again.",
            f"do not retry: the quota returns {when}. Meanwhile use another model (each has its own "
            "quota) or another provider in .env.")
    if "Concurrent" in kind:
        return Explanation(
            f"Too many requests at once ({kind}).",
            "the service allows only a few requests in flight per user and model.",
            "send fewer at the same time: a RequestPacer with concurrent=... keeps the count down.")
    pause = f"{wait} s" if wait is not None else "a little"
    return Explanation(
        f"Rate limited ({kind or 'HTTP 429'}): too many requests in a short time.",
        f"the service allows {allowance} per user and model.",
        f"wait {pause} (retry-after) and send it again: call_with_retry() does that for you, "
        "and a RequestPacer keeps a loop under the limit.")


def _content_filtered(answer: HttpFailure) -> Explanation:
    results = answer.inner.get("content_filter_result") or {}
    flagged = [f"{category} ({verdict.get('severity', '?')} severity)" for category, verdict in results.items()
               if isinstance(verdict, Mapping) and verdict.get("filtered")]
    which = ", ".join(flagged) or "a category it does not name"
    return Explanation(
        f"The content filter blocked the prompt: {which}.",
        "the service runs Azure AI Content Safety on every prompt and answer (hate, self-harm, sexual, "
        "violence); on GitHub Models it could not be switched off.",
        "rephrase the prompt. If a harmless prompt is blocked, a paid deployment lets you tune the filters.")


def _too_long(answer: HttpFailure) -> Explanation | None:
    text = answer.message
    if found := re.search(r"max_tokens is (\d+), but the limit .*? is (\d+) output tokens", text):
        return Explanation(
            f"max_tokens asks for {found[1]} tokens, over the limit of {found[2]} output tokens per request.",
            "each request may ask for a limited number of answer tokens (the free tier: 4,000).",
            f"ask for at most {found[2]} with max_tokens.")
    limit = re.search(r"Max size: (\d+) tokens|maximum context length is (\d+) tokens", text)
    count = re.search(r"has about (\d+)|resulted in (\d+) tokens", text)
    if limit is None and answer.code not in ("tokens_limit_reached", "context_length_exceeded"):
        return None
    numbers = ""
    if limit:
        numbers = f": about {count[1] or count[2]} tokens, over the limit of " if count else ": over the limit of "
        numbers += f"{limit[1] or limit[2]}"
    return Explanation(
        f"The prompt is too long for the model{numbers}.",
        "a model reads at most its context window (4,096 tokens for the 4k models), and the free tier "
        "took at most 8,000 tokens in per request.",
        "shorten the prompt or drop old turns (Conversation keeps the newest that fit), or use a 128k model.")


def _explain_http(answer: HttpFailure) -> Explanation | None:
    status, code, message = answer.status, answer.code, answer.message
    label = f"{status} {code}".strip()
    if status == 401:
        if "`models` permission" in message:
            return Explanation(
                "The service refused the GitHub token (401): it lacks the `models` permission.",
                "a GitHub token reaches GitHub Models only with the `models: read` permission.",
                "create a fine-grained token with Models: read. But GitHub Models is retired: set "
                "CHAT_PROVIDER=offline, foundry or local in .env instead.")
        return Explanation(f"The service refused the key (401 Unauthorized): {message}",
                           "the key is missing, mistyped, expired, or belongs to another resource.",
                           "copy the key again into .env (FOUNDRY_API_KEY or LOCAL_API_KEY), then restart "
                           "the kernel.")
    if status == 403:
        return Explanation(f"The service knows the key but refused this request (403 Forbidden): {message}",
                           "this key or account may not use this model or resource (a missing role, a model "
                           "not deployed for you, a network rule).",
                           "check that the model is deployed in your resource and that your account has a "
                           "role that may call it, or pick another model.")
    if status == 404 and code == "unknown_model":
        name = message.split(":", 1)[1].strip() if ":" in message else "?"
        close = _closest_models(name)
        hint = f"did you mean {' or '.join(close)}?" if close else f"known here: {', '.join(m.name for m in MODELS)}."
        return Explanation(f"The service does not know the model {name!r} (404 unknown_model).",
                           "a model name must match one the provider serves, letter for letter.",
                           f"{hint[0].upper()}{hint[1:]} Set CHAT_MODEL in .env or pass the name to connect().")
    if status == 404:
        return Explanation(f"Nothing answers at this address ({label}): {message}",
                           "the endpoint URL has a wrong path or host.",
                           "check the endpoint in .env: Foundry's ends in /models, local servers' in /v1.")
    if status == 410:
        return Explanation(
            "The service answered 410 Gone: GitHub Models was retired on 2026-07-30.",
            "the GitHub Models API no longer serves requests, whatever the token.",
            "set CHAT_PROVIDER=offline (practice), foundry (Microsoft Foundry) or local "
            "(Ollama, Foundry Local, llama.cpp) in .env; the notebooks stay the same.")
    if status == 429:
        return _rate_limited(answer)
    if code == "content_filter":
        return _content_filtered(answer)
    if status in (400, 413) and (too_long := _too_long(answer)):
        return too_long
    if status == 400:
        return Explanation(f"The service rejected the request ({label}): {message}",
                           "a parameter has a wrong name, type or value.",
                           "read the message: it names the parameter to fix.")
    if status is not None and status >= 500:
        return Explanation(f"The service failed ({label}).",
                           "the problem is on the service's side, not in your code.",
                           "try again in a moment.")
    return None


def explain(error: BaseException) -> Explanation | None:
    """An explanation of ``error``, or None when it is not one this collection knows."""
    if isinstance(error, ConfigurationError):
        return Explanation(f"The configuration cannot work: {error}",
                           "it is checked before any request is sent.",
                           "fix that variable in your .env file, then restart the kernel.")
    if _is_cut_off(error):
        return Explanation(
            "The answer was cut off midway: the connection closed before the model finished.",
            "the server or something between (a proxy, the network) dropped the connection.",
            "stream_answer() keeps what arrived and marks it incomplete; ask again for the whole answer.")
    openai = _openai()
    timeouts = (ServiceResponseTimeoutError,) + ((openai.APITimeoutError,) if openai else ())
    if isinstance(error, timeouts):
        return Explanation(
            "No answer arrived in time (a timeout).",
            "the model is slow or busy, the answer is long, or a local server is still loading the model "
            "(the first request to Ollama can take a minute).",
            "try again; allow longer (complete(..., read_timeout=120); openai: timeout=120), or stream the "
            "answer so it arrives piece by piece.")
    if isinstance(error, ServiceRequestTimeoutError):
        return Explanation(f"Could not connect to {_where(error)} in time (a timeout).",
                           "the host does not answer: a wrong address, no network, or a firewall.",
                           "check the endpoint URL in .env and your network connection.")
    if isinstance(error, ServiceRequestError) or (openai and type(error) is openai.APIConnectionError):
        return _connection_failure(error)
    if isinstance(error, ServiceResponseError):
        return Explanation("The connection closed before an answer arrived.",
                           "the server dropped the connection (it stopped, restarted, or a proxy cut it).",
                           "try again in a moment.")
    if isinstance(error, HttpResponseError) or (openai and isinstance(error, openai.APIStatusError)):
        return _explain_http(http_failure(error))
    return None


def explain_answer(answer: Any) -> Explanation | None:
    """Why an answer that did arrive is not whole, or None when it is.

    ``answer`` is a response (``client.complete(...)``, either SDK) or the ``StreamedAnswer`` of
    ``stream_answer()``.
    """
    error = getattr(answer, "error", None)
    if isinstance(error, BaseException):
        return explain(error)
    choices = getattr(answer, "choices", None)
    reason = finish_reason(choices[0]) if choices else getattr(answer, "finish_reason", None)
    if reason == "content_filter":
        return Explanation(
            "The content filter stopped the answer (finish_reason 'content_filter'): the text is partial.",
            "the service checks the answer as it is written too, and stops it when a category (hate, "
            "self-harm, sexual, violence) is flagged.",
            "do not use the partial answer as if it were whole; rephrase the question.")
    if reason == "length":
        return Explanation("The answer was cut off at max_tokens (finish_reason 'length').",
                           "the model had more to say than max_tokens allowed.",
                           "raise max_tokens, or ask for a shorter answer.")
    if reason is None and choices is None:
        return Explanation("The stream ended before the model said it had finished (no finish_reason).",
                           "the server closed the stream early.",
                           "treat the text as incomplete; ask again for the whole answer.")
    return None


def check_answer(answer: Any) -> None:
    """Print whether an answer is whole, and if not why and what to do (see ``explain_answer``)."""
    explanation = explain_answer(answer)
    print("The answer is complete." if explanation is None else explanation)


def show_error(error: BaseException) -> None:
    """Print what the exception itself says (class, HTTP status, code), then its explanation."""
    facts = http_failure(error)
    details = ", ".join(part for part in (
        f"HTTP {facts.status}" if facts.status else "", f"code {facts.code!r}" if facts.code else "") if part)
    print(type(error).__name__ + (f" ({details})" if details else ""))
    explanation = explain(error)
    print(explanation.wrapped() if explanation else f"(no explanation for this one) {error}")


def last_error() -> BaseException | None:
    """The exception behind the last explanation shown in this notebook."""
    return _last_error


def _show_explanation(shell, etype, value, tb, tb_offset=None):  # IPython's custom-exception hook
    global _last_error
    explanation = explain(value)
    if explanation is None:
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    _last_error = value
    lines = [f"{etype.__name__}: {explanation.wrapped()}", "(The original exception is kept: last_error() returns it.)"]
    # Published as the cell's error, so "Run all" stops here and tests see the failure,
    # but shown as the explanation instead of a stack trace.
    shell._showtraceback(etype, str(explanation), lines)
    return None


def install_explanations() -> None:
    """In a notebook, show explanations instead of stack traces for the errors ``explain`` knows."""
    explain_errors(True)


def explain_errors(on: bool = True) -> None:
    """Switch the explanations on (``connect()`` does) or off, to see the full stack trace again.

    Off, a failing cell shows IPython's usual traceback; ``explain(error)`` still works by hand.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    if not on:
        shell.set_custom_exc((), None)
        return
    openai = _openai()
    explained = (AzureError, ConfigurationError) + ((openai.OpenAIError,) if openai else ())
    shell.set_custom_exc(explained, _show_explanation)
