"""The quick start's JavaScript samples, run with Node against the offline endpoint as a learner runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from chat_helpers import ensure_node_packages
from chat_helpers.javascript import CELL_CANNOT_RUN, NODE_MISSING
from nbclient import NotebookClient

from offline_endpoint import OfflineEndpoint
from offline_endpoint.answers import scripted_reply

SAMPLES = Path(__file__).resolve().parent.parent / "notebooks" / "javascript"
SETTINGS_VARIABLES = ("CHAT_ENDPOINT_URL", "CHAT_API_KEY", "CHAT_MODEL_ID")
TEST_KEY = "offline-js-test-key-7c1d3a"  # distinctive, so a test can search the output for it
TEST_MODEL = "Phi-3-small-8k-instruct"  # the model the seeds use
EXERCISE_PROMPT = "Give me 5 good reasons why I should exercise every day."


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the samples' packages installed as lesson 07's first cells do it."""
    ensure_node_packages()
    node_path = shutil.which("node")
    if node_path is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed for the JavaScript lesson (CI's .ci/run checks for them).")
    return node_path


def run_sample(node: str, name: str, **settings: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``node <name>.js`` in the samples' folder with these CHAT_* variables (None leaves one out)."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update({k: v for k, v in settings.items() if v is not None})
    return subprocess.run([node, f"{name}.js"], cwd=SAMPLES, env=env, capture_output=True, text=True,
                          timeout=60)


def offline_settings(endpoint: OfflineEndpoint, base_path: str = "") -> dict[str, str]:
    return {"CHAT_ENDPOINT_URL": endpoint.url + base_path, "CHAT_API_KEY": TEST_KEY, "CHAT_MODEL_ID": TEST_MODEL}


def assert_key_not_shown(result: subprocess.CompletedProcess[str]) -> None:
    assert TEST_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize("base_path", ["", "/inference", "/v1"])
def test_basic_sample_prints_the_answer(node: str, stand_in: OfflineEndpoint, base_path: str) -> None:
    result = run_sample(node, "basic", **offline_settings(stand_in, base_path))

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "The capital of France is Paris.\n"
    last = stand_in.requests[-1]
    assert (last.path, last.model, last.stream) == (f"{base_path}/chat/completions", TEST_MODEL, False)
    assert "Authorization" in last.auth_headers


def test_multi_turn_sample_answers_the_follow_up_in_context(node: str, stand_in: OfflineEndpoint) -> None:
    result = run_sample(node, "multi_turn", **offline_settings(stand_in))

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("The capital of Spain is Madrid.")


def test_streaming_sample_prints_the_whole_streamed_answer(node: str, stand_in: OfflineEndpoint) -> None:
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": EXERCISE_PROMPT}]
    result = run_sample(node, "streaming", **offline_settings(stand_in))

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == scripted_reply(messages, TEST_MODEL) + "\n"
    assert result.stdout.count("\n") > 5  # all five reasons, line breaks kept
    assert stand_in.requests[-1].stream


def test_samples_work_with_localhost_spelled_out(node: str, stand_in: OfflineEndpoint) -> None:
    settings = offline_settings(stand_in)
    settings["CHAT_ENDPOINT_URL"] = settings["CHAT_ENDPOINT_URL"].replace("127.0.0.1", "localhost")
    result = run_sample(node, "basic", **settings)

    assert (result.returncode, result.stdout) == (0, "The capital of France is Paris.\n")


def test_an_error_response_is_reported_without_the_key(node: str, stand_in: OfflineEndpoint) -> None:
    stand_in.faults.add("retired")
    result = run_sample(node, "basic", **offline_settings(stand_in))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("The sample encountered an error:")
    assert "github_models_retirement_brownout" in result.stderr
    assert_key_not_shown(result)


def test_a_streaming_error_names_the_status(node: str, stand_in: OfflineEndpoint) -> None:
    stand_in.faults.add("unauthorized")
    result = run_sample(node, "streaming", **offline_settings(stand_in))

    assert result.returncode == 1
    assert "http operation failed with 401 code" in result.stderr
    assert_key_not_shown(result)


@pytest.mark.parametrize("sample", ["basic", "multi_turn", "streaming"])
def test_plain_http_to_another_machine_is_refused(node: str, stand_in: OfflineEndpoint, sample: str) -> None:
    seen = len(stand_in.requests)
    settings = offline_settings(stand_in)
    settings["CHAT_ENDPOINT_URL"] = "http://192.0.2.10:8000/v1"  # TEST-NET-1: never a real machine
    result = run_sample(node, sample, **settings)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "plain http:// to another machine would send your key unencrypted" in result.stderr
    assert_key_not_shown(result)
    assert len(stand_in.requests) == seen


@pytest.mark.parametrize("missing", SETTINGS_VARIABLES)
def test_a_missing_variable_says_to_run_connect_first(node: str, stand_in: OfflineEndpoint,
                                                      missing: str) -> None:
    settings: dict[str, str | None] = {**offline_settings(stand_in), missing: None}
    result = run_sample(node, "basic", **settings)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{missing} not set: run connect() in the notebook first")


def test_ensure_node_packages_says_the_samples_are_ready(node: str, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_node_packages()
    assert capsys.readouterr().out == "Node.js is installed and the samples' packages are ready.\n"


def test_ensure_node_packages_says_what_to_do_without_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where neither node nor npm is installed
    ensure_node_packages()
    out = capsys.readouterr().out
    assert out.startswith("Node.js is not installed, so the JavaScript cells below cannot run.")
    assert "https://nodejs.org" in out and out.count("\n") == 1
    # From then on, a node command prints one line and fails, instead of 'node: command not found'.
    shell = subprocess.run(["/bin/sh", "-c", "node javascript/basic.js"], capture_output=True, text=True)
    assert (shell.returncode, shell.stdout, shell.stderr) == (127, CELL_CANNOT_RUN + "\n", "")
    direct = subprocess.run(["node", "--input-type=module", "-e", "1"], capture_output=True, text=True)
    assert direct.stdout == CELL_CANNOT_RUN + "\n"


def test_the_stand_in_goes_once_node_is_there(node: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    ensure_node_packages()
    monkeypatch.setenv("PATH", os.environ["PATH"] + os.pathsep + str(Path(node).parent))  # Node installed since
    ensure_node_packages()
    assert shutil.which("node") == node


def nodeless_path(folder: Path) -> str:
    """A PATH with the few tools lesson 07's cells use besides node, and no node.

    IPython runs `!` commands with $SHELL, or with the `sh` it finds on PATH when SHELL is unset (as in CI),
    and `!env -u ...` needs env.
    """
    folder.mkdir()
    for tool in ("sh", "env", "cat", "ls"):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return str(folder)


def test_lesson_07_without_node_gives_one_line_per_node_cell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run lesson 07 as a learner without Node.js would: every Node cell prints the same one line."""
    lesson = SAMPLES.parent / "07_javascript.ipynb"
    notebook = nbformat.read(lesson, as_version=4)
    monkeypatch.setenv("PATH", nodeless_path(tmp_path / "bin"))  # the kernel inherits it
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(lesson.parent)}})
    client.execute()

    def text(cell: nbformat.NotebookNode) -> str:
        return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [cell.source for cell in code if any(o.output_type == "error" for o in cell.outputs)]
    (ensure,) = [cell for cell in code if cell.source.strip() == "ensure_node_packages()"]
    assert text(ensure) == NODE_MISSING + "\n"
    node_cells = [cell for cell in code if "node " in cell.source or '"node"' in cell.source]
    assert len(node_cells) >= 6
    for cell in node_cells:
        assert text(cell).replace("\r\n", "\n").strip() == CELL_CANNOT_RUN, cell.source


def test_ensure_node_packages_reports_npm_s_own_message_when_installing_fails(node: str, tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "no-lock-file", "version": "1.0.0"}')
    with pytest.raises(RuntimeError, match=r"(?s)npm ci failed in .*package-lock"):
        ensure_node_packages(tmp_path)  # npm ci refuses a folder without a lock file
