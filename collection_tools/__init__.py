"""What the collection's own tooling shares (scripts, benchmarks, tests): which files are lessons,
how a notebook is stored, and the environment stored outputs are made in. Not used by the lessons.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import nbformat
from dotenv import dotenv_values

LESSONS_GLOB = "[0-9][0-9]*_*.ipynb"  # 00_setup.ipynb, and 05a_errors.ipynb beside 05b_...
# The only notebook metadata kept when a notebook is stored: the kernel's, and widget state.
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info", "widgets", "translation")
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # what nbformat 4.5 allows
REFERENCE_ENVIRONMENT = Path(__file__).parent / "reference.env"


def lessons(folder: Path) -> list[Path]:
    """The lesson notebooks in ``folder``, in order."""
    return sorted(folder.glob(LESSONS_GLOB))


def reference_environment() -> dict[str, str]:
    """The variables every test run and every stored output is made with (``reference.env``)."""
    return {name: value or "" for name, value in dotenv_values(REFERENCE_ENVIRONMENT).items()}


def apply_reference_environment() -> None:
    """Put the reference variables in this process's environment; kernels it starts inherit them."""
    os.environ.update(reference_environment())


def derived_id(cell: nbformat.NotebookNode, taken: set[str]) -> str:
    """An id from the cell's type and source, unlike every id in ``taken`` (two equal cells differ by a counter)."""
    text = f"{cell.cell_type}\n{cell.source}"
    for counter in range(len(taken) + 1):
        candidate = hashlib.sha256(f"{text}\n{counter}".encode()).hexdigest()[:8]
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: one of len(taken) + 1 candidates is free")
