"""scripts/live_check.py as its users meet it: without credentials it explains and does not fail;
with a provider configured, the notebooks really go to that provider and are reported one by one.

The provider here is the offline endpoint imitating Microsoft Foundry, so the test needs no account.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from chat_helpers.config import VARIABLES

from offline_endpoint import OfflineEndpoint

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "live_check.py"
WORKFLOW = ROOT / ".github" / "workflows" / "live-check.yml"
NOTEBOOK = ROOT / "notebooks" / "08_openai_sdk.ipynb"
KEY = "live-check-test-key-91d4a7"


def live_check(*arguments: str, **configured: str) -> subprocess.CompletedProcess[str]:
    """Run the documented command with exactly ``configured`` set.

    Every other configuration variable is set empty, which wins over a developer's `.env`.
    """
    env = {**os.environ, **dict.fromkeys((*VARIABLES, "CHAT_LIVE_CHECK"), ""), **configured}
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_offline_means_nothing_to_check_and_is_not_a_failure() -> None:
    result = live_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Live check: nothing to check. CHAT_PROVIDER is offline (the default)")
    assert "set CHAT_PROVIDER=foundry with FOUNDRY_ENDPOINT and FOUNDRY_API_KEY" in result.stdout


@pytest.mark.parametrize(("configured", "missing"), [
    ({"CHAT_PROVIDER": "foundry", "FOUNDRY_ENDPOINT": "https://contoso.services.ai.azure.com/models"},
     "FOUNDRY_API_KEY is not set"),
    ({"CHAT_PROVIDER": "foundry", "FOUNDRY_API_KEY": KEY}, "FOUNDRY_ENDPOINT is not set"),
])
def test_a_missing_credential_is_named_and_is_not_a_failure(configured: dict[str, str], missing: str) -> None:
    result = live_check(**configured)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"Live check: nothing to check, a setting is missing. {missing}")
    assert "notebook" not in result.stdout  # no notebook was run
    assert KEY not in result.stdout + result.stderr


def test_a_configuration_that_cannot_work_fails_with_what_to_fix() -> None:
    result = live_check(CHAT_PROVIDER="foundry", FOUNDRY_API_KEY=KEY,
                        FOUNDRY_ENDPOINT="https://<resource>.services.ai.azure.com/models")
    assert result.returncode == 2
    assert result.stdout == (
        "Live check cannot start: FOUNDRY_ENDPOINT is still the example's placeholder "
        "(https://<resource>.services.ai.azure.com/models); replace the <...> part with your own.\n")


def test_the_retired_provider_is_not_checked_and_says_what_to_set() -> None:
    result = live_check(CHAT_PROVIDER="github-models", GITHUB_TOKEN=KEY)
    assert result.returncode == 2
    assert result.stdout.startswith("Live check cannot start: CHAT_PROVIDER is github-models. "
                                    "Note: GitHub Models was retired on 2026-07-30")


def test_a_server_that_is_not_running_is_reported(stand_in: OfflineEndpoint) -> None:
    result = live_check(CHAT_PROVIDER="local", LOCAL_BASE_URL="http://127.0.0.1:9/v1")
    assert result.returncode == 1
    assert "Cannot reach http://127.0.0.1:9/v1 (Connection refused). Is the server running" in result.stdout


def test_the_notebooks_run_against_the_configured_provider_and_are_reported(
        stand_in: OfflineEndpoint) -> None:
    seen_before = len(stand_in.requests)
    result = live_check(str(NOTEBOOK), CHAT_PROVIDER="foundry", FOUNDRY_ENDPOINT=f"{stand_in.url}/models",
                        FOUNDRY_API_KEY=KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Live check: Connected to Microsoft Foundry at {stand_in.url}/models. " \
                       "Model: Phi-3-mini-4k-instruct."
    assert lines[2].split() == ["08_openai_sdk.ipynb", "pass", "11/11"]
    assert KEY not in result.stdout + result.stderr
    received = {(r.path, r.model) for r in list(stand_in.requests)[seen_before:]}
    assert received == {("/models/chat/completions", "Phi-3-mini-4k-instruct"),
                        ("/openai/v1/chat/completions", "Phi-3-mini-4k-instruct")}, \
        "the notebooks did not reach the provider: conftest.py must keep it when CHAT_LIVE_CHECK=1"


def test_a_failing_cell_is_reported_with_its_notebook(stand_in: OfflineEndpoint) -> None:
    stand_in.faults.add("unauthorized")  # the first call of the notebook: a wrong key
    result = live_check(str(NOTEBOOK), CHAT_PROVIDER="foundry", FOUNDRY_ENDPOINT=f"{stand_in.url}/models",
                        FOUNDRY_API_KEY=KEY)
    assert result.returncode == 1
    # The helpers show an explanation instead of a traceback; it must count as a failure all the same,
    # and the report shows the explanation's first line.
    assert result.stdout.splitlines()[2].split() == [
        "08_openai_sdk.ipynb", "FAIL", "10/11", "Cell", "2:", "ClientAuthenticationError:", "The", "service",
        "refused", "the", "key", "(401", "Unauthorized):", "The", "`models`", "permission", "is", "required", "to"]
    assert result.stdout.endswith("Some notebooks failed against the real model; "
                                  "the first failing cell of each is shown.\n")


def test_the_workflow_runs_the_documented_command_by_hand_or_weekly_only_with_secrets() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"workflow_dispatch", "schedule"}
    job = workflow["jobs"]["live-check"]
    assert job["env"] == {name: f"${{{{ secrets.{name} }}}}"
                          for name in ("CHAT_PROVIDER", "FOUNDRY_ENDPOINT", "FOUNDRY_API_KEY")}
    check, *steps = job["steps"]
    assert "configured=true" in check["run"] and "::notice" in check["run"]
    assert all(step["if"] == "steps.secrets.outputs.configured == 'true'" for step in steps)
    assert steps[-1]["run"] == ".venv/bin/python scripts/live_check.py"
    assert ".venv/bin/python scripts/live_check.py" in SCRIPT.read_text(encoding="utf-8")
