"""Hypothesis strategies for JSON Schemas a learner might write: every one of them can be satisfied.

Used for ``response_format`` schemas and for tools' ``parameters``: the offline endpoint must
answer each with a value that fits, whatever the prompt.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NAMES = st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True)
PATTERNS = [r"^[A-Z]{2}-\d{3}$", r"^\w+@\w+\.org$", r"^(red|green|blue)$", r"^[a-f0-9]{6}$", r"[^ ]+ [^ ]+",
            r"^\+?\d{2,4}$"]
FORMATS = ["date", "date-time", "email", "uri", "uuid", "ipv4", "hostname"]
SCALARS = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)


@st.composite
def _integers(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    step = draw(st.none() | st.integers(1, 7))
    low = draw(st.none() | st.integers(-50, 50))
    if low is not None:
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
        # room for at least one whole multiple of the step above the bound
        schema["maximum"] = low + (step or 1) * draw(st.integers(2, 5))
    if step:
        schema["multipleOf"] = step
    return schema


@st.composite
def _numbers(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 2)))
    span = draw(st.floats(0.01, 50).map(lambda x: round(x, 2)))
    lower = "exclusiveMinimum" if draw(st.booleans()) else "minimum"
    return {"type": "number", lower: low, "exclusiveMaximum": round(low + span + 0.01, 2)}


@st.composite
def _strings(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["plain", "lengths", "pattern", "format"]))
    if kind == "lengths":
        fewest = draw(st.integers(0, 30))
        return {"type": "string", "minLength": fewest, "maxLength": fewest + draw(st.integers(0, 10))}
    if kind == "pattern":
        return {"type": "string", "pattern": draw(st.sampled_from(PATTERNS))}
    if kind == "format":
        return {"type": "string", "format": draw(st.sampled_from(FORMATS))}
    return {"type": "string", **draw(st.fixed_dictionaries({}, optional={"description": st.text(max_size=20)}))}


LEAVES = st.one_of(
    _strings(), _integers(), _numbers(),
    st.just({"type": "boolean"}), st.just({"type": "null"}),
    st.lists(SCALARS, min_size=1, max_size=5, unique_by=lambda v: (type(v).__name__, v)).map(lambda v: {"enum": v}),
    SCALARS.map(lambda value: {"const": value}),
    st.just({"type": ["string", "null"]}),
)


@st.composite
def _object(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    properties = draw(st.dictionaries(NAMES, children, max_size=4))
    required = [name for name in properties if draw(st.booleans())]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if draw(st.booleans()):
        schema["additionalProperties"] = False
    return schema


@st.composite
def _array(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    fewest = draw(st.integers(0, 4))
    schema: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": fewest,
                              "maxItems": fewest + draw(st.integers(0, 3))}
    return schema


def _unique_strings() -> st.SearchStrategy[dict[str, Any]]:
    return st.integers(1, 6).map(lambda n: {"type": "array", "items": {"type": "string"}, "minItems": n,
                                            "uniqueItems": True})


SCHEMAS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        _object(children), _array(children), _unique_strings(),
        st.lists(children, min_size=1, max_size=3).map(lambda options: {"anyOf": options}),
    ),
    max_leaves=12,
)


@st.composite
def object_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """A root schema as the services take it: an object, sometimes with ``$defs`` reached by ``$ref``."""
    schema = draw(_object(SCHEMAS))
    if draw(st.booleans()):
        shared = draw(SCHEMAS)
        schema["$defs"] = {"shared": shared}
        schema["properties"]["shared"] = {"$ref": "#/$defs/shared"}
        if draw(st.booleans()):
            schema["required"] = [*schema["required"], "shared"]
    return schema
