"""Run notebooks top to bottom and store their outputs, as the tests will re-create them.

    .venv/bin/python scripts/execute_notebooks.py                 # every notebook, in every edition
    .venv/bin/python scripts/execute_notebooks.py notebooks/01_basic_chat.ipynb

Outputs come from the offline endpoint in the reference environment (collection_tools/reference.env). Cell
metadata is reduced to tags, and widget state is stored so GitHub can show widgets.

Notebooks are stored as nbformat 4.5, the format JupyterLab 4 writes, with the kernel's own
metadata, so that opening one does not mark it modified and saving it does not rewrite it. Every
cell keeps the id it has; a cell without one (new, or written by hand) gets an id derived from its
type and source, so running this script twice gives the same file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from collection_tools import CELL_ID, KEPT_NOTEBOOK_METADATA, LESSONS_GLOB, apply_reference_environment, derived_id
from collection_tools.editions import EDITIONS

ROOT = Path(__file__).resolve().parent.parent


def stable_ids(notebook: nbformat.NotebookNode) -> None:
    """nbformat 4.5 with an id on every cell: existing valid ids are kept, missing or repeated ones derived."""
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    taken: set[str] = set()
    for cell in notebook.cells:
        if not (isinstance(cell.get("id"), str) and CELL_ID.match(cell.id) and cell.id not in taken):
            cell.id = derived_id(cell, taken)
        taken.add(cell.id)


def clean(notebook: nbformat.NotebookNode) -> None:
    """Drop metadata that varies between runs or editors; keep tags, kernel and widget state."""
    notebook.metadata = nbformat.NotebookNode(
        {k: v for k, v in notebook.metadata.items() if k in KEPT_NOTEBOOK_METADATA})
    # What JupyterLab 4 writes into a notebook when its kernel starts: the same values here, so that
    # opening a notebook changes nothing. language_info is the kernel's own (its Python version
    # included): a kernel on another Python version updates it, and JupyterLab marks the tab modified.
    notebook.metadata.kernelspec = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook.metadata.setdefault("language_info", {"name": "python"})
    stable_ids(notebook)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)


def merge_streams(outputs: list) -> list:
    """One output per run of the same stream, as Jupyter shows it, not one per flush."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (previous is not None and output.output_type == "stream" == previous.output_type
                and output.name == previous.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    stable_ids(notebook)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                            store_widget_state=True, record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [c for c in notebook.cells if c.cell_type == "code" and any(
        o.output_type == "error" for o in c.outputs) and "raises-exception" not in c.metadata.get("tags", [])
        and "NBVAL_RAISES_EXCEPTION" not in c.source]
    clean(notebook)
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    status = f"{len(errors)} unexpected error(s)" if errors else "ok"
    print(f"{path.relative_to(ROOT)}: {status}")
    if errors:
        raise SystemExit(1)


def main(paths: list[str]) -> None:
    apply_reference_environment()
    notebooks = [Path(p).resolve() for p in paths] or [
        path for edition in EDITIONS for path in sorted(edition.folder(ROOT).glob(LESSONS_GLOB))]
    for path in notebooks:
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
