"""Readable explanations of the failures a learner meets, instead of a bare stack trace.

``explain(error)`` turns an exception into three lines: what happened, why, and what to do.
It knows the errors of the azure-ai-inference SDK (azure-core) and of the openai SDK, from any
server: the texts are in ``explanations.toml``, and the facts that fill them come from what the
server sent (``failures.py``) and from the request that was sent, never from one server's wording.
``explain_answer()`` does the same for an answer that arrived but is not whole.
"""

from __future__ import annotations

import difflib
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from model_facts import FREE_TIER, LESSON_MODELS, MODELS, RETIREMENT, estimate_tokens, find_model

from .config import ConfigurationError
from .display import finish_reason
from .failures import HttpFailure, chain, http_failure, is_cut_off, openai_module, retry_after_seconds, where
from .language import N_, _

TEXTS: dict[str, dict[str, str]] = tomllib.loads(
    (Path(__file__).parent / "explanations.toml").read_text(encoding="utf-8"))
_ALL_NAMES = {name.casefold(): model.name for model in MODELS for name in model.names}
# What x-ratelimit-type names, in the free tier's published numbers.
_ALLOWANCES = {"ByMinute": (N_("{count} requests per minute"), FREE_TIER.requests_per_minute),
               "ByDay": (N_("{count} requests per day"), FREE_TIER.requests_per_day)}
CONTEXT_ERROR_CODES = ("tokens_limit_reached", "context_length_exceeded")
CONTEXT_ERROR_TYPES = ("exceed_context_size_error",)  # llama.cpp's documented error type


@dataclass(frozen=True)
class Explanation:
    """What happened, why, and what to do next, for one failure."""

    what: str
    why: str
    todo: str

    def __str__(self) -> str:
        return "\n".join((self.what, _("Why: {why}").format(why=self.why),
                          _("What to do: {todo}").format(todo=self.todo)))

    def wrapped(self, width: int = 90) -> str:
        """The same lines folded at ``width`` between words (a notebook folds them mid-word)."""
        return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in str(self).splitlines())


class ServerNotAnswering(ConnectionError):
    """``connect()`` found nothing answering at a local server's URL."""

    START = {"ollama": N_("Start it with `ollama serve`"),
             "foundry-local": N_("Start it with `foundry service start` (`foundry service status` shows its URL)"),
             "llama-cpp": N_("Start `llama-server` with your model")}
    START_ANY = N_("Start the server")

    def __init__(self, server: str, url: str, reason: str, local_server: str = "") -> None:
        super().__init__(_("Nothing answers at {url} ({server}): {reason}.").format(url=url, server=server,
                                                                                    reason=reason))
        self.server, self.url, self.reason = server, url, reason
        self.start = _(self.START.get(local_server, self.START_ANY))


class BuiltInModelFailed(RuntimeError):
    """The built-in model could not start; the message says why, in one line."""


def _text(name: str, **values: Any) -> Explanation:
    entry = TEXTS[name]
    return Explanation(*(_(entry[part]).format(**values) for part in ("what", "why", "todo")))


