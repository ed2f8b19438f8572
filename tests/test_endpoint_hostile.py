"""Hostile requests: whatever arrives on the socket, the endpoint answers a 4xx in the service's
shape (or, where tornado leaves no choice, closes the connection), within seconds, stays up, and
never writes much more than the answer it generated."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY, TEST_MODEL
from offline_endpoint import OfflineEndpoint

AUTH = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}


# --- amplification ---------------------------------------------------------------------------

# A streamed token costs one event of about 250 bytes; the rest (role, finish, usage, [DONE]) is
# four more events. Whatever a request is padded with, nothing of it may be repeated per event.
BYTES_PER_EVENT = 400
FRAMING_EVENTS = 4
PADDED_FIELDS = ("model", "model-leading", "prompt", "system", "stop", "user")


def _padded_request(field: str, padding: int, stream: bool) -> dict:
    spaces = " " * padding
    question = {"role": "user", "content": "Give me 5 good reasons why I should exercise every day."}
    request: dict = {"model": TEST_MODEL, "stream": stream, "messages": [question]}
    if field == "model":
        request["model"] = TEST_MODEL + spaces
    elif field == "model-leading":
        request["model"] = spaces + TEST_MODEL
    elif field == "prompt":
        request["messages"][0]["content"] += spaces
    elif field == "system":
        request["messages"].insert(0, {"role": "system", "content": "Be brief." + spaces})
    elif field == "stop":
        request["stop"] = ["never in the answer" + spaces]
    else:
        request["user"] = "learner" + spaces
    return request


@pytest.fixture(scope="module")
def http_client(offline_endpoint_session: OfflineEndpoint) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=offline_endpoint_session.url, headers=AUTH, timeout=10) as client:
        yield client


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(PADDED_FIELDS), padding=st.integers(0, 1_000_000), stream=st.booleans())
def test_response_size_is_bounded_by_the_answer_whatever_the_padding(
        http_client: httpx.Client, field: str, padding: int, stream: bool) -> None:
    response = http_client.post("/chat/completions", content=json.dumps(_padded_request(field, padding, stream)))

    assert response.status_code < 500
    tokens = 0
    if response.status_code == 200:
        last = response.text.split("data: ")[-2] if stream else response.text
        tokens = json.loads(last)["usage"]["completion_tokens"]
        assert tokens > 0
    assert len(response.content) <= BYTES_PER_EVENT * (tokens + FRAMING_EVENTS)


def test_a_padded_model_name_is_refused_with_a_short_message(http_client: httpx.Client) -> None:
    response = http_client.post("/chat/completions", content=json.dumps(_padded_request("model", 1_000_000, True)))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_model"
    assert len(response.content) < 400


def test_a_prompt_ending_in_a_megabyte_of_spaces_is_answered_in_seconds(http_client: httpx.Client) -> None:
    # Trailing spaces once made token counting quadratic: 40 KB of them took 50 s of the event loop.
    request = _padded_request("prompt", 1_000_000, False)

    response = http_client.post("/chat/completions", content=json.dumps(request), timeout=5)

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"].startswith("Here are five good reasons")
