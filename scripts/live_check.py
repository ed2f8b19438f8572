"""Run the notebooks against the real provider configured in `.env`, and report per notebook.

    .venv/bin/python scripts/live_check.py                          # every notebook
    .venv/bin/python scripts/live_check.py notebooks/08_openai_sdk.ipynb

A real model writes different words every time, so only what is deterministic is compared:
every cell must run without an error (nbval's lax mode), and only cells marked
``# NBVAL_CHECK_OUTPUT`` are compared with their stored output. The usual test settings
(offline endpoint, no pacing) are switched off for this run with CHAT_LIVE_CHECK=1. A cell
whose failure the helpers explain still counts as failed: the explanation is published as its error.

Exit status: 0 when every notebook passed, or when there is nothing to check (the offline
provider, or a missing endpoint or key: it says what is missing); 1 when a notebook failed or
the provider cannot be reached; 2 when the configuration cannot work (it says what to fix).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chat_helpers.config import (
    ConfigurationError,
    MissingSettingError,
    read_environment,
    retirement_note,
)
from chat_helpers.connection import Connection, connect
from chat_helpers.explanations import ServerNotAnswering

from collection_tools import lessons

ROOT = Path(__file__).resolve().parent.parent

LIVE_SWITCH = {"CHAT_LIVE_CHECK": "1"}
# Cells of lesson 10 that need a model that calls tools; the bundled model ignores `tools`.
NEEDS_TOOL_CALLS = "needs-tool-calls"
NEEDS_TOOL_CALLS_NOTE = "they need a model that calls tools, and this one does not"
COPY_PREFIX = "live-check-copy-"  # conftest.py leaves the configured provider alone when set
CELL_TIMEOUT_SECONDS = 300  # a real model on a laptop can be slow
HOW_TO_CONFIGURE = ("To check a real model, set CHAT_PROVIDER=foundry with FOUNDRY_ENDPOINT and FOUNDRY_API_KEY, "
                    "or CHAT_PROVIDER=local, in .env or the environment (.env.example explains each variable).")


@dataclass
class NotebookResult:
    """How one notebook fared: its cells, and the first failure if any."""

    cells: int = 0
    failed: int = 0
    skipped: int = 0
    first_failure: str = ""

    @property
    def passed(self) -> bool:
        return self.cells > 0 and self.failed == 0


def configured_connection() -> Connection | int:
    """The connection the notebooks will make, or the exit status when there is nothing to run."""
    env = read_environment()
    if (env.get("CHAT_PROVIDER", "").strip().lower() or "offline") == "offline":
        print("Live check: nothing to check. CHAT_PROVIDER is offline (the default), whose scripted "
              "answers the test suite already checks.")
        print(HOW_TO_CONFIGURE)
        return 0
    try:
        chat = connect(quiet=True)
    except MissingSettingError as missing:
        print(f"Live check: nothing to check, a setting is missing. {missing}")
        print(HOW_TO_CONFIGURE)
        return 0
    except ConfigurationError as error:
        print(f"Live check cannot start: {error}")
        return 2
    except ServerNotAnswering as silent:
        print(f"Cannot reach {silent.url} ({silent.reason}). Is the server running, and is its URL in .env right?")
        return 1
    if chat.provider == "github-models":
        print(f"Live check cannot start: CHAT_PROVIDER is github-models. {retirement_note()}")
        return 2
    return chat


def unreachable(url: str) -> str | None:
    """Why nothing answers at ``url``'s host and port, or None when something does."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=10):
            return None
    except OSError as error:
        return f"{error.strerror or error}"


def makes_no_tool_calls(connection: Connection) -> bool:
    """True for the models known to ignore ``tools``: the bundled 135M model of the built-in server."""
    built_in = connection.settings.built_in
    return built_in is not None and built_in.model_file is None


