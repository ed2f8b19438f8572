"""Whatever a client sends, the offline endpoint answers a 4xx naming the problem: never a 5xx or a hang."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from offline_endpoint import FAULT_HEADER, MODELS, OfflineEndpoint
from tests.support import TEST_KEY, TEST_MODEL

AUTH = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
HI = {"role": "user", "content": "Hi"}


def _body(**fields: Any) -> bytes:
    """A valid request with ``fields`` replaced (a value of ``...`` removes the field)."""
    request = {"model": TEST_MODEL, "messages": [HI], **fields}
    return json.dumps({k: v for k, v in request.items() if v is not ...}).encode()


def _deeply_nested(depth: int) -> bytes:
    head = b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": '
    return head + b"[" * depth + b"]" * depth + b"}"


# (id, body, extra headers, expected status, expected error.code, text the message must contain)
MALFORMED: list[tuple[str, bytes, dict[str, str], int, str, str]] = [
    ("malformed JSON", b'{"model": "x", "messages": [', {}, 400, "invalid_json", "not valid JSON"),
    ("trailing garbage", _body() + b"}", {}, 400, "invalid_json", "not valid JSON"),
    ("empty body", b"", {}, 400, "invalid_json", "empty"),
    ("body is a list", b"[]", {}, 400, "invalid_request", "JSON object, not list"),
    ("body is a string", b'"hello"', {}, 400, "invalid_request", "JSON object, not str"),
    ("body is null", b"null", {}, 400, "invalid_request", "JSON object"),
    ("missing messages", _body(messages=...), {}, 400, "invalid_request", "'messages' is a required property"),
    ("empty messages", _body(messages=[]), {}, 400, "invalid_request", "'messages'"),
    ("messages not a list", _body(messages="Hi"), {}, 400, "invalid_request", "'messages'"),
    ("missing model", _body(model=...), {}, 400, "invalid_request", "'model' is a required property"),
    ("model not a string", _body(model=3), {}, 400, "invalid_request", "'model'"),
    ("empty model", _body(model=""), {}, 400, "invalid_request", "'model'"),
    ("unknown role", _body(messages=[{"role": "wizard", "content": "Hi"}]), {}, 400, "invalid_request",
     "'messages[0].role'"),
    ("message without role", _body(messages=[{"content": "Hi"}]), {}, 400, "invalid_request", "'role'"),
    ("message not an object", _body(messages=["Hi"]), {}, 400, "invalid_request", "'messages[0]'"),
    ("content a number", _body(messages=[{"role": "user", "content": 42}]), {}, 400, "invalid_request",
     "'messages[0].content'"),
    ("user content missing", _body(messages=[{"role": "user"}]), {}, 400, "invalid_request", "'content'"),
    ("temperature too high", _body(temperature=2.5), {}, 400, "invalid_request", "'temperature'"),
    ("temperature a string", _body(temperature="hot"), {}, 400, "invalid_request", "'temperature'"),
    ("top_p above 1", _body(top_p=1.5), {}, 400, "invalid_request", "'top_p'"),
    ("top_p negative", _body(top_p=-0.1), {}, 400, "invalid_request", "'top_p'"),
    ("max_tokens zero", _body(max_tokens=0), {}, 400, "invalid_request", "'max_tokens'"),
    ("max_tokens negative", _body(max_tokens=-5), {}, 400, "invalid_request", "'max_tokens'"),
    ("max_tokens fractional", _body(max_tokens=2.5), {}, 400, "invalid_request", "'max_tokens'"),
    ("max_tokens a whole float", _body(max_tokens=3.0), {}, 400, "invalid_request", "'max_tokens'"),
    ("max_tokens a bool", _body(max_tokens=True), {}, 400, "invalid_request", "'max_tokens'"),
    ("frequency_penalty out of range", _body(frequency_penalty=3), {}, 400, "invalid_request", "'frequency_penalty'"),
    ("stream not a boolean", _body(stream="yes"), {}, 400, "invalid_request", "'stream'"),
    ("include_usage not a boolean", _body(stream=True, stream_options={"include_usage": 1}), {}, 400,
     "invalid_request", "'stream_options.include_usage'"),
    ("too many stop sequences", _body(stop=["a", "b", "c", "d", "e"]), {}, 400, "invalid_request", "'stop'"),
    ("n above 1", _body(n=2), {}, 400, "invalid_request", "'n'"),
    ("unknown response_format", _body(response_format={"type": "yaml"}), {}, 400, "invalid_request",
     "'response_format.type'"),
    ("NaN", _body().replace(b'"messages"', b'"temperature": NaN, "messages"'), {}, 400, "invalid_json", "NaN"),
    ("Infinity", _body().replace(b'"messages"', b'"top_p": -Infinity, "messages"'), {}, 400, "invalid_json",
     "Infinity"),
    ("invalid UTF-8", _body().replace(b"Hi", b"H\xff\xfe"), {}, 400, "invalid_encoding", "UTF-8"),
    ("UTF-16 body", _body().decode().encode("utf-16"), {}, 400, "invalid_encoding", "UTF-8"),
    ("oversized body", _body(messages=[{"role": "user", "content": "x" * 2_000_000}]), {}, 413,
     "request_body_too_large", "limit"),
    ("deep nesting", _deeply_nested(100_000), {}, 400, "invalid_json", "nested too deeply"),
    ("huge integer", _body().replace(b'"messages"', b'"seed": ' + b"9" * 5000 + b', "messages"'), {}, 400,
     "invalid_json", "digits"),
    ("tool message without tool_call_id", _body(messages=[HI, {"role": "tool", "content": "42"}]), {}, 400,
     "invalid_request", "'tool_call_id'"),
    ("content part without type", _body(messages=[{"role": "user", "content": [{"text": "Hi"}]}]), {}, 400,
     "invalid_request", "'type'"),
    ("content part of unknown type", _body(messages=[{"role": "user", "content": [{"type": "video"}]}]), {}, 400,
     "invalid_request", "'messages[0].content[0].type'"),
    ("text part without text", _body(messages=[{"role": "user", "content": [{"type": "text"}]}]), {}, 400,
     "invalid_request", "'text'"),
    ("image part without url", _body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
     {}, 400, "invalid_request", "'url'"),
    ("unknown fault header", _body(), {FAULT_HEADER: "meteor_strike"}, 400, "unknown_fault", "meteor_strike"),
]


def test_the_table_covers_at_least_twenty_cases() -> None:
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 20


@pytest.mark.parametrize(("body", "headers", "status", "code", "names"),
                         [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_request_gets_a_4xx_naming_the_problem(
    stand_in: OfflineEndpoint, body: bytes, headers: dict[str, str], status: int, code: str, names: str
) -> None:
    response = httpx.post(f"{stand_in.url}/inference/chat/completions", content=body,
                          headers={**AUTH, **headers}, timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert names in response.json()["error"]["message"]
    assert len(response.json()["error"]["message"]) < 400  # it names the problem, it does not echo the body


def test_a_body_past_what_the_server_reads_is_refused_from_its_headers(stand_in: OfflineEndpoint) -> None:
    # Only the headers are sent: the answer must come without waiting for 200 MB that never arrive.
    host, port = stand_in.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /inference/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["error"]["code"] == "request_body_too_large"


# --- properties ------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
WHOLE_FLOATS = st.integers(-5, 100).map(float)  # 3.0: an integer to JSON Schema, not to Python


def _mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] = JSON_VALUES) -> st.SearchStrategy[Any]:
    """A valid value 19 times in 20, so the search gets past the schema to answers and limits."""
    return st.integers(0, 19).flatmap(lambda pick: odd if pick == 0 else valid)


PARTS = st.fixed_dictionaries(
    {"type": _mostly(st.sampled_from(["text", "image_url", "input_audio"]))},
    optional={"text": _mostly(st.text(max_size=30)), "image_url": _mostly(st.fixed_dictionaries({"url": st.text()}))},
)
MESSAGES = st.fixed_dictionaries(
    {"role": _mostly(st.sampled_from(["system", "developer", "user", "assistant", "tool"])),
     "content": _mostly(st.text(max_size=60) | st.sampled_from(["What is the capital of France?", "What about Spain?"])
                        | st.lists(PARTS, max_size=3))},
    optional={"tool_call_id": _mostly(st.text(max_size=5)), "name": _mostly(st.text(max_size=5))},
)
MODEL_NAMES = st.sampled_from([m.name for m in MODELS] + [f"microsoft/{MODELS[0].name.upper()}", "nope"])
# Close to a real request, so the search reaches answers, limits and streaming, not only the schema.
CHAT_REQUESTS = st.fixed_dictionaries(
    {"model": _mostly(MODEL_NAMES), "messages": _mostly(st.lists(MESSAGES, min_size=1, max_size=4))},
    optional={
        "temperature": _mostly(st.floats(0, 2)), "top_p": _mostly(st.floats(0, 1)),
        "max_tokens": st.one_of(st.integers(1, 4100), WHOLE_FLOATS, st.integers() | st.floats(0, 10) | JSON_VALUES),
        "stop": _mostly(st.text(max_size=3) | st.lists(st.text(max_size=3), max_size=4)),
        "stream": _mostly(st.booleans()),
        "stream_options": _mostly(st.fixed_dictionaries({}, optional={"include_usage": _mostly(st.booleans())})),
        "seed": _mostly(st.integers(), WHOLE_FLOATS), "n": _mostly(st.just(1)),
        "tools": _mostly(st.lists(st.just({"type": "function"}), max_size=1)),
        "response_format": _mostly(st.sampled_from([{"type": "text"}, {"type": "json_object"}])),
    },
)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def http_client(stand_in_session: OfflineEndpoint) -> Iterator[httpx.Client]:
    # A timeout, so a hang fails the test instead of stopping the suite.
    with httpx.Client(base_url=stand_in_session.url, headers=AUTH, timeout=10) as client:
        yield client


def _assert_answered_well(response: httpx.Response) -> None:
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows what the search reached
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.endswith("data: [DONE]\n\n")
    else:
        assert response.json()["choices"][0]["message"]["role"] == "assistant"


@PROPERTY_SETTINGS
@given(body=JSON_VALUES)
def test_any_json_body_gets_an_answer_not_a_5xx(http_client: httpx.Client, body: Any) -> None:
    _assert_answered_well(http_client.post("/chat/completions", content=json.dumps(body).encode()))


@PROPERTY_SETTINGS
@given(body=CHAT_REQUESTS)
def test_any_near_valid_request_gets_an_answer_not_a_5xx(http_client: httpx.Client, body: dict[str, Any]) -> None:
    _assert_answered_well(http_client.post("/v1/chat/completions", content=json.dumps(body).encode()))


@PROPERTY_SETTINGS
@given(body=st.binary(max_size=300))
def test_any_bytes_get_an_answer_not_a_5xx(http_client: httpx.Client, body: bytes) -> None:
    _assert_answered_well(http_client.post("/inference/chat/completions", content=body))
