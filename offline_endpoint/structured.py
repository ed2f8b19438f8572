"""Structured output: ``response_format`` ``json_object`` and ``json_schema``.

What the offline endpoint does, as the services do:

- ``{"type": "json_object"}``: the answer is a JSON object. A prompt of the lessons gets its
  scripted JSON (``[[json_answer]]`` in ``answers/*.toml``); any other prompt gets its text
  answer wrapped as ``{"answer": "..."}``.
- ``{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": ...}}``:
  the answer is valid against the schema, always. The scripted JSON is kept where it fits and
  the rest is built from the schema (``json_values.py``), so any prompt gets a fitting answer.
- A malformed schema (one that JSON Schema's metaschema refuses, a root that is not an object,
  a ``$ref`` that leads nowhere) is refused before anything else with the service's 400
  ``invalid_json_schema``: "Invalid schema for response_format 'name': In context=(...), ...".
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError
from .json_values import _MISSING, fitting_value, validator_for
from .scripts import JSON_ANSWERS, prompt_of

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def check_response_format(request: dict[str, Any]) -> None:
    """Raise the service's 400 for a ``json_schema`` response format it would refuse."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema")
    if spec is None:
        raise ApiError(400, "missing_required_parameter", "Missing required parameter: 'response_format.json_schema'.")
    if not isinstance(spec, dict):
        raise ApiError(400, "invalid_type", "Invalid type for 'response_format.json_schema': expected an object, "
                                            f"but got {_json_type(spec)} instead.")
    name = spec.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ApiError(400, "invalid_value", "Invalid 'response_format.json_schema.name': expected a name of 1 to 64 "
                                             "letters, digits, underscores or dashes.")
    schema = spec.get("schema")
    if schema is None:
        raise ApiError(400, "missing_required_parameter",
                       "Missing required parameter: 'response_format.json_schema.schema'.")
    problem = schema_problem(schema)
    if problem:
        raise ApiError(400, "invalid_json_schema", f"Invalid schema for response_format '{name}': {problem}")


def schema_problem(schema: Any) -> str | None:
    """Why the service would refuse ``schema`` as the schema of an answer or of a tool's
    parameters, in its words ("In context=(...), ..."), or None when it is acceptable."""
    if not isinstance(schema, dict):
        return f"schema must be a JSON Schema of 'type: \"object\"', got {_json_type(schema)}."
    from jsonschema.exceptions import best_match

    cls = type(validator_for(schema))
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    try:
        error = best_match(meta.iter_errors(schema))
        while error is not None and error.validator in ("anyOf", "oneOf") and error.context:
            error = best_match(error.context)  # "'text' is not one of [...]", not "not valid under any"
    except RecursionError:
        return "In context=(), the schema is nested too deeply."
    if error is not None:
        where = tuple(error.absolute_path)
        context, keyword = (where[:-1], where[-1]) if where else ((), None)
        said = f"'{keyword}' is invalid: " if keyword is not None else ""
        return f"In context={context!r}, {said}{_shorten(error.message)}."
    if schema.get("type") != "object" and "$ref" not in schema:
        got = schema.get("type")
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'." if got else \
            "schema must be a JSON Schema of 'type: \"object\"', got a schema without a type."
    for context, ref in _refs(schema, ()):
        if not _resolves(schema, ref):
            return (f"In context={context!r}, reference {_shorten(ref)!r} cannot be resolved: "
                    "only references within the schema ('#/...') are supported.")
    return None


def json_reply(request: dict[str, Any], text_reply: str) -> str:
    """The answer's text for a request asking for JSON: an object, fitting the schema if one is given."""
    response_format = request["response_format"]
    scripted = JSON_ANSWERS.get(prompt_of(request["messages"]))
    if response_format.get("type") == "json_object":
        value = scripted.json if scripted else {"answer": text_reply}
        return json.dumps(value, ensure_ascii=False)
    spec = response_format["json_schema"]
    value = fitting_value(spec["schema"], scripted.json_with_schema if scripted else _MISSING)
    if value is None:
        # Only for a schema nothing satisfies, or one using keywords the builder does not follow.
        raise ApiError(400, "invalid_json_schema",
                       f"Invalid schema for response_format '{spec['name']}': the offline endpoint found no "
                       "value that fits it (nothing may satisfy it).")
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            type(None): "null"}
    return kind.get(type(value), "an object")


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refs(node: Any, where: tuple) -> list[tuple[tuple, str]]:
    """Every ``$ref`` in a schema, with where it is."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append((where, value))
            elif key not in ("const", "enum", "default", "examples"):  # data, not schemas
                found += _refs(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _refs(value, (*where, index))
    return found


def _resolves(schema: dict, ref: str) -> bool:
    if not ref.startswith("#"):
        return False
    node: Any = schema
    for part in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return False
    return isinstance(node, (dict, bool))
