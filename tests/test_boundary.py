"""The helper and the servers are apart: a lesson with another provider loads none of the
offline endpoint, and facts about models come from model_facts alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from chat_helpers import connect, explain
from chat_helpers.explanations import ServerNotAnswering

from offline_endpoint.answers import scripted_reply

LOADED = """
import json, sys
import chat_helpers
from chat_helpers import load_settings
load_settings()
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in
                        ("tornado", "offline_endpoint", "builtin_model", "xllamacpp"))))
"""


@pytest.mark.parametrize("env", [
    {"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": "https://contoso.services.ai.azure.com/models",
     "FOUNDRY_API_KEY": "boundary-test-key"},
    {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "ollama"},
    {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "built-in"},
])
def test_importing_the_helper_with_another_provider_loads_no_server(env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", **env}, check=True)
    assert json.loads(result.stdout) == []


def test_a_local_server_that_is_not_running_is_reported_by_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_PROVIDER", "local")
    monkeypatch.setenv("LOCAL_SERVER", "ollama")
    monkeypatch.setenv("LOCAL_BASE_URL", "http://127.0.0.1:9/v1")  # the discard port: nothing listens
    with pytest.raises(ServerNotAnswering) as caught:
        connect(quiet=True)
    text = str(explain(caught.value))
    assert text.startswith("Nothing answers at http://127.0.0.1:9/v1 (Ollama): ")
    assert "ollama serve" in text and "LOCAL_BASE_URL" in text


@pytest.mark.parametrize("asked", ["what is the capital of france", "WHAT IS THE CAPITAL OF FRANCE!",
                                   "  What is the  capital of France ? "])
def test_prompts_match_whatever_their_case_spacing_and_final_punctuation(asked: str) -> None:
    expected = scripted_reply([{"role": "user", "content": "What is the capital of France?"}], "m")
    assert scripted_reply([{"role": "user", "content": asked}], "m") == expected
    assert "Paris" in expected
