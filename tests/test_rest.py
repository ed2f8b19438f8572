"""Lesson 06's shell cells, run with bash and curl against every base path a learner's endpoint may have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from offline_endpoint import OfflineEndpoint, start_in_background
from offline_endpoint.answers import scripted_reply

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "06_rest_and_curl.ipynb"
TEST_KEY = "offline-rest-test-key-93b2e1"  # distinctive, so a test can search the output for it
TEST_MODEL = "Phi-3-mini-4k-instruct"
# No base path (the old GitHub Models host), models.github.ai, Microsoft Foundry, OpenAI-compatible servers.
BASE_PATHS = ["", "/inference", "/models", "/v1"]


def shell_cells() -> list[str]:
    """The bodies of the lesson's %%bash cells, in order."""
    notebook = nbformat.read(LESSON, as_version=4)
    return [cell.source.removeprefix("%%bash\n") for cell in notebook.cells
            if cell.cell_type == "code" and cell.source.startswith("%%bash\n")]


# The lesson's shell cells in order: the variables, the quick start's three requests, the raw error, the exercise.
VARIABLES, BASIC, MULTI_TURN, STREAMING, RAW_ERROR, EXERCISE = shell_cells()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[OfflineEndpoint]:
    if not shutil.which("curl") or not shutil.which("bash"):
        pytest.fail("Lesson 06 needs bash and curl.")
    with start_in_background(allow_fault_header=True) as running:
        yield running


def run_cell(source: str, endpoint: OfflineEndpoint, base_path: str) -> str:
    """Run one shell cell as the notebook does, with the variables connect() exports; return its output."""
    env = {**os.environ, "CHAT_ENDPOINT_URL": endpoint.url + base_path, "CHAT_API_KEY": TEST_KEY,
           "CHAT_MODEL_ID": TEST_MODEL}
    result = subprocess.run(["bash", "-c", source], env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert TEST_KEY not in result.stdout
    return result.stdout


def test_the_variables_cell_shows_the_key_length_only(endpoint: OfflineEndpoint) -> None:
    output = run_cell(VARIABLES, endpoint, "/models")

    assert f"Endpoint: {endpoint.url}/models" in output
    assert f"Key:      {len(TEST_KEY)} characters" in output


@pytest.mark.parametrize("base_path", BASE_PATHS)
def test_the_quick_start_requests_answer_at_every_base_path(endpoint: OfflineEndpoint, base_path: str) -> None:
    basic = json.loads(run_cell(BASIC, endpoint, base_path))
    follow_up = json.loads(run_cell(MULTI_TURN, endpoint, base_path))

    assert basic["choices"][0]["message"]["content"] == "The capital of France is Paris."
    assert follow_up["choices"][0]["message"]["content"].startswith("The capital of Spain is Madrid.")
    assert endpoint.requests[-1].path == base_path + "/chat/completions"


@pytest.mark.parametrize("base_path", BASE_PATHS)
def test_the_streaming_cell_shows_the_first_and_last_events(endpoint: OfflineEndpoint, base_path: str) -> None:
    lines = run_cell(STREAMING, endpoint, base_path).splitlines()
    first, second = json.loads(lines[0].removeprefix("data: ")), json.loads(lines[2].removeprefix("data: "))
    last = json.loads(lines[-3].removeprefix("data: "))

    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert second["choices"][0]["delta"]["content"] == "Here"
    assert last["choices"][0]["finish_reason"] == "stop"
    assert lines[-1] == "data: [DONE]"
    # every event is counted: one per token, the role chunk, the final chunk and [DONE]
    events = int(lines[4].split()[1])
    assert events == last["usage"]["completion_tokens"] + 3


def test_the_stream_on_the_wire_carries_the_whole_answer(endpoint: OfflineEndpoint) -> None:
    """What lesson 06 says of the format: `data: <json>` lines, each followed by an empty line, then [DONE]."""
    stream_only = STREAMING.split("\necho", 1)[0].replace("stream=$(", "", 1).removesuffix(")")
    wire = run_cell(stream_only, endpoint, "")
    assert wire.endswith("data: [DONE]\n\n")
    events = wire.removesuffix("\n\n").split("\n\n")
    text = "".join(json.loads(event.removeprefix("data: "))["choices"][0]["delta"].get("content", "")
                   for event in events[:-1] if event.startswith("data: {"))
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Give me 5 good reasons why I should exercise every day."}]

    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    assert text == scripted_reply(messages, TEST_MODEL)


def test_the_raw_error_shows_status_line_headers_and_body(endpoint: OfflineEndpoint) -> None:
    head, body = run_cell(RAW_ERROR, endpoint, "").split("\n\n", 1)  # text mode turns CRLF into LF

    assert head.splitlines()[0] == "HTTP/1.1 410 Gone"
    assert "Content-Type: application/json; charset=UTF-8" in head.splitlines()
    assert json.loads(body)["error"]["code"] == "github_models_retirement_brownout"


def test_the_exercise_request_stops_at_five_tokens(endpoint: OfflineEndpoint) -> None:
    answer = json.loads(run_cell(EXERCISE, endpoint, ""))

    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 5