def without_tool_cells(path: Path) -> tuple[Path, int]:
    """A copy of the notebook beside it whose cells tagged ``needs-tool-calls`` nbval skips."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    skipped = 0
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if NEEDS_TOOL_CALLS in tags:
            cell["metadata"]["tags"] = [*tags, "nbval-skip"]
            skipped += 1
    copy = path.with_name(COPY_PREFIX + path.name)
    copy.write_text(json.dumps(notebook), encoding="utf-8")
    return copy, skipped


def run_notebooks(paths: list[str], folder: Path) -> Path:
    """pytest in lax nbval mode over ``paths``, with the live switch on; returns its JUnit XML report."""
    junit = folder / "live-check.xml"
    command = [sys.executable, "-m", "pytest", *paths, "--nbval-lax", "--nbval-cell-timeout",
               str(CELL_TIMEOUT_SECONDS), "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"]
    env = {**os.environ, **LIVE_SWITCH}
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
    return junit


def results_by_notebook(junit: Path) -> dict[str, NotebookResult]:
    """Per notebook file name, what its cells did, from pytest's JUnit XML report."""
    results: dict[str, NotebookResult] = defaultdict(NotebookResult)
    if not junit.is_file() or junit.stat().st_size == 0:
        return {}
    for case in ElementTree.parse(junit).iter("testcase"):
        notebook = case.get("classname", "").removeprefix("notebooks.")
        result = results[notebook.removeprefix(COPY_PREFIX)]
        result.cells += 1
        if case.find("skipped") is not None:
            result.skipped += 1
            continue
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            result.failed += 1
            if not result.first_failure:
                result.first_failure = f"{case.get('name')}: {failure_summary(problem.text or '')}"[:160]
    return dict(results)


def failure_summary(report_text: str) -> str:
    """The line of nbval's report that says what went wrong: the error itself, or else the reason."""
    lines = [line.strip() for line in re.sub(r"(#x1B|\x1b)\[[\d;]*m", "", report_text).splitlines()]
    traceback = lines[lines.index("Traceback:") + 1:] if "Traceback:" in lines else []
    errors = [line for line in traceback if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line)]
    reasons = [line.split(": ", 1)[1] for line in lines if re.match(r"^Cell \d+: ", line)]
    return errors[-1] if errors else reasons[0] if reasons else "failed"


def report(results: dict[str, NotebookResult], expected: list[str]) -> bool:
    """Print one line per notebook; True when every expected notebook passed."""
    width = max(len(name) for name in expected)
    print(f"{'notebook':<{width}}  result  cells")
    for name in expected:
        result = results.get(name, NotebookResult())
        verdict = "pass" if result.passed else "FAIL"
        ran = result.cells - result.skipped
        cells = f"{ran - result.failed}/{ran}" if result.cells else "not run"
        if result.skipped:
            cells += f" ({result.skipped} skipped: {NEEDS_TOOL_CALLS_NOTE})"
        detail = f"  {result.first_failure}" if result.first_failure else ""
        print(f"{name:<{width}}  {verdict:<6}  {cells}{detail}")
    return all(results.get(name, NotebookResult()).passed for name in expected)


def main(arguments: list[str]) -> int:
    os.chdir(ROOT)  # `.env` is read from the project's folder, as the notebooks do
    chat = configured_connection()
    if isinstance(chat, int):
        return chat
    print(f"Live check: {chat.describe()}")
    if (why := unreachable(chat.endpoint)) is not None:
        print(f"Cannot reach {chat.endpoint} ({why}). Is the server running, and is its URL in .env right?")
        return 1
    notebooks = [Path(a).resolve() for a in arguments] or lessons(ROOT / "notebooks")
    copies = []
    if makes_no_tool_calls(chat):
        copies = [without_tool_cells(path)[0] for path in notebooks if NEEDS_TOOL_CALLS in path.read_text("utf-8")]
    to_run = [next((c for c in copies if c.name == COPY_PREFIX + p.name), p) for p in notebooks]
    try:
        with tempfile.TemporaryDirectory() as folder:
            junit = run_notebooks([str(path) for path in to_run], Path(folder))
            passed = report(results_by_notebook(junit), [path.name for path in notebooks])
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)
    print("Every notebook ran against the real model." if passed else
          "Some notebooks failed against the real model; the first failing cell of each is shown.")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
