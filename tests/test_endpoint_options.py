"""The endpoint's options: extra answer files, faults by header, required keys, where it listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from conftest import TEST_KEY, TEST_MODEL
from offline_endpoint import OfflineEndpoint, start_in_background

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
                                                           offline_endpoint: OfflineEndpoint) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(f'[[answer]]\nprompt = "{EXTRA_PROMPT}"\nreply = "Teal."\n', encoding="utf-8")

    with start_in_background(answer_files=[extra]) as endpoint:
        with_file = _answer(_ask(endpoint, EXTRA_PROMPT))
        still_scripted = _answer(_ask(endpoint, "What is the capital of France?"))
    without = _answer(_ask(offline_endpoint, EXTRA_PROMPT))

    assert with_file == "Teal."
    assert "Paris" in still_scripted
    assert "offline practice endpoint" in without  # the fallback: the file stayed with its endpoint


def test_the_benchmark_answer_is_not_among_the_products_answers(offline_endpoint: OfflineEndpoint) -> None:
    answer = _answer(_ask(offline_endpoint, "Benchmark: write a long answer of 2,000 tokens."))

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