def _duration(seconds: int) -> str:
    """5631 -> "1 h 34 min"; 42 -> "42 s"."""
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    minutes = round(seconds / 60)
    hours = _("{hours} h").format(hours=minutes // 60) if minutes >= 60 else ""
    rest = _("{minutes} min").format(minutes=minutes % 60) if minutes % 60 else ""
    return " ".join(part for part in (hours, rest) if part)


def closest_models(name: str) -> list[str]:
    """The lesson models ``name`` may be a misspelling of (lesson names first, then any of their names)."""
    key = name.casefold().removeprefix("microsoft/")
    lesson = {m.casefold(): m for m in LESSON_MODELS}
    found = difflib.get_close_matches(key, list(lesson), n=2, cutoff=0.6)
    if found:
        return [lesson[k] for k in found]
    return list(dict.fromkeys(_ALL_NAMES[k] for k in difflib.get_close_matches(key, list(_ALL_NAMES), n=2,
                                                                                  cutoff=0.6)))


def _connection_failure(error: BaseException) -> Explanation:
    text = " ".join(str(e) for e in chain(error)).lower()
    if "refused" in text:
        return _text("refused", where=where(error))
    if any(words in text for words in ("resolve", "name or service not known", "nodename", "getaddrinfo")):
        return _text("unknown_host", where=where(error))
    return _text("no_connection")


def _rate_limited(answer: HttpFailure) -> Explanation:
    kind = answer.headers.get("x-ratelimit-type", "")
    seconds = retry_after_seconds(answer)
    wait = None if seconds is None else int(seconds)
    allowance = next((_(text).format(count=count) for suffix, (text, count) in _ALLOWANCES.items()
                      if kind.endswith(suffix)), _("a fixed number of requests"))
    if kind.endswith("ByDay"):
        when = _("in about {duration} (retry-after: {seconds} s)").format(duration=_duration(wait), seconds=wait) \
            if wait is not None else _("tomorrow")
        return _text("rate_limited_day", kind=kind, allowance=allowance, when=when)
    if "Concurrent" in kind:
        return _text("rate_limited_concurrent", kind=kind)
    return _text("rate_limited", kind=kind or "HTTP 429", allowance=allowance,
                 pause=_("{seconds} s").format(seconds=wait) if wait is not None else _("a little"))


def _content_filtered(answer: HttpFailure) -> Explanation:
    results = answer.inner.get("content_filter_result") or {}
    flagged = [_("{category} ({severity} severity)").format(category=category, severity=verdict.get("severity", "?"))
               for category, verdict in results.items() if isinstance(verdict, Mapping) and verdict.get("filtered")]
    return _text("content_filter", flagged=", ".join(flagged) or _("a category it does not name"))


def _too_long(answer: HttpFailure) -> Explanation | None:
    """A prompt over the context, or max_tokens over the limit, from the error's documented code or
    type and from the request that was sent (its size estimated, or as the server counted it)."""
    if answer.code not in CONTEXT_ERROR_CODES and answer.fields.get("type") not in CONTEXT_ERROR_TYPES:
        return None
    model = find_model(str(answer.sent.get("model") or ""))
    asked = answer.sent.get("max_tokens")
    if answer.status == 400 and isinstance(asked, int) and asked > FREE_TIER.max_output_tokens \
            and "n_ctx" not in answer.fields:
        return _text("max_tokens_too_high", asked=asked, limit=FREE_TIER.max_output_tokens)
    counted = answer.fields.get("n_prompt_tokens")
    messages = answer.sent.get("messages")
    count = counted if isinstance(counted, int) else (
        estimate_tokens(m for m in messages if isinstance(m, Mapping)) if isinstance(messages, list) else None)
    limit = answer.fields.get("n_ctx") or (model.max_input_tokens if model else None)
    numbers = ""
    if limit and count and isinstance(counted, int):
        numbers = _(": {count} tokens, over the limit of {limit}").format(count=count, limit=limit)
    elif limit and count:
        numbers = _(": about {count} tokens, over the limit of {limit}").format(count=count, limit=limit)
    elif limit:
        numbers = _(": over the limit of {limit}").format(limit=limit)
    return _text("prompt_too_long", numbers=numbers, max_input=f"{FREE_TIER.max_input_tokens:,}")


def _explain_http(answer: HttpFailure) -> Explanation | None:
    status, code, message = answer.status, answer.code, answer.message
    label = f"{status} {code}".strip()
    if status == 401:
        return _text("unauthorized", message=message)
    if status == 403:
        return _text("forbidden", message=message)
    if status == 404 and code in ("unknown_model", "model_not_found", "DeploymentNotFound"):
        model = str(answer.sent.get("model") or "?")
        close = closest_models(model)
        hint = _("Did you mean {names}?").format(names=_(" or ").join(close)) if close \
            else _("Known here: {names}.").format(names=", ".join(LESSON_MODELS))
        return _text("unknown_model", model=model, label=label, hint=hint)
    if status == 404:
        return _text("not_found", label=label, message=message)
    if status == 410:
        return _text("retired", retired=_(RETIREMENT.message), instead=_(RETIREMENT.what_to_do))
    if status == 429:
        return _rate_limited(answer)
    if code == "content_filter":
        return _content_filtered(answer)
    if status in (400, 413) and (too_long := _too_long(answer)):
        return too_long
    if status == 400:
        return _text("bad_request", label=label, message=message)
    if status is not None and status >= 500:
        return _text("server_failed", label=label)
    return None


def explain(error: BaseException) -> Explanation | None:
    """An explanation of ``error``, or None when it is not one this collection knows."""
    if isinstance(error, ConfigurationError):
        return _text("configuration" if error.variable else "model_in_code", error=error)
    if isinstance(error, BuiltInModelFailed):
        return _text("built_in_failed", error=error)
    if isinstance(error, ServerNotAnswering):
        return _text("server_not_answering", url=error.url, server=error.server, reason=error.reason,
                     start=error.start)
    if is_cut_off(error):
        return _text("cut_off")
    openai = openai_module()
    if isinstance(error, (ServiceResponseTimeoutError,) + ((openai.APITimeoutError,) if openai else ())):
        return _text("read_timeout")
    if isinstance(error, ServiceRequestTimeoutError):
        return _text("connect_timeout", where=where(error))
    if isinstance(error, ServiceRequestError) or (openai and type(error) is openai.APIConnectionError):
        return _connection_failure(error)
    if isinstance(error, ServiceResponseError):
        return _text("dropped")
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
        return _text("answer_filtered")
    if reason == "length":
        return _text("answer_length")
    if reason is None and choices is None:
        return _text("answer_unfinished")
    return None


def check_answer(answer: Any) -> None:
    """Print whether an answer is whole, and if not why and what to do (see ``explain_answer``)."""
    explanation = explain_answer(answer)
    print(_("The answer is complete.") if explanation is None else explanation)


def show_error(error: BaseException) -> None:
    """Print what the exception itself says (class, HTTP status, code), then its explanation."""
    facts = http_failure(error)
    details = ", ".join(part for part in (
        f"HTTP {facts.status}" if facts.status else "", f"code {facts.code!r}" if facts.code else "") if part)
    print(type(error).__name__ + (f" ({details})" if details else ""))
    explanation = explain(error)
    print(explanation.wrapped() if explanation else _("(no explanation for this one) {error}").format(error=error))
