"""Tool calling (lesson 10) through both SDKs: the round trip, parallel calls, a tool that fails,
a loop that needs two steps and one that never ends, and tool_choice "required" or a named
function answered with arguments that fit the function's parameters whatever the prompt."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import (
    AssistantMessage,
    ChatCompletionsNamedToolChoice,
    ChatCompletionsNamedToolChoiceFunction,
    ChatCompletionsToolChoicePreset,
    ChatCompletionsToolDefinition,
    FunctionDefinition,
    ToolMessage,
    UserMessage,
)
from azure.core.exceptions import HttpResponseError
from chat_helpers import Connection, finish_reason
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline_endpoint import OfflineEndpoint
from tests.schema_strategies import object_schemas
from tests.support import TEST_KEY, TEST_MODEL

SDKS = ["azure-ai-inference", "openai"]
# The lesson's two tools and their data (notebooks/10_tool_calling.ipynb).
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city's name, e.g. Paris."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
LANDMARK_PARAMETERS = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
FUNCTIONS = {
    "get_weather": ("The current weather in a city.", WEATHER_PARAMETERS),
    "find_landmark": ("Where a famous landmark is: its city and country.", LANDMARK_PARAMETERS),
}
WEATHER = {"Paris": (18, "light rain"), "Madrid": (27, "sunshine"), "London": (14, "rain")}


def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    if city not in WEATHER:
        raise ValueError(f"no weather data for {city!r}")
    temperature, conditions = WEATHER[city]
    return {"city": city, "temperature": temperature, "unit": "°C", "conditions": conditions}


def find_landmark(name: str) -> dict[str, Any]:
    return {"landmark": name, "city": "Paris", "country": "France"}


def run(name: str, arguments: str) -> str:
    """What a program sends back for a call: the result as JSON, or the error."""
    try:
        return json.dumps({"get_weather": get_weather, "find_landmark": find_landmark}[name](**json.loads(arguments)))
    except Exception as error:
        return json.dumps({"error": str(error)})


class Chat:
    """One SDK's way to send messages with tools, and to add an answer and its results to them."""

    def __init__(self, sdk: str, azure_client: ChatCompletionsClient, openai_client: openai.OpenAI,
                 functions: dict[str, tuple[str, dict]] = FUNCTIONS) -> None:
        self.sdk, self.azure, self.openai = sdk, azure_client, openai_client
        if sdk == "openai":
            self.tools = [{"type": "function", "function": {"name": name, "description": text, "parameters": params}}
                          for name, (text, params) in functions.items()]
        else:
            self.tools = [ChatCompletionsToolDefinition(function=FunctionDefinition(
                name=name, description=text, parameters=params)) for name, (text, params) in functions.items()]

    def user(self, text: str) -> Any:
        return {"role": "user", "content": text} if self.sdk == "openai" else UserMessage(content=text)

    def choice(self, choice: str | None) -> Any:
        """tool_choice: "auto", "none", "required", or a function's name."""
        if choice in (None, "auto", "none", "required"):
            return choice if self.sdk == "openai" or choice is None else ChatCompletionsToolChoicePreset(choice)
        if self.sdk == "openai":
            return {"type": "function", "function": {"name": choice}}
        return ChatCompletionsNamedToolChoice(function=ChatCompletionsNamedToolChoiceFunction(name=choice))

    def send(self, messages: list[Any], tool_choice: str | None = None, **params: Any) -> Any:
        if self.sdk == "openai":
            extra = {"tool_choice": self.choice(tool_choice)} if tool_choice else {}
            return self.openai.chat.completions.create(model=TEST_MODEL, messages=messages, tools=self.tools,
                                                       **extra, **params)
        return self.azure.complete(messages=messages, tools=self.tools, tool_choice=self.choice(tool_choice),
                                   retry_total=0, **params)

    def add_calls_and_results(self, messages: list[Any], message: Any, answered: int | None = None) -> None:
        """Append the answer with its calls and a tool message for each (the first ``answered`` only)."""
        calls = message.tool_calls[:answered]
        if self.sdk == "openai":
            messages.append(message)
            messages += [{"role": "tool", "tool_call_id": c.id, "content": run(c.function.name, c.function.arguments)}
                         for c in calls]
        else:
            messages.append(AssistantMessage(tool_calls=message.tool_calls))
            messages += [ToolMessage(content=run(c.function.name, c.function.arguments), tool_call_id=c.id)
                         for c in calls]


