"""What must never reach the repository, and the shape every lesson notebook keeps.

Secrets: no tracked file and no notebook holds anything shaped like a token or a key, and `.env`
is neither tracked nor left unignored. The token patterns are proved on made-up strings built at
run time (a realistic-looking literal here would itself be a finding).

Notebooks: the checks run over the notebooks that exist, so a lesson not written yet fails nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from collection_tools import KEPT_NOTEBOOK_METADATA

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"

_BASE62 = "[A-Za-z0-9]"
SECRET_SHAPES: dict[str, re.Pattern[str]] = {
    "GitHub token": re.compile(r"\b(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}"),
    "GitHub fine-grained token": re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    "Azure key (32 hex characters)": re.compile(r"\b[0-9a-fA-F]{32}\b"),
    # Azure's 84-character keys (AI services and others): a fixed signature at position 52.
    "Azure key (84 characters)": re.compile(
        rf"\b{_BASE62}{{52}}JQQJ9[9DH]{_BASE62}[A-L]{_BASE62}{{16}}[A-Za-z]{_BASE62}{{7}}\b"),
    "private key": re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----"),
}

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def secret_shapes_in(text: str) -> list[str]:
    """What ``text`` holds that looks like a secret: its kind and a masked start, never the whole."""
    return [f"{kind}: {match.group()[:4]}…" for kind, pattern in SECRET_SHAPES.items()
            for match in pattern.finditer(text)]


def widget_ids(notebook: dict[str, Any]) -> set[str]:
    """The ids ipywidgets gives its models (32 hex characters, like an Azure key, but harmless)."""
    ids = set(notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}))
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and "model_id" in view:
                ids.add(view["model_id"])
    return ids


def without_widget_ids(text: str, ids: set[str]) -> str:
    """``text`` with exactly these widget ids removed, so nothing else that looks like a key is excused."""
    return re.sub("|".join(map(re.escape, sorted(ids))), "", text) if ids else text


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(map(str, value))
    return value if isinstance(value, str) else json.dumps(value)


def notebook_texts(notebook: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) for every cell's source and every output a notebook stores."""
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        yield f"cell {number} source", _as_text(cell.get("source", ""))
        for output in cell.get("outputs", []):
            parts = [_as_text(output.get(field, "")) for field in ("text", "ename", "evalue", "traceback")]
            parts += [_as_text(value) for value in output.get("data", {}).values()]
            yield f"cell {number} output", "\n".join(parts)


def notebook_findings(notebook: dict[str, Any]) -> list[str]:
    ids = widget_ids(notebook)
    return [f"{where}: {finding}" for where, text in notebook_texts(notebook)
            for finding in secret_shapes_in(without_widget_ids(text, ids))]


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def is_ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT).returncode == 0


# --- the patterns bite, on made-up strings ----------------------------------------------------

SHAPED_LIKE_SECRETS = {
    "classic token": "token = " + "gh" + "p_" + "A1b2C3d4E5" * 4,
    "OAuth token": "gh" + "o_" + "Z9y8X7w6V5" * 3,
    "app token": "Bearer " + "gh" + "s_" + "q" * 24,
    "user-to-server token": "gh" + "u_" + "0123456789" * 2,
    "fine-grained token": "github" + "_pat_" + "11ABCDEFG0" + "_" + "abcdefghij" * 5,
    "32 hex lower case": "FOUNDRY_API_KEY=" + "0123456789abcdef" * 2,
    "32 hex upper case in a sentence": "the key " + "ABCDEF0123456789" * 2 + " leaked",
    "84-character key": "api-key: " + "x1Y2" * 13 + "JQQJ9" + "9" + "B" + "E" + "Ab12" * 4 + "A" + "AOCG123",
    "RSA private key": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE",
    "bare private key": "-----BEGIN " + "PRIVATE KEY-----",
    "SSH private key": "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
}

NOT_SECRETS = {
    "prefix alone": "gh" + "p_",
    "too short": "gh" + "p_" + "abc123",
    "31 hex": "0123456789abcdef" + "0123456789abcde",
    "33 hex": "0123456789abcdef" * 2 + "0",
    "git commit id (40 hex)": "c95ffeed1d059abfe9ffbe79762dc2fa4e7c2421",
    "hex inside a longer word": "id_" + "0123456789abcdef" * 2,
    "UUID with dashes": "123e4567-e89b-12d3-a456-426614174000",
    "84 characters without the signature": "x1Y2" * 21,
    "public key": "-----BEGIN " + "PUBLIC KEY-----",
    "placeholder": "FOUNDRY_API_KEY=<your key>",
}


