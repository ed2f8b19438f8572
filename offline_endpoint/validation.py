"""Reading a request body: bytes to a checked JSON object, or an ``ApiError`` naming the fault.

The JSON Schema (``request_schema.json``, draft 7) is compiled to Python once by fastjsonschema,
so checking a request costs microseconds, not the endpoint's whole latency budget.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fastjsonschema

from .errors import ApiError
from .replies import check_features

MAX_BODY_BYTES = 1024 * 1024
# Bodies up to this size are read and then refused with a 413; a larger Content-Length is
# refused from the headers alone, before any of the body is read.
MAX_BODY_BYTES_READ = 64 * 1024 * 1024

_SCHEMA = json.loads((Path(__file__).parent / "request_schema.json").read_text(encoding="utf-8"))
_VALIDATE = fastjsonschema.compile(_SCHEMA)
# JSON Schema counts 3.0 as an integer; the service (and Python slicing) does not.
_INTEGER_FIELDS = tuple(name for name, rule in _SCHEMA["properties"].items() if "integer" in rule.get("type", ()))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _schema_error(error: fastjsonschema.JsonSchemaValueException) -> ApiError:
    """The 400 for a schema violation, naming the field: ``Invalid value for 'messages[0].role': ...``."""
    location = error.name.removeprefix("data").removeprefix(".") or "body"
    if error.rule == "required":
        missing = [name for name in error.rule_definition if name not in error.value]
        problem = f"'{missing[0]}' is a required property"
    else:
        problem = error.message.removeprefix(error.name).strip()
    return ApiError(400, "invalid_request", f"Invalid value for '{location}': {_shorten(problem)}")


# Content-Length is ASCII digits only: str.isdigit() would take "²" and int() would then fail.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# More digits than this is more bytes than anyone sends; int() of 5,000 digits even raises.
_MAX_LENGTH_DIGITS = 18
TOO_LONG = 10**_MAX_LENGTH_DIGITS


def declared_length(value: str) -> int | None:
    """The body size a Content-Length value declares, or None if it is not a plain number.
    A number too long to be real comes back as ``TOO_LONG``."""
    if not _DIGITS.fullmatch(value):
        return None
    if len(value.lstrip("0")) > _MAX_LENGTH_DIGITS:
        return TOO_LONG
    return int(value)


def body_too_large(size: int) -> ApiError:
    """The 413 for a body of ``size`` bytes."""
    stated = f"{size} bytes" if size < TOO_LONG else "too large to be real"
    return ApiError(413, "request_body_too_large", f"The request body is {stated}; the limit is {MAX_BODY_BYTES}.")


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
    try:
        _VALIDATE(request)
    except fastjsonschema.JsonSchemaValueException as error:
        raise _schema_error(error) from None
    for name in _INTEGER_FIELDS:
        if isinstance(request.get(name), float):
            raise ApiError(400, "invalid_request", f"Invalid value for '{name}': must be integer, not {request[name]}")
    check_features(request)  # response_format and tools, as the service checks them
    return request