@pytest.fixture
def openai_client(stand_in: OfflineEndpoint) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stand_in.url + "/v1", api_key=TEST_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def chat_for(make_chat_client: Callable[..., ChatCompletionsClient],
             openai_client: openai.OpenAI) -> Callable[..., Chat]:
    azure_client = make_chat_client()
    return lambda sdk, functions=FUNCTIONS: Chat(sdk, azure_client, openai_client, functions)


def calls_of(response: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c.function.name, json.loads(c.function.arguments)) for c in response.choices[0].message.tool_calls or []]


def error_of(raised: pytest.ExceptionInfo) -> tuple[int, str, str]:
    error = raised.value
    if isinstance(error, openai.APIStatusError):
        return error.status_code, error.code, error.message
    return error.status_code, error.error.code, error.error.message


ERRORS = (HttpResponseError, openai.APIStatusError)


# --- the round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_the_round_trip_call_run_send_back_then_an_answer_using_the_result(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("What is the weather like in Paris today?")]

    first = chat.send(messages)

    assert finish_reason(first.choices[0]) == "tool_calls"
    assert not first.choices[0].message.content
    assert calls_of(first) == [("get_weather", {"city": "Paris"})]  # optional unit left out
    assert first.choices[0].message.tool_calls[0].id.startswith("call_")
    chat.add_calls_and_results(messages, first.choices[0].message)
    final = chat.send(messages)
    assert finish_reason(final.choices[0]) == "stop"
    assert final.choices[0].message.content == "It is 18 °C in Paris today, with light rain."


@pytest.mark.parametrize("sdk", SDKS)
def test_the_final_answer_uses_what_the_tool_returned_not_a_script(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("What is the weather like in Paris today?")]
    first = chat.send(messages)
    WEATHER["Paris"] = (-3, "snow")
    try:
        chat.add_calls_and_results(messages, first.choices[0].message)
    finally:
        WEATHER["Paris"] = (18, "light rain")

    assert chat.send(messages).choices[0].message.content == "It is -3 °C in Paris today, with snow."


@pytest.mark.parametrize("sdk", SDKS)
def test_parallel_calls_need_every_result_before_the_answer(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("Compare the weather in Paris and Madrid.")]
    first = chat.send(messages)
    assert calls_of(first) == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Madrid"})]
    ids = [call.id for call in first.choices[0].message.tool_calls]
    assert len(set(ids)) == 2

    partial = list(messages)
    chat.add_calls_and_results(partial, first.choices[0].message, answered=1)
    with pytest.raises(ERRORS) as raised:
        chat.send(partial)
    status, code, message = error_of(raised)
    assert status == 400 and f"did not have response messages: {ids[1]}" in message

    chat.add_calls_and_results(messages, first.choices[0].message)
    assert chat.send(messages).choices[0].message.content == (
        "In Paris it is 18 °C with light rain; in Madrid it is 27 °C and sunshine.")


@pytest.mark.parametrize("sdk", SDKS)
def test_a_tool_that_fails_is_reported_back_and_the_answer_says_so(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("What is the weather like in Atlantis?")]
    first = chat.send(messages)
    assert calls_of(first) == [("get_weather", {"city": "Atlantis"})]

    chat.add_calls_and_results(messages, first.choices[0].message)
    answer = chat.send(messages).choices[0].message.content

    assert answer.startswith("I could not get the weather for Atlantis: no weather data for 'Atlantis'.")


@pytest.mark.parametrize("sdk", SDKS)
def test_a_question_that_needs_two_steps_takes_two_rounds_of_calls(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("Should I take an umbrella to the city where the Louvre is?")]
    rounds = []
    for _ in range(5):  # a step limit: the script needs 2 rounds and an answer
        response = chat.send(messages)
        if finish_reason(response.choices[0]) != "tool_calls":
            break
        rounds.append(calls_of(response))
        chat.add_calls_and_results(messages, response.choices[0].message)

    assert rounds == [[("find_landmark", {"name": "Louvre"})], [("get_weather", {"city": "Paris"})]]
    assert response.choices[0].message.content.startswith("The Louvre is in Paris, where it is 18 °C")


