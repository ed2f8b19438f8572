"""Facts read from a failed call, the same for both SDKs: the HTTP status, the error body's
documented fields, the headers, and the request that was sent.

Nothing here depends on one server's wording: a server is known by what the protocol lets
any server say (status, ``error.code``, ``error.type``, headers such as ``retry-after``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError, IncompleteReadError

from .language import _

# Exceptions that a broken connection in the middle of a streamed body leaves in the chain.
_CUT_OFF_CAUSES = {"ChunkedEncodingError", "IncompleteRead", "ProtocolError", "RemoteProtocolError"}


@dataclass(frozen=True)
class HttpFailure:
    """What an HTTP error response said, and what the request asked for (``sent``), for both SDKs.

    ``fields`` holds the error body's other documented fields: ``type``, ``param``,
    ``innererror``, and llama.cpp's ``n_prompt_tokens`` and ``n_ctx``.
    """

    status: int | None
    code: str = ""
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    fields: Mapping[str, Any] = field(default_factory=dict)
    sent: Mapping[str, Any] = field(default_factory=dict)

    @property
    def inner(self) -> Mapping[str, Any]:
        return self.fields.get("innererror") or {}


def openai_module() -> Any:
    """The openai SDK if this program has imported it (importing it here would slow every lesson by
    a second); an error from it means it has been imported."""
    return sys.modules.get("openai")


def _status(error: BaseException) -> int | None:
    return getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)


def _sent_body(error: BaseException) -> dict[str, Any]:
    """The JSON the failed request carried (azure-core keeps it on response.request, openai on request)."""
    request = getattr(getattr(error, "response", None), "request", None) or getattr(error, "request", None)
    for attribute in ("content", "body", "data"):
        try:
            content = getattr(request, attribute, None)
        except Exception:  # httpx raises for a streamed body that was not read
            content = None
        if isinstance(content, bytes | str) and content:
            try:
                body = json.loads(content)
            except ValueError:
                return {}
            return body if isinstance(body, dict) else {}
    return {}


def _error_fields(error: BaseException) -> dict[str, Any]:
    """The "error" object of the response body, whichever SDK read it."""
    response = getattr(error, "response", None)
    try:
        body = response.json() if response is not None and hasattr(response, "json") else None
    except Exception:  # not JSON, or a body already consumed
        body = None
    if body is None:
        body = getattr(error, "body", None)  # openai: the value of "error", or the whole body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict) and (parsed := getattr(error, "error", None)) is not None:
        body = {"code": parsed.code, "message": parsed.message, "innererror": parsed.innererror}  # azure-core's
    return body if isinstance(body, dict) else {}


def http_failure(error: BaseException) -> HttpFailure:
    """What the service answered, from an azure-core or openai error (status None: no answer)."""
    status = _status(error)
    response = getattr(error, "response", None)
    headers = {str(k).lower(): str(v) for k, v in dict(getattr(response, "headers", None) or {}).items()}
    fields = _error_fields(error)
    code = fields.get("code", getattr(error, "code", "") or "")
    message = fields.get("message") or getattr(error, "message", "") or ""
    other = {k: v for k, v in fields.items() if k not in ("code", "message")}
    return HttpFailure(status, "" if code is None else str(code), str(message), headers, other, _sent_body(error))


def chain(error: BaseException) -> list[BaseException]:
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


def is_cut_off(error: BaseException) -> bool:
    """True for an answer whose body broke off midway (a stream cut off)."""
    if isinstance(error, IncompleteReadError):
        return True
    if isinstance(error, HttpResponseError) and error.status_code is None:
        return True  # a response had begun, so its status was read; the body then broke off
    openai = openai_module()
    is_openai_connection = openai is not None and isinstance(error, openai.APIConnectionError)
    return is_openai_connection and any(type(e).__name__ in _CUT_OFF_CAUSES for e in chain(error)[1:])


def where(error: BaseException) -> str:
    """host:port the request went to, from the error (never the key: URLs here carry none)."""
    request = getattr(error, "request", None)
    url = getattr(request, "url", None)
    if url is not None and getattr(url, "host", None):
        return f"{url.host}:{url.port}" if url.port else str(url.host)
    found = re.search(r"host='([^']+)', port=(\d+)", str(error))
    return f"{found[1]}:{found[2]}" if found else _("the endpoint's address")


def retry_after_seconds(answer: HttpFailure) -> float | None:
    """The wait a ``retry-after`` header asks for, in seconds, or None if it names no usable one."""
    text = answer.headers.get("retry-after", "")
    return float(text) if re.fullmatch(r"\d+(\.\d+)?", text.strip()) else None
