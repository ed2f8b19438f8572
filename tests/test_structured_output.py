"""Structured output (lesson 09) through both SDKs: JSON answers that fit the schema asked for,
the service's 400 for a malformed schema, and what a program sees when an answer breaks it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import JsonSchemaFormat, UserMessage
from azure.core.exceptions import HttpResponseError
from chat_helpers import Connection, finish_reason
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from offline_endpoint import OfflineEndpoint
from offline_endpoint.json_values import pattern_example
from tests.schema_strategies import object_schemas
from tests.support import TEST_KEY, TEST_MODEL

SDKS = ["azure-ai-inference", "openai"]
# The lesson's schema and prompts (notebooks/09_structured_output.ipynb).
CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "country": {"type": "string"},
        "population": {"type": "integer", "minimum": 0},
        "landmarks": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    },
    "required": ["city", "country", "population", "landmarks"],
    "additionalProperties": False,
}
JSON_MODE_PROMPT = ("Which city is the capital of France, and how many people live there? "
                    "Answer in JSON with the keys city and population.")
DESCRIBE_PARIS = "Describe Paris."
DESCRIBE_MADRID = "Describe Madrid in JSON with the keys city, country, population and landmarks."


@pytest.fixture
def openai_client(stand_in: OfflineEndpoint) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stand_in.url + "/v1", api_key=TEST_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def ask(make_chat_client: Callable[..., ChatCompletionsClient], openai_client: openai.OpenAI,
        request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``ask(sdk, prompt, schema=None | "json_object" | {...}, **params)``: the response, from either SDK."""
    azure_client = make_chat_client()

    def ask(sdk: str, prompt: str, schema: Any = None, name: str = "city", **params: Any) -> Any:
        if sdk == "openai":
            response_format = None if schema is None else {"type": "json_object"} if schema == "json_object" \
                else {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
            extra = {"response_format": response_format} if response_format else {}
            return openai_client.chat.completions.create(
                model=TEST_MODEL, messages=[{"role": "user", "content": prompt}], **extra, **params)
        response_format = None if schema is None else schema if schema == "json_object" \
            else JsonSchemaFormat(name=name, schema=schema, strict=True)
        return azure_client.complete(messages=[UserMessage(content=prompt)], response_format=response_format,
                                     retry_total=0, **params)

    return ask


def content(response: Any) -> str:
    return response.choices[0].message.content


# --- JSON mode --------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_json_mode_answers_the_lessons_prompt_with_its_json(ask: Callable[..., Any], sdk: str) -> None:
    response = ask(sdk, JSON_MODE_PROMPT, "json_object")

    assert json.loads(content(response)) == {"city": "Paris", "population": 2102650}
    assert finish_reason(response.choices[0]) == "stop"


@pytest.mark.parametrize("sdk", SDKS)
def test_json_mode_answers_any_other_prompt_with_a_json_object(ask: Callable[..., Any], sdk: str) -> None:
    answer = json.loads(content(ask(sdk, "Tell me about quasars.", "json_object")))

    assert isinstance(answer, dict)
    assert "offline practice endpoint" in answer["answer"]  # the text answer, wrapped


@pytest.mark.parametrize("sdk", SDKS)
def test_json_mode_gives_no_schema_so_an_answer_may_break_the_one_a_program_expects(
        ask: Callable[..., Any], sdk: str) -> None:
    answer = json.loads(content(ask(sdk, DESCRIBE_MADRID, "json_object")))

    errors = sorted(error.message for error in jsonschema.Draft202012Validator(CITY_SCHEMA).iter_errors(answer))
    assert errors == ["'about 3.3 million' is not of type 'integer'",
                      "'the Prado, the Royal Palace and Retiro Park' is not of type 'array'"]


# --- a JSON schema ------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_a_schema_answer_fits_and_keeps_the_scripted_facts(ask: Callable[..., Any], sdk: str) -> None:
    answer = json.loads(content(ask(sdk, DESCRIBE_PARIS, CITY_SCHEMA)))

    jsonschema.validate(answer, CITY_SCHEMA)
    assert answer == {"city": "Paris", "country": "France", "population": 2102650,
                      "landmarks": ["Eiffel Tower", "Louvre", "Notre-Dame"]}
    assert list(answer) == list(CITY_SCHEMA["properties"])  # written in the schema's order


@pytest.mark.parametrize("sdk", SDKS)
def test_the_answer_that_broke_the_schema_in_json_mode_fits_under_the_schema(ask: Callable[..., Any], sdk: str) -> None:
    answer = json.loads(content(ask(sdk, DESCRIBE_MADRID, CITY_SCHEMA)))

    jsonschema.validate(answer, CITY_SCHEMA)
    assert answer["population"] == 3332035


@pytest.mark.parametrize("sdk", SDKS)
def test_an_unscripted_prompt_gets_an_answer_built_to_fit(ask: Callable[..., Any], sdk: str) -> None:
    answer = json.loads(content(ask(sdk, "Tell me a joke.", CITY_SCHEMA)))

    jsonschema.validate(answer, CITY_SCHEMA)
    assert answer["city"] == "example city"  # made up, and plain to see


@pytest.mark.parametrize("sdk", SDKS)
def test_the_same_request_gets_the_same_answer(ask: Callable[..., Any], sdk: str) -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["a", "b", "c"]},
                                                        "minItems": 2, "uniqueItems": True}}}
    first, second = (content(ask(sdk, "Tag this.", schema)) for _ in range(2))

    assert first == second
    jsonschema.validate(json.loads(first), schema)


