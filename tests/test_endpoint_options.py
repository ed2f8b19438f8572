"""The endpoint's options: extra answer files, faults by header, required keys, where it listens."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from chat_helpers import practice_endpoint

from offline_endpoint import FAULT_HEADER, OfflineEndpoint, start_in_background
from offline_endpoint.__main__ import exposure_warning
from offline_endpoint.background import is_loopback
from tests.support import TEST_KEY, TEST_MODEL

ROOT = Path(__file__).resolve().parents[1]
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
EXTRA_PROMPT = "What is the offline endpoint's favourite colour?"


def _ask(endpoint: OfflineEndpoint, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"model": TEST_MODEL, "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{endpoint.url}/chat/completions", json=body, headers={**AUTH, **(headers or {})}, timeout=10)


def _answer(response: httpx.Response) -> str:
    return response.json()["choices"][0]["message"]["content"]


# --- answer files ----------------------------------------------------------------------------


def test_an_answer_file_adds_answers_to_that_endpoint_only(tmp_path: Path,
                                                           stand_in: OfflineEndpoint) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(f'[[answer]]\nprompt = "{EXTRA_PROMPT}"\nreply = "Teal."\n', encoding="utf-8")

    with start_in_background(answer_files=[extra]) as endpoint:
        with_file = _answer(_ask(endpoint, EXTRA_PROMPT))
        still_scripted = _answer(_ask(endpoint, "What is the capital of France?"))
    without = _answer(_ask(stand_in, EXTRA_PROMPT))

    assert with_file == "Teal."
    assert "Paris" in still_scripted
    assert "offline practice endpoint" in without  # the fallback: the file stayed with its endpoint


def test_the_benchmark_answer_is_not_among_the_products_answers(stand_in: OfflineEndpoint) -> None:
    answer = _answer(_ask(stand_in, "Benchmark: write a long answer of 2,000 tokens."))

    assert "offline practice endpoint" in answer
    assert not list((ROOT / "offline_endpoint" / "answers").glob("*bench*"))


def test_the_command_refuses_an_answer_file_it_cannot_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[answer]\n", encoding="utf-8")

    results = [subprocess.run([sys.executable, "-m", "offline_endpoint", "--port", "0", "--answers", str(path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=20)
               for path in (broken, tmp_path / "missing.toml")]

    for result, name in zip(results, ("broken.toml", "missing.toml"), strict=True):
        assert result.returncode == 1
        assert f"Cannot use answers from {tmp_path / name}" in result.stderr
        assert "Traceback" not in result.stderr


# --- faults by header ------------------------------------------------------------------------


def test_faults_by_header_are_refused_unless_allowed_and_queued_faults_still_work() -> None:
    with start_in_background(allow_fault_header=False) as endpoint:
        refused = _ask(endpoint, "What is the capital of France?", {FAULT_HEADER: "server_error"})
        endpoint.faults.add("retired")
        queued = _ask(endpoint, "What is the capital of France?")
    with start_in_background(allow_fault_header=True) as endpoint:
        allowed = _ask(endpoint, "What is the capital of France?", {FAULT_HEADER: "retired"})

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "fault_header_disabled"
    assert "--allow-fault-header" in refused.json()["error"]["message"]
    assert queued.status_code == 410
    assert allowed.status_code == 410


def test_left_unsaid_faults_by_header_are_refused_and_the_notebooks_endpoint_asks_for_them() -> None:
    with start_in_background() as endpoint:
        refused = _ask(endpoint, "What is the capital of France?", {FAULT_HEADER: "retired"})
    asked_for = _ask(practice_endpoint(), "What is the capital of France?", {FAULT_HEADER: "retired"})

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "fault_header_disabled"
    assert asked_for.status_code == 410  # lesson 06 sends the header with curl


def test_loopback_hosts_are_told_apart_from_others() -> None:
    assert [is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST")] == [True] * 5
    assert [is_loopback(host) for host in ("0.0.0.0", "::", "", "192.168.1.5", "example.com")] == [False] * 5


# --- keys ------------------------------------------------------------------------------------

ACCEPTED = ("first-accepted-key-91c3", "second-accepted-key-2d7e")


def test_api_keys_make_the_endpoint_accept_only_those_keys() -> None:
    wrong = "wrong-key-5a0f"
    with start_in_background(api_keys=ACCEPTED) as endpoint:
        chats = [_ask(endpoint, "What is the capital of France?", {"Authorization": f"Bearer {key}"})
                 for key in (*ACCEPTED, wrong)]
        by_api_key = _ask(endpoint, "What is the capital of France?", {"Authorization": "", "api-key": ACCEPTED[1]})
        others = [httpx.get(f"{endpoint.url}{path}", headers={"api-key": wrong}, timeout=10)
                  for path in ("/v1/models", "/models/info")]
        catalog = httpx.get(f"{endpoint.url}/catalog/models", timeout=10)

    assert [response.status_code for response in chats] == [200, 200, 401]
    assert by_api_key.status_code == 200
    assert [response.status_code for response in others] == [401, 401]
    assert catalog.status_code == 200  # the catalog is public, as the service's was
    for response in (chats[2], *others):
        assert response.json()["error"]["code"] == "unauthorized"
        assert not any(key in response.text for key in (*ACCEPTED, wrong))


def test_an_empty_api_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        start_in_background(api_keys=["good", ""])


# --- the command -----------------------------------------------------------------------------


@contextmanager
def _command(*options: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The standalone endpoint with ``options``; yields its URL and process; stops it with Ctrl-C."""
    process = subprocess.Popen([sys.executable, "-m", "offline_endpoint", "--port", "0", *options], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    killer = threading.Timer(30, process.kill)  # a hung server must not hang the suite
    killer.start()
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline()).group(0)
        yield url, process
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    finally:
        killer.cancel()
        process.kill()