@pytest.mark.parametrize("text", SHAPED_LIKE_SECRETS.values(), ids=SHAPED_LIKE_SECRETS.keys())
def test_secret_shapes_are_found(text: str) -> None:
    assert secret_shapes_in(text)


@pytest.mark.parametrize("text", NOT_SECRETS.values(), ids=NOT_SECRETS.keys())
def test_ordinary_strings_are_not_taken_for_secrets(text: str) -> None:
    assert secret_shapes_in(text) == []


def test_findings_never_repeat_the_secret() -> None:
    token = "gh" + "p_" + "A1b2C3d4E5" * 4
    (finding,) = secret_shapes_in(f"x {token} y")
    assert token not in finding and token[4:] not in finding


def _made_up_notebook(output_text: str, widget_id: str) -> dict[str, Any]:
    view = {"model_id": widget_id, "version_major": 2, "version_minor": 0}
    return {
        "metadata": {"widgets": {WIDGET_STATE: {"state": {widget_id: {"model_name": "SliderModel"}}}}},
        "cells": [{"cell_type": "code", "source": "connect()", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": [output_text]},
            {"output_type": "display_data", "data": {WIDGET_VIEW: view, "text/plain": "Slider()"}},
        ]}],
    }


def test_a_key_in_a_notebook_output_is_found_but_widget_ids_are_not() -> None:
    widget_id = "fedcba9876543210" * 2
    clean = _made_up_notebook("Connected to the offline endpoint.\n", widget_id)
    assert notebook_findings(clean) == []
    leaked = _made_up_notebook("key=" + "0123456789abcdef" * 2 + "\n", widget_id)
    assert notebook_findings(leaked) == ["cell 1 output: Azure key (32 hex characters): 0123…"]


# --- the repository -----------------------------------------------------------------------------


def test_no_tracked_file_holds_a_secret() -> None:
    findings = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree, not yet in the index
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        if name.endswith(".ipynb"):
            text = without_widget_ids(text, widget_ids(json.loads(text)))
        findings += [f"{name}: {finding}" for finding in secret_shapes_in(text)]
    assert findings == []