def test_openai_parse_gives_the_pydantic_model(openai_client: openai.OpenAI) -> None:
    class City(BaseModel):
        city: str
        country: str
        population: int = Field(ge=0)
        landmarks: list[str] = Field(min_length=1, max_length=3)

    completion = openai_client.chat.completions.parse(
        model=TEST_MODEL, messages=[{"role": "user", "content": DESCRIBE_PARIS}], response_format=City)

    city = completion.choices[0].message.parsed
    assert city == City(city="Paris", country="France", population=2102650,
                        landmarks=["Eiffel Tower", "Louvre", "Notre-Dame"])


@pytest.mark.parametrize("sdk", SDKS)
def test_a_streamed_schema_answer_joins_into_the_same_json(ask: Callable[..., Any], sdk: str,
                                                           make_chat_client: Callable[..., Any],
                                                           openai_client: openai.OpenAI) -> None:
    whole = content(ask(sdk, DESCRIBE_PARIS, CITY_SCHEMA))
    if sdk == "openai":
        chunks = openai_client.chat.completions.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": DESCRIBE_PARIS}], stream=True,
            response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": CITY_SCHEMA}})
    else:
        chunks = make_chat_client().complete(messages=[UserMessage(content=DESCRIBE_PARIS)], stream=True,
                                             response_format=JsonSchemaFormat(name="city", schema=CITY_SCHEMA))

    pieces = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert len(pieces) > 10 and "".join(pieces) == whole


@pytest.mark.parametrize("sdk", SDKS)
def test_an_answer_cut_by_max_tokens_is_not_json_and_says_so(ask: Callable[..., Any], sdk: str) -> None:
    response = ask(sdk, DESCRIBE_PARIS, CITY_SCHEMA, max_tokens=10)

    assert finish_reason(response.choices[0]) == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(content(response))


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


@pytest.mark.parametrize("sdk", SDKS)
@SETTINGS
@given(schema=object_schemas(), prompt=st.text(min_size=1, max_size=40).filter(str.strip))
def test_any_prompt_and_any_satisfiable_schema_get_an_answer_that_fits(
        ask: Callable[..., Any], sdk: str, schema: dict[str, Any], prompt: str) -> None:
    response = ask(sdk, prompt, schema)

    jsonschema.validate(json.loads(content(response)), schema)
    assert finish_reason(response.choices[0]) == "stop"


