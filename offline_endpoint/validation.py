"""Reading a request body: bytes to a checked JSON object, or an ``ApiError`` naming the fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from .errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
# Bodies up to this size are read and then refused with a 413; a larger Content-Length is
# refused from the headers alone, before any of the body is read.
MAX_BODY_BYTES_READ = 64 * 1024 * 1024


def _is_integer(checker: Any, instance: Any) -> bool:
    # JSON Schema counts 3.0 as an integer; the service (and Python slicing) does not.
    return isinstance(instance, int) and not isinstance(instance, bool)


_StrictIntegers = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
)
_VALIDATOR = _StrictIntegers(
    json.loads((Path(__file__).parent / "request_schema.json").read_text(encoding="utf-8"))
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _location(path: Any) -> str:
    where = "body"
    for step in path:
        where += f"[{step}]" if isinstance(step, int) else f".{step}"
    return where.removeprefix("body.")


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def body_too_large(size: int) -> ApiError:
    """The 413 for a body of ``size`` bytes."""
    return ApiError(413, "request_body_too_large", f"The request body is {size} bytes; the limit is {MAX_BODY_BYTES}.")


def parse_chat_request(body: bytes) -> dict[str, Any]:
    """The request as a dict, checked against ``request_schema.json``."""
    if len(body) > MAX_BODY_BYTES:
        raise body_too_large(len(body))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, "invalid_encoding",
                       f"The request body is not valid UTF-8 (byte {error.start}).") from None
    if not text.strip():
        raise ApiError(400, "invalid_json", "The request body is empty; send a JSON object.")
    try:
        request = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "invalid_json", "The request body is nested too deeply to read.") from None
    except ValueError as error:
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise ApiError(400, "invalid_request",
                       f"The request body must be a JSON object, not {type(request).__name__}.")
    error = best_match(_VALIDATOR.iter_errors(request))
    if error is not None:
        raise ApiError(400, "invalid_request",
                       f"Invalid value for '{_location(error.absolute_path)}': {_shorten(error.message)}")
    return request