def test_the_command_takes_api_keys_and_refuses_header_faults_by_default() -> None:
    body = {"model": TEST_MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    with _command("--api-key", ACCEPTED[0], "--api-key", ACCEPTED[1]) as (url, process):
        statuses = [httpx.post(f"{url}/chat/completions", json=body, headers={"api-key": key}, timeout=10).status_code
                    for key in (*ACCEPTED, "wrong")]
        fault = httpx.post(f"{url}/chat/completions", json=body, timeout=10,
                           headers={"api-key": ACCEPTED[0], FAULT_HEADER: "retired"})
    output = process.stdout.read() + process.stderr.read()

    assert statuses == [200, 200, 401]
    assert fault.json()["error"]["code"] == "fault_header_disabled"
    assert "one of the keys given with --api-key" in output
    assert not any(key in output for key in ACCEPTED)  # keys are never printed
    assert "Warning" not in output  # on 127.0.0.1: nothing to warn about


def test_the_command_allows_header_faults_when_asked() -> None:
    body = {"model": TEST_MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    with _command("--allow-fault-header") as (url, _):
        fault = httpx.post(f"{url}/chat/completions", json=body, timeout=10,
                           headers={"api-key": "any", FAULT_HEADER: "retired"})

    assert fault.status_code == 410


@pytest.mark.parametrize(("host", "has_keys", "faults", "says"), [
    ("0.0.0.0", False, False, ["0.0.0.0", "any key is accepted (pass --api-key)"]),
    ("", True, True, ["every address", f"any client can ask for faults with {FAULT_HEADER}"]),
    ("192.168.1.5", True, False, ["192.168.1.5", "other machines may reach"]),
])
def test_a_host_beyond_loopback_is_warned_about(host: str, has_keys: bool, faults: bool, says: list[str]) -> None:
    warning = exposure_warning(host, has_keys, faults)

    assert warning is not None and all(part in warning for part in says)
    assert exposure_warning("127.0.0.1", has_keys, faults) is None