# --- a malformed schema -------------------------------------------------------------------------

MALFORMED = {
    "required not a list": ({**CITY_SCHEMA, "required": "city"},
                            "In context=(), 'required' is invalid: 'city' is not of type 'array'."),
    "unknown type": ({**CITY_SCHEMA, "properties": {"city": {"type": "text"}}},
                     "In context=('properties', 'city'), 'type' is invalid: 'text' is not one of"),
    "minimum a string": ({**CITY_SCHEMA, "properties": {"population": {"type": "integer", "minimum": "0"}}},
                         "'minimum' is invalid: '0' is not of type 'number'"),
    "pattern not a regex": ({"type": "object", "properties": {"code": {"type": "string", "pattern": "["}}},
                            "'pattern' is invalid: '[' is not a 'regex'"),
    "root not an object": ({"type": "array", "items": {"type": "string"}},
                           "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'"),
    "ref to nowhere": ({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
                       "reference '#/$defs/missing' cannot be resolved"),
}


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_schema_gets_the_services_400_naming_the_problem(
        ask: Callable[..., Any], sdk: str, case: str) -> None:
    schema, says = MALFORMED[case]
    errors = (HttpResponseError, openai.BadRequestError)

    with pytest.raises(errors) as raised:
        ask(sdk, DESCRIBE_PARIS, copy.deepcopy(schema))

    error = raised.value
    status = error.status_code
    code = error.error.code if sdk != "openai" else error.code
    message = error.error.message if sdk != "openai" else error.message
    assert (status, code) == (400, "invalid_json_schema")
    assert "Invalid schema for response_format 'city': " in message and says in message


def test_json_schema_without_its_schema_is_refused(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                              response_format={"type": "json_schema"})

    assert raised.value.code == "missing_required_parameter"
    assert "'response_format.json_schema'" in raised.value.message


def test_a_schema_nothing_satisfies_is_refused_not_answered_wrongly(openai_client: openai.OpenAI) -> None:
    impossible = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}},
                  "required": ["n"]}
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.chat.completions.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": impossible}})

    assert raised.value.code == "invalid_json_schema"


# --- the builder's patterns -----------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [r"^[A-Z]{2}-\d{3}$", r"^\w+@\w+\.org$", r"^(red|green)+$", r"[^abc]{3}",
                                     r"^\+?\d{2,4}$", r"^x(?=y)y$"])
def test_a_pattern_example_matches_its_pattern(pattern: str) -> None:
    import re

    example = pattern_example(pattern)
    assert example is not None and re.search(pattern, example)


# --- the lesson's exercise ----------------------------------------------------------------------


def test_exercise_09_a_river_added_to_the_schema_comes_back_as_the_seine(chat: Connection) -> None:
    # The exercise: add `river` (a string) to city_schema and to its required list, ask
    # "Describe Paris." again and validate: "river": "Seine", and no validation errors.
    schema = copy.deepcopy(CITY_SCHEMA)
    schema["properties"]["river"] = {"type": "string"}
    schema["required"].append("river")

    response = chat.client.complete(messages=[UserMessage(content=DESCRIBE_PARIS)], model=chat.model,
                                    response_format=JsonSchemaFormat(name="city", schema=schema, strict=True))

    answer = json.loads(response.choices[0].message.content)
    assert answer["river"] == "Seine"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(answer)) == []
    # ...and then without landmarks: the key disappears from the answer.
    del schema["properties"]["landmarks"]
    schema["required"].remove("landmarks")
    response = chat.client.complete(messages=[UserMessage(content=DESCRIBE_PARIS)], model=chat.model,
                                    response_format=JsonSchemaFormat(name="city", schema=schema, strict=True))
    assert "landmarks" not in json.loads(response.choices[0].message.content)
