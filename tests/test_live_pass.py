"""The live pass: every lesson, top to bottom, against a real model, the built-in llama.cpp one.

This is scripts/live_check.py, the same pass a learner runs against their own provider, with
`.env`'s two lines for the built-in model. A real model's words differ from the stored ones, so
only that every code cell runs is checked here (nbval's lax mode); what holds for any real model
(answers not empty, usage that adds up, finish reasons, history kept) is asserted in
tests/test_real_model.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chat_helpers.config import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
BUILT_IN = {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "built-in"}


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_code_cell_runs_against_the_built_in_model(lesson: str) -> None:
    env = {**os.environ, **dict.fromkeys((*VARIABLES, "CHAT_LIVE_CHECK"), ""), **BUILT_IN}
    result = subprocess.run([sys.executable, "scripts/live_check.py", f"notebooks/{lesson}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(lesson)]
    verdict, cells = line.split()[1:3]
    assert verdict == "pass", report
    passed, ran = map(int, cells.split("/"))
    assert passed == ran > 0
    assert "Live check: Connected to the built-in model" in result.stdout
    # Only lesson 10's tool cells may be skipped, and the report says so: the bundled model makes
    # no tool calls. Skipped cells are counted apart, never as passed.
    notebook = json.loads((ROOT / "notebooks" / lesson).read_text(encoding="utf-8"))
    needs_tools = sum("needs-tool-calls" in cell["metadata"].get("tags", []) for cell in notebook["cells"])
    assert (f"({needs_tools} skipped: they need a model that calls tools" in line) == (needs_tools > 0)
    assert needs_tools == 0 or lesson.startswith("10_")
