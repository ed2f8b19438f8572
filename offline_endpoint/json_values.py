"""Values that fit a JSON Schema, built the same way every time.

The offline endpoint answers with such values where a real model would write JSON to a schema:
an answer under ``response_format`` ``json_schema`` (``structured.py``) and the arguments of a
tool call (``tools.py``). ``fitting_value(schema, hint)`` keeps every part of ``hint`` (the
scripted answer, when there is one) that fits, and builds the rest from the schema's own
keywords: ``type``, ``properties``, ``required``, ``enum``, ``const``, ``items``,
``prefixItems``, ``minItems``, ``maxItems``, ``uniqueItems``, ``minLength``, ``maxLength``,
``pattern``, ``format``, ``minimum``, ``maximum``, ``multipleOf``, ``$ref``, ``anyOf``,
``oneOf``, ``allOf``. A made-up string says ``example <property>``, so it is plain to see.

Whatever it builds is checked with jsonschema before it is returned: a value that does not
fit is never answered (``None`` comes back instead).

jsonschema is imported on first use: importing it takes about a second, and most requests
never need it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

_MISSING: Any = object()
SHALLOW_DEPTH = 6  # deeper than this, only required properties and minItems items: recursion ends
DEEPEST = 40
# A schema may ask for more than an answer should hold (minItems: 10**9): past these, no value is built.
MOST_PARTS = 5_000
LONGEST_STRING = 10_000
_FORMATS = {
    "date": "2024-01-01", "date-time": "2024-01-01T00:00:00Z", "time": "00:00:00Z",
    "duration": "P1D", "email": "someone@example.com", "idn-email": "someone@example.com",
    "hostname": "example.com", "idn-hostname": "example.com", "ipv4": "192.0.2.1", "ipv6": "2001:db8::1",
    "uri": "https://example.com/", "iri": "https://example.com/", "uri-reference": "https://example.com/",
    "iri-reference": "https://example.com/", "uri-template": "https://example.com/{id}",
    "uuid": "00000000-0000-4000-8000-000000000000", "json-pointer": "/example", "relative-json-pointer": "0",
    "regex": "^example$",
}
# Characters tried, in this order, for a character class of a pattern.
_CANDIDATES = string.ascii_lowercase + string.digits + string.ascii_uppercase + "_-. " + string.punctuation


class _NoFit(Exception):
    """No value fits this part of the schema."""


def validator_for(schema: Any) -> Any:
    """A jsonschema validator for ``schema``, of the draft its ``$schema`` names (default 2020-12)."""
    from jsonschema import Draft202012Validator, validators

    if not (isinstance(schema, dict) and isinstance(schema.get("$schema"), str)):
        return Draft202012Validator(schema)  # (a $schema that is not a string is the metaschema's to report)
    return validators.validator_for(schema, default=Draft202012Validator)(schema)


def fitting_value(schema: Any, hint: Any = _MISSING) -> Any:
    """A value valid against ``schema`` (a checked JSON Schema), keeping what fits of ``hint``.

    Returns ``None`` when nothing fitting was found (a schema nothing can satisfy, or one using
    keywords this builder does not follow); ``None`` is also the value for ``{"type": "null"}``,
    so callers that allow null schemas check ``fits`` themselves.
    """
    validator = validator_for(schema)
    builder = _Builder(validator)
    for attempt_hint in (hint, _MISSING) if hint is not _MISSING else (_MISSING,):
        try:
            builder.parts = 0
            value = builder.build(schema, attempt_hint, "", 0, 0)
            if validator.is_valid(value):
                return value
        except Exception:  # _NoFit, or a schema this builder cannot follow: try without the hint, then give up
            continue
    return None


class _Builder:
    def __init__(self, validator: Any) -> None:
        self.validator = validator
        self.root = validator.schema
        self.parts = 0

    def fits(self, value: Any, schema: Any) -> bool:
        """Whether ``value`` is valid against ``schema``, a part of the root (its $refs resolve there)."""
        try:
            return bool(self.validator.evolve(schema=schema).is_valid(value))
        except Exception:  # an unresolvable $ref, say: not a fit
            return False

    def resolve(self, schema: Any, depth: int = 0) -> Any:
        """``schema`` with a local ``$ref`` replaced by what it points to (sibling keywords kept)."""
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            if depth > DEEPEST:
                raise _NoFit("$ref chain too long")
            target = self.pointer(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = _merge(target, rest) if rest else target
            depth += 1
        return schema

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise _NoFit(f"$ref {ref!r} is not local")
        node = self.root
        for part in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def build(self, schema: Any, hint: Any, name: str, depth: int, variant: int) -> Any:
        self.parts += 1
        if depth > DEEPEST or self.parts > MOST_PARTS:
            raise _NoFit("too deep or too big")
        schema = self.resolve(schema)
        if schema is False:
            raise _NoFit("false schema")
        if schema is True:
            schema = {}
        if hint is not _MISSING and self.fits(hint, schema) and not _rebuilds(schema, hint):
            return hint
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            options = [value for value in schema["enum"] if self.fits(value, schema)]
            if not options:
                raise _NoFit("no enum value fits")
            return options[variant % len(options)]
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                rest = {k: v for k, v in schema.items() if k != keyword}
                for option in schema[keyword]:
                    try:
                        value = self.build(_merge(rest, self.resolve(option)), hint, name, depth + 1, variant)
                    except _NoFit:
                        continue
                    if self.fits(value, schema):
                        return value
                raise _NoFit(f"no {keyword} option fits")
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = _merge(merged, self.resolve(part))
            return self.build(merged, hint, name, depth + 1, variant)
        kind = self.kind(schema, hint)
        return _BUILDERS[kind](self, schema, hint, name, depth, variant)

    def kind(self, schema: dict, hint: Any) -> str:
        types = schema.get("type")
        if isinstance(types, str):
            return types
        if not types:
            types = [kind for kind, words in _KIND_WORDS if any(word in schema for word in words)]
            if not types:
                return _kind_of(hint) if hint is not _MISSING else "string"
        if hint is not _MISSING and _kind_of(hint) in types:
            return _kind_of(hint)
        non_null = [kind for kind in types if kind != "null"]
        return (non_null or types)[0]

    # --- one builder per type ------------------------------------------------------------------

    def object(self, schema: dict, hint: Any, name: str, depth: int, variant: int) -> dict:
        properties: dict = schema.get("properties") or {}
        required: list = schema.get("required") or []
        given = hint if isinstance(hint, dict) else {}
        if not properties and given:  # no properties named: keep the hint's, where they fit
            extra = schema.get("additionalProperties", True)
            kept = {k: v for k, v in given.items() if extra is True or self.fits(v, extra)}
            if all(k in kept for k in required):
                properties = {k: extra if extra is not True else {} for k in kept}
        # With a scripted value, its properties and the required ones, as a model leaves out optional
        # properties it has nothing for; without, every property near the top, only required ones deeper.
        everything = not given and depth < SHALLOW_DEPTH
        keys = [key for key in properties if everything or key in required or key in given]
        keys += [key for key in required if key not in keys]
        value: dict = {}
        for key in keys:
            value[key] = self.build(self.property_schema(schema, key), given.get(key, _MISSING), key, depth + 1, 0)
        extra_schema = schema.get("additionalProperties", True)
        number = 1
        while len(value) < schema.get("minProperties", 0):
            if extra_schema is False or number > MOST_PARTS:
                raise _NoFit("minProperties needs properties the schema forbids")
            key = f"{name or 'key'}_{number}"
            number += 1
            if key not in value:
                value[key] = self.build(extra_schema, _MISSING, key, depth + 1, number)
        most = schema.get("maxProperties")
        if most is not None:
            for key in [k for k in reversed(list(value)) if k not in required]:
                if len(value) <= most:
                    break
                del value[key]
        return value

    def property_schema(self, schema: dict, key: str) -> Any:
        if key in (schema.get("properties") or {}):
            return schema["properties"][key]
        for pattern, sub in (schema.get("patternProperties") or {}).items():
            if re.search(pattern, key):
                return sub
        extra = schema.get("additionalProperties", True)
        return {} if extra is True else extra

    def array(self, schema: dict, hint: Any, name: str, depth: int, variant: int) -> list:
        prefix = schema.get("prefixItems") or (schema["items"] if isinstance(schema.get("items"), list) else [])
        items = schema.get("items", True) if not isinstance(schema.get("items"), list) \
            else schema.get("additionalItems", True)
        fewest, most = schema.get("minItems", 0), schema.get("maxItems")
        given = hint if isinstance(hint, list) else []
        count = len(given) if given else max(fewest, 1 if depth < SHALLOW_DEPTH else 0)
        count = max(count, fewest)
        if count > MOST_PARTS:
            raise _NoFit("minItems too large")
        if most is not None:
            count = min(count, most)
        if items is False:
            count = min(count, len(prefix))
        value = []
        for index in range(count):
            part = prefix[index] if index < len(prefix) else items
            value.append(self.build(part, given[index] if index < len(given) else _MISSING, name, depth + 1, index))
        if schema.get("uniqueItems"):
            value = self.unique(value, prefix, items, name, depth)
        if "contains" in schema and not any(self.fits(item, schema["contains"]) for item in value):
            item = self.build(schema["contains"], _MISSING, name, depth + 1, len(value))
            value = [item, *value[1:]] if most is not None and len(value) >= most and value else [*value, item]
        return value

    def unique(self, value: list, prefix: list, items: Any, name: str, depth: int) -> list:
        seen: list = []
        for index, item in enumerate(value):
            part = prefix[index] if index < len(prefix) else items
            attempt = index
            while item in seen:
                attempt += len(value)
                if attempt > 50 * (len(value) + 1):
                    raise _NoFit("cannot make the items unique")
                item = self.build(part, _MISSING, name, depth + 1, attempt)
            seen.append(item)
        return seen

    def string(self, schema: dict, hint: Any, name: str, depth: int, variant: int) -> str:
        fewest, most = schema.get("minLength", 0), schema.get("maxLength")
        if fewest > LONGEST_STRING:
            raise _NoFit("minLength too large")
        candidates = []
        if isinstance(hint, str) and most is not None:
            candidates.append(hint[:most])  # a scripted answer too long for maxLength, shortened
        if schema.get("format") in _FORMATS:
            candidates.append(_FORMATS[schema["format"]])
        if "pattern" in schema:
            example = pattern_example(schema["pattern"], variant)
            if example is not None:
                candidates.append(example)
                candidates.append(example + "x" * max(0, fewest - len(example)))
        words = f"example {name}".strip() if name else "example"
        text = words if not variant else f"{words} {variant + 1}"
        candidates.append(text)
        candidates.append((text + " " + "x" * fewest)[: max(fewest, len(text))])
        if most is not None:
            suffix = str(variant + 1) if variant else ""
            candidates.append((text[: max(0, most - len(suffix))] + suffix)[:most])
            candidates.append("x" * fewest if not variant else (suffix * fewest)[:most])
        for candidate in candidates:
            if self.fits(candidate, schema):
                return candidate
        raise _NoFit("no string fits")

    def integer(self, schema: dict, hint: Any, name: str, depth: int, variant: int) -> int:
        return int(self.number(schema, hint, name, depth, variant, whole=True))

    def number(self, schema: dict, hint: Any, name: str, depth: int, variant: int, whole: bool = False) -> float:
        def bounds(*names: str) -> list[float]:
            return [schema[n] for n in names if _is_number(schema.get(n))]

        lowest = max(bounds("minimum", "exclusiveMinimum"), default=None)
        highest = min(bounds("maximum", "exclusiveMaximum"), default=None)
        start = (hint if _is_number(hint) else 0) + variant
        if lowest is not None:
            start = max(start, lowest)
        if highest is not None:
            start = min(start, highest)
        targets = [start, start + 1, start - 1]
        if lowest is not None:
            targets += [lowest, lowest + 1, lowest + 0.5]
        if highest is not None:
            targets += [highest, highest - 1, highest - 0.5]
        if lowest is not None and highest is not None:
            targets.append((lowest + highest) / 2)
        step = schema.get("multipleOf")
        candidates: list[float] = []
        for target in targets:
            if isinstance(step, (int, float)) and step > 0:
                # Several multiples near the target: for a step like 0.1, jsonschema's float
                # arithmetic accepts some multiples and not others (0.3 / 0.1 is 2.9999999999999996).
                nearest = int(target // step)
                candidates += [k * step for k in (nearest, nearest + 1, nearest - 1, nearest + 2, 0, 1)]
            else:
                candidates.append(target)
        for candidate in candidates:
            if whole:
                candidate = int(candidate) if float(candidate).is_integer() else int(candidate // 1) + 1
            if self.fits(candidate, schema):
                return candidate
        raise _NoFit("no number fits")

    def boolean(self, schema: dict, hint: Any, name: str, depth: int, variant: int) -> bool:
        return variant % 2 == 0

    def null(self, schema: dict, hint: Any, name: str, depth: int, variant: int) -> None:
        return None


_BUILDERS: dict[str, Callable[..., Any]] = {
    "object": _Builder.object, "array": _Builder.array, "string": _Builder.string,
    "integer": _Builder.integer, "number": _Builder.number, "boolean": _Builder.boolean, "null": _Builder.null,
}
# A schema without "type" is taken to be of the first kind whose keywords it uses.
_KIND_WORDS = (
    ("object", ("properties", "required", "additionalProperties", "patternProperties", "minProperties")),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")),
    ("string", ("minLength", "maxLength", "pattern", "format")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _rebuilds(schema: Any, hint: Any) -> bool:
    """True for an object hint under a schema that names its properties: it is rebuilt property by
    property, in the schema's order and without the hint's other keys, as a model writes to a schema."""
    return isinstance(hint, dict) and isinstance(schema, dict) and bool(schema.get("properties"))


def _merge(first: Any, second: Any) -> Any:
    """Two schemas that must both hold, as one (properties and required combined)."""
    if first is True or first == {}:
        return second
    if second is True or second == {}:
        return first
    if first is False or second is False:
        return False
    merged = dict(first)
    for key, value in second.items():
        if key == "properties":
            merged[key] = {**first.get(key, {}), **value}
        elif key == "required":
            merged[key] = list(dict.fromkeys([*first.get(key, []), *value]))
        elif key == "type" and key in first:
            ours = {first[key]} if isinstance(first[key], str) else set(first[key])
            theirs = {value} if isinstance(value, str) else set(value)
            common = [kind for kind in _KIND_ORDER if kind in ours & theirs]
            if not common and "number" in ours | theirs and "integer" in ours | theirs:
                common = ["integer"]
            merged[key] = common if common else value
        else:
            merged[key] = value
    return merged


_KIND_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


# --- an example for a pattern ------------------------------------------------------------------


def pattern_example(pattern: str, variant: int = 0) -> str | None:
    """A short string in which ``re.search(pattern, ...)`` finds a match, or None.

    Walks the parsed regular expression: each repeat its fewest times (``variant`` more for
    the first open-ended one, so items can differ), each alternative its first branch, each
    character class its first character among ``_CANDIDATES``.
    """
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    out: list[str] = []
    extra = [variant]

    def in_class(items: list, char: str) -> bool:
        negate = any(op is c.NEGATE for op, _ in items)
        found = False
        for op, av in items:
            if op is c.LITERAL:
                found = found or char == chr(av)
            elif op is c.RANGE:
                found = found or av[0] <= ord(char) <= av[1]
            elif op is c.CATEGORY:
                found = found or _in_category(av, char)
        return found != negate

    def emit(items: Any) -> None:
        for op, av in items:
            if op is c.LITERAL:
                out.append(chr(av))
            elif op is c.NOT_LITERAL:
                out.append(next(ch for ch in _CANDIDATES if ord(ch) != av))
            elif op is c.ANY:
                out.append("a")
            elif op is c.IN:
                out.append(next(ch for ch in _CANDIDATES if in_class(av, ch)))
            elif op is c.CATEGORY:
                out.append(next(ch for ch in _CANDIDATES if _in_category(av, ch)))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
                low, high, sub = av
                times = low
                if extra[0] and high > low:
                    times = min(high, low + extra[0])
                    extra[0] = 0
                for _ in range(min(times, 100)):
                    emit(sub)
            elif op is c.SUBPATTERN:
                emit(av[-1])
            elif op is getattr(c, "ATOMIC_GROUP", None):
                emit(av)
            elif op is c.BRANCH:
                emit(av[1][0])
            elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
                continue
            else:
                raise ValueError(f"pattern element {op} not followed")

    try:
        emit(parsed)
    except (ValueError, StopIteration, RecursionError):
        return None
    text = "".join(out)
    return text if re.search(pattern, text) else None


def _in_category(category: Any, char: str) -> bool:
    from re import _constants as c  # type: ignore[attr-defined]

    tests = {
        c.CATEGORY_DIGIT: str.isdigit, c.CATEGORY_SPACE: str.isspace,
        c.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    }
    opposite = {c.CATEGORY_NOT_DIGIT: c.CATEGORY_DIGIT, c.CATEGORY_NOT_SPACE: c.CATEGORY_SPACE,
                c.CATEGORY_NOT_WORD: c.CATEGORY_WORD}
    if category in tests:
        return tests[category](char)
    if category in opposite:
        return not tests[opposite[category]](char)
    return False