def all_notebooks() -> list[Path]:
    """Every notebook git tracks or would offer to add (checkpoints and the like are ignored)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.ipynb"],
                             cwd=ROOT, capture_output=True, check=True)
    return sorted({ROOT / name for name in listing.stdout.decode().split("\0") if name and (ROOT / name).is_file()})


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_notebook_holds_a_secret(path: Path) -> None:
    assert notebook_findings(json.loads(path.read_text(encoding="utf-8"))) == []


def test_env_is_not_tracked() -> None:
    assert [name for name in tracked_files() if Path(name).name == ".env"] == []


@pytest.mark.parametrize("path", [".env", "notebooks/.env"])
def test_env_is_ignored(path: str) -> None:
    assert is_ignored(path), f"git would offer to commit {path}: add it to .gitignore"


def test_env_example_is_tracked_and_holds_no_value_for_a_key() -> None:
    assert ".env.example" in tracked_files()
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    keys = [line for line in lines if re.match(r"\w*_(KEY|TOKEN)=", line)]
    assert keys and all(line.endswith("=") for line in keys), keys


# --- the lesson notebooks -----------------------------------------------------------------------

LESSON = re.compile(r"^(\d\d[a-z]?)_[a-z0-9_]+\.ipynb$")  # 05a_errors.ipynb splits lesson 05
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
CHAT_HELPERS_IMPORT = re.compile(r"^\s*(from\s+chat_helpers(\.\w+)*\s+import\b|import\s+chat_helpers\b)", re.M)
KEPT_CELL_METADATA = {"tags"}


def lessons() -> list[Path]:
    return sorted(path for path in NOTEBOOKS.glob("*.ipynb") if LESSON.match(path.name))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


each_lesson = pytest.mark.parametrize("path", lessons(), ids=lambda path: path.name)


@each_lesson
def test_notebook_is_valid_nbformat(path: Path) -> None:
    nbformat.validate(read(path))


@each_lesson
def test_notebook_is_stored_as_jupyterlab_4_writes_it(path: Path) -> None:
    """nbformat 4.5 with a unique id on every cell, in nbformat's own layout: JupyterLab 4 neither
    marks the notebook modified when it opens it nor changes the file when it saves it unchanged."""
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5), "run scripts/execute_notebooks.py"
    ids = [cell.get("id") for cell in notebook.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs its own id: run scripts/execute_notebooks.py"
    assert nbformat.writes(notebook) + "\n" == text


@each_lesson
def test_notebook_carries_no_stray_metadata(path: Path) -> None:
    notebook = read(path)
    assert set(notebook.metadata) <= set(KEPT_NOTEBOOK_METADATA)
    stray = {i: sorted(set(cell.metadata) - KEPT_CELL_METADATA)
             for i, cell in enumerate(notebook.cells, start=1) if set(cell.metadata) - KEPT_CELL_METADATA}
    assert stray == {}, "run scripts/execute_notebooks.py, which cleans metadata"


@each_lesson
def test_every_code_cell_with_outputs_has_an_execution_count(path: Path) -> None:
    unrun = [i for i, cell in enumerate(read(path).cells, start=1)
             if cell.cell_type == "code" and cell.outputs and cell.execution_count is None]
    assert unrun == [], "nbval fails such cells ('Unrun reference cell has outputs')"


@each_lesson
def test_execution_counts_run_from_one_in_order(path: Path) -> None:
    counts = [cell.execution_count for cell in read(path).cells if cell.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), "the stored outputs must come from one run, top to bottom"


@each_lesson
def test_chat_helpers_is_imported_in_exactly_one_line(path: Path) -> None:
    imports = [line.strip() for cell in read(path).cells if cell.cell_type == "code"
               for line in cell.source.splitlines() if CHAT_HELPERS_IMPORT.match(line)]
    assert len(imports) == 1, imports


@each_lesson
def test_first_cell_says_what_you_will_learn_and_need(path: Path) -> None:
    first = read(path).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.lstrip().startswith(f"# {LESSON.match(path.name)[1]} ")
    assert "What you will learn" in first.source
    assert "What you need" in first.source


def test_navigation_is_made_from_the_titles() -> None:
    """The README's contents table, 00's copy and every lesson's previous/next/contents line are
    what scripts/navigation.py makes from the lessons' titles (it also checks each title's form)."""
    result = subprocess.run([sys.executable, "scripts/navigation.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_navigation_check_finds_a_stale_line(tmp_path: Path) -> None:
    """--check fails, naming the file, when a lesson's title changed but its neighbours' links did not."""
    copy = tmp_path / "repository"
    (copy / "scripts").mkdir(parents=True)
    for name in ("navigation.py", "execute_notebooks.py"):
        (copy / "scripts" / name).write_text((ROOT / "scripts" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (copy / "README.md").write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    (copy / "notebooks").mkdir()
    for path in lessons():
        (copy / "notebooks" / path.name).write_bytes(path.read_bytes())
    second = copy / "notebooks" / lessons()[1].name
    notebook = read(second)
    notebook.cells[0].source = notebook.cells[0].source.replace(f"# {LESSON.match(second.name)[1]} ",
                                                                f"# {LESSON.match(second.name)[1]} Renamed ", 1)
    nbformat.write(notebook, second)
    check = subprocess.run([sys.executable, "scripts/navigation.py", "--check"], cwd=copy,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    assert "README.md: navigation out of date" in check.stderr
    assert f"notebooks/{lessons()[0].name}: navigation out of date" in check.stderr
    written = subprocess.run([sys.executable, "scripts/navigation.py"], cwd=copy, capture_output=True, text=True,
                             timeout=60)
    assert written.returncode == 0, written.stderr
    assert subprocess.run([sys.executable, "scripts/navigation.py", "--check"], cwd=copy,
                          capture_output=True, timeout=60).returncode == 0
    assert "Renamed" in (copy / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_notebook_in_order() -> None:
    readme = README.read_text(encoding="utf-8")
    positions = {}
    for match in LINK.finditer(readme):
        target = match.group(2)
        if LESSON.match(Path(target).name) and (ROOT / target).resolve().is_file():
            positions.setdefault((ROOT / target).resolve(), match.start())
    missing = [lesson.name for lesson in lessons() if lesson.resolve() not in positions]
    assert missing == [], "README.md should link to every notebook (as notebooks/NN_name.ipynb)"
    order = [lesson.name for lesson in sorted(lessons(), key=lambda lesson: positions[lesson.resolve()])]
    assert order == [lesson.name for lesson in lessons()]


def test_code_finds_the_packages_by_the_editable_install_alone() -> None:
    """No script, benchmark or test edits sys.path or imports a conftest: the editable install
    (`-e .`) makes every package importable the same way from any folder."""
    offenders = []
    for name in tracked_files():
        if not name.endswith(".py") or name == "tests/test_repository_hygiene.py":
            continue
        text = (ROOT / name).read_text(encoding="utf-8")
        if re.search(r"^\s*sys\.path(\.insert|\.append|\[| =|\s*\+=)", text, re.M) or "from conftest import" in text:
            offenders.append(name)
    assert offenders == []