@pytest.mark.parametrize("sdk", SDKS)
def test_a_model_that_never_finishes_is_stopped_only_by_the_step_limit(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("Tell me when it stops raining in London.")]
    for _ in range(6):
        response = chat.send(messages)
        assert calls_of(response) == [("get_weather", {"city": "London"})]
        chat.add_calls_and_results(messages, response.choices[0].message)


# --- tool_choice --------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_auto_answers_in_text_when_no_tool_helps(chat_for, sdk: str) -> None:
    response = chat_for(sdk).send([chat_for(sdk).user("What is the capital of France?")], "auto")

    assert finish_reason(response.choices[0]) == "stop"
    assert response.choices[0].message.content == "The capital of France is Paris."
    assert not response.choices[0].message.tool_calls


@pytest.mark.parametrize("sdk", SDKS)
def test_none_never_calls_even_when_a_tool_would_help(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    response = chat.send([chat.user("What is the weather like in Paris today?")], "none")

    assert finish_reason(response.choices[0]) == "stop"
    assert "cannot look up today's weather" in response.choices[0].message.content


@pytest.mark.parametrize("sdk", SDKS)
def test_required_calls_again_after_the_results_so_a_loop_must_switch_to_auto(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    messages = [chat.user("What is the weather like in Paris today?")]
    first = chat.send(messages, "required")
    chat.add_calls_and_results(messages, first.choices[0].message)

    assert finish_reason(chat.send(messages, "required").choices[0]) == "tool_calls"
    assert finish_reason(chat.send(messages, "auto").choices[0]) == "stop"


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


@pytest.mark.parametrize("sdk", SDKS)
@SETTINGS
@given(prompt=st.text(min_size=1, max_size=60).filter(str.strip), choice=st.sampled_from(["required", "find_landmark"]))
def test_required_or_a_named_function_always_calls_with_arguments_that_fit(
        chat_for, sdk: str, prompt: str, choice: str) -> None:
    chat = chat_for(sdk)
    response = chat.send([chat.user(prompt)], choice)

    assert finish_reason(response.choices[0]) == "tool_calls"
    calls = calls_of(response)
    assert calls and all(name in FUNCTIONS for name, _ in calls)
    if choice != "required":
        assert {name for name, _ in calls} == {choice}
    for name, arguments in calls:
        jsonschema.validate(arguments, FUNCTIONS[name][1])


@pytest.mark.parametrize("sdk", SDKS)
@SETTINGS
@given(parameters=object_schemas(), prompt=st.text(min_size=1, max_size=40).filter(str.strip))
def test_any_parameters_schema_gets_arguments_that_fit_it(chat_for, sdk: str, parameters: dict, prompt: str) -> None:
    chat = chat_for(sdk, {"lookup": ("Looks something up.", parameters)})
    response = chat.send([chat.user(prompt)], "lookup")

    [(name, arguments)] = calls_of(response)
    assert name == "lookup"
    jsonschema.validate(arguments, parameters)


@pytest.mark.parametrize("sdk", SDKS)
def test_scripted_arguments_are_fitted_to_parameters_of_another_shape(chat_for, sdk: str) -> None:
    other = {"type": "object", "properties": {"location": {"type": "string"}, "days": {"type": "integer",
                                                                                        "minimum": 1}},
             "required": ["location", "days"], "additionalProperties": False}
    chat = chat_for(sdk, {"get_weather": ("Weather.", other)})

    [(name, arguments)] = calls_of(chat.send([chat.user("What is the weather like in Paris today?")]))

    jsonschema.validate(arguments, other)


def test_parallel_tool_calls_false_keeps_one_call(chat_for) -> None:
    chat = chat_for("openai")
    response = chat.send([chat.user("Compare the weather in Paris and Madrid.")], parallel_tool_calls=False)

    assert calls_of(response) == [("get_weather", {"city": "Paris"})]


@pytest.mark.parametrize("sdk", SDKS)
def test_streamed_calls_add_up_to_the_same_calls(chat_for, sdk: str, make_chat_client, openai_client) -> None:
    chat = chat_for(sdk)
    question = [chat.user("Compare the weather in Paris and Madrid.")]
    whole = chat.send(question).choices[0].message.tool_calls
    if sdk == "openai":
        chunks = openai_client.chat.completions.create(model=TEST_MODEL, messages=question, tools=chat.tools,
                                                       stream=True)
    else:
        chunks = make_chat_client().complete(messages=question, tools=chat.tools, stream=True)

    calls: dict[int, dict[str, str]] = {}
    reasons = []
    for chunk in chunks:
        if not chunk.choices:
            continue
        reasons.append(finish_reason(chunk.choices[0]))
        for delta in chunk.choices[0].delta.tool_calls or []:
            # azure-ai-inference's update has no `index` attribute; the JSON it wraps has it.
            index = delta.index if hasattr(delta, "index") else delta["index"]
            call = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += delta.function.name or ""
            call["arguments"] += delta.function.arguments or ""
    assert [(c["id"], c["name"], c["arguments"]) for c in calls.values()] == [
        (c.id, c.function.name, c.function.arguments) for c in whole]
    assert reasons[-1] == "tool_calls"


# --- what the service refuses -------------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_a_named_function_missing_from_tools_is_refused(chat_for, sdk: str) -> None:
    chat = chat_for(sdk)
    with pytest.raises(ERRORS) as raised:
        chat.send([chat.user("Hi")], "get_time")

    status, _, message = error_of(raised)
    assert status == 400 and "no function named 'get_time'" in message


@pytest.mark.parametrize("sdk", SDKS)
def test_a_malformed_parameters_schema_is_refused(chat_for, sdk: str) -> None:
    broken = {"type": "object", "properties": {"city": {"type": "town"}}}
    chat = chat_for(sdk, {"get_weather": ("Weather.", broken)})
    with pytest.raises(ERRORS) as raised:
        chat.send([chat.user("Hi")])

    status, code, message = error_of(raised)
    assert (status, code) == (400, "invalid_function_parameters")
    assert "Invalid schema for function 'get_weather': In context=('properties', 'city')" in message


def test_a_tool_message_answering_no_call_is_refused(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.chat.completions.create(model=TEST_MODEL, messages=[
            {"role": "user", "content": "Hi"}, {"role": "tool", "tool_call_id": "call_made_up", "content": "42"}])

    assert "must be a response to a preceding message with 'tool_calls'" in raised.value.message


def test_tool_choice_without_tools_is_refused(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                              tool_choice="required")

    assert "only allowed when 'tools' are specified" in raised.value.message


# --- the lesson's exercise ----------------------------------------------------------------------


def run_with_tools(client: openai.OpenAI, model: str, messages: list, tools: list, max_steps: int) -> tuple[list, str]:
    """The lesson's loop, as the exercise runs it: the calls of each step, and the answer or a stop note."""
    steps = []
    for _ in range(max_steps):
        response = client.chat.completions.create(model=model, messages=messages, tools=tools)
        message = response.choices[0].message
        if not message.tool_calls:
            return steps, message.content
        steps.append([(call.function.name, json.loads(call.function.arguments)) for call in message.tool_calls])
        messages.append(message)
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": run(call.function.name, call.function.arguments)})
    return steps, f"Stopped: no answer after max_steps={max_steps}."


def test_exercise_10_one_step_is_not_enough_for_two_cities_two_are(chat: Connection) -> None:
    # The exercise: run the loop on "Compare the weather in Paris and Madrid." with max_steps=1,
    # then 2. With 1: two calls in step 1, then the loop stops without an answer. With 2: the comparison.
    client = chat.openai_client()
    tools = Chat("openai", chat.client, client).tools
    question = "Compare the weather in Paris and Madrid."

    steps, answer = run_with_tools(client, chat.model, [{"role": "user", "content": question}], tools, 1)
    assert steps == [[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Madrid"})]]
    assert answer == "Stopped: no answer after max_steps=1."

    steps, answer = run_with_tools(client, chat.model, [{"role": "user", "content": question}], tools, 2)
    assert len(steps) == 1
    assert answer == "In Paris it is 18 °C with light rain; in Madrid it is 27 °C and sunshine."
