"""The collection's contents table and every lesson's previous/next/contents line, made from one
source: the lessons' own titles (the first heading of each notebook).

    .venv/bin/python scripts/navigation.py           # write them where they differ
    .venv/bin/python scripts/navigation.py --check   # only say what differs; exit 1 if anything does

A lesson is a notebook in notebooks/ named like 01_basic_chat.ipynb or 05a_errors.ipynb (a
letter lets a lesson be split without renumbering the rest), whose first cell starts with its
title: ``# 01 Basic chat: one question, one answer``. The part before the colon names the lesson
in links; the part after it describes the lesson in the contents table.

What is written:
- README.md: the table between the two ``contents`` comments (links to notebooks/...);
- notebooks/00_setup.ipynb (the first lesson): the same table, between the same comments;
- every lesson: the last line of its first cell and of its last cell, for example
  ``< [00 Setup](00_setup.ipynb) | [Contents](../README.md) | [02 Multi-turn conversations](02_multi_turn.ipynb) >``.
  A last cell without that line gets one added; a last cell that is code gets a new Markdown
  cell after it.

Only those lines change: everything else in a notebook, outputs included, stays as it was.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

from collection_tools import derived_id  # new cells get ids the way stored outputs do

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"

LESSON_FILE = re.compile(r"^(?P<number>\d\d[a-z]?)_[a-z0-9_]+\.ipynb$")
TITLE = re.compile(r"^# (?P<number>\d\d[a-z]?) (?P<name>[^:\n]+?)(?:: (?P<subtitle>[^\n]+))?\s*$")
CONTENTS_LINK = "[Contents](../README.md)"
_LINK = r"\[[^\]]+\]\([^)\s]+\)"
NAVIGATION_LINE = re.compile(rf"^(< {_LINK} \| )?" + re.escape(CONTENTS_LINK) + rf"( \| {_LINK} >)?$")
TABLE_START = "<!-- contents: made by scripts/navigation.py from the lessons' titles; edit those, not this -->"
TABLE_END = "<!-- end of contents -->"
TABLE_BLOCK = re.compile(re.escape(TABLE_START) + r".*?" + re.escape(TABLE_END), re.S)


@dataclass(frozen=True)
class Lesson:
    path: Path
    number: str  # "01", "05a"
    name: str  # "Basic chat"
    subtitle: str  # "one question, one answer"

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"

    def link(self, prefix: str = "") -> str:
        return f"[{self.label}]({prefix}{self.path.name})"


class NavigationError(Exception):
    """A lesson whose file name or title does not follow the pattern, or a missing table marker."""


def lesson_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(path for path in folder.glob("*.ipynb") if LESSON_FILE.match(path.name))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def lesson(path: Path, notebook: nbformat.NotebookNode) -> Lesson:
    number = LESSON_FILE.match(path.name)["number"]  # type: ignore[index]
    first = notebook.cells[0] if notebook.cells else None
    title = first.source.lstrip().splitlines()[0] if first is not None and first.cell_type == "markdown" \
        and first.source.strip() else ""
    match = TITLE.match(title)
    if match is None or match["number"] != number:
        raise NavigationError(f"{path.name}: the first cell should start with '# {number} Name: what it is about', "
                              f"not {title!r}")
    return Lesson(path, number, match["name"].strip(), (match["subtitle"] or "").strip())


def navigation_line(lessons: list[Lesson], index: int) -> str:
    parts = []
    if index > 0:
        parts.append("< " + lessons[index - 1].link())
    parts.append(CONTENTS_LINK)
    if index + 1 < len(lessons):
        parts.append(lessons[index + 1].link() + " >")
    return " | ".join(parts)


def contents_table(lessons: list[Lesson], prefix: str) -> str:
    rows = ["| | lesson | what it is about |", "|---|---|---|"]
    rows += [f"| {item.number} | [{item.name}]({prefix}{item.path.name}) | {item.subtitle} |" for item in lessons]
    return "\n".join([TABLE_START, "", *rows, "", TABLE_END])


def with_table(text: str, table: str, where: str) -> str:
    if not TABLE_BLOCK.search(text):
        raise NavigationError(f"{where}: no contents table; put these two lines where it belongs:\n"
                              f"{TABLE_START}\n{TABLE_END}")
    return TABLE_BLOCK.sub(lambda _match: table, text, count=1)


def with_navigation(source: str, line: str) -> str:
    """``source`` whose last line is ``line``: an old navigation line there is replaced, else ``line`` is added."""
    lines = source.rstrip("\n").splitlines()
    if lines and NAVIGATION_LINE.match(lines[-1].strip()):
        lines[-1] = line
    else:
        lines += ["", line] if lines else [line]
    return "\n".join(lines)


def navigated(notebook: nbformat.NotebookNode, line: str, table: str | None, where: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with ``line`` closing its first and last cells (and ``table`` in place, if given)."""
    notebook = nbformat.from_dict(notebook)  # a deep copy: the caller compares old and new
    first = notebook.cells[0]
    first.source = with_navigation(first.source, line)
    if table is not None:
        for cell in notebook.cells:
            if cell.cell_type == "markdown" and TABLE_BLOCK.search(cell.source):
                cell.source = with_table(cell.source, table, where)
                break
        else:
            raise NavigationError(f"{where}: no Markdown cell holds the contents table ({TABLE_START} ... {TABLE_END})")
    last = notebook.cells[-1]
    if len(notebook.cells) > 1 and last.cell_type == "markdown":
        last.source = with_navigation(last.source, line)
    elif len(notebook.cells) > 1:
        cell = new_markdown_cell(line)
        if notebook.nbformat_minor >= 5:
            cell.id = derived_id(cell, {c.get("id") for c in notebook.cells})
        else:
            cell.pop("id", None)
        notebook.cells.append(cell)
    return notebook


def planned_changes() -> dict[Path, str]:
    """Every file whose navigation differs from the titles, with the text it should have."""
    notebooks = {path: read(path) for path in lesson_paths()}
    lessons = [lesson(path, notebook) for path, notebook in notebooks.items()]
    changes: dict[Path, str] = {}
    for index, item in enumerate(lessons):
        old = notebooks[item.path]
        table = contents_table(lessons, "") if index == 0 else None
        new = navigated(old, navigation_line(lessons, index), table, item.path.name)
        if new != old:
            changes[item.path] = nbformat.writes(new)
    readme = README.read_text(encoding="utf-8")
    new_readme = with_table(readme, contents_table(lessons, "notebooks/"), README.name)
    if new_readme != readme:
        changes[README] = new_readme
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything differs")
    arguments = parser.parse_args(argv)
    try:
        changes = planned_changes()
    except NavigationError as error:
        print(error, file=sys.stderr)
        return 2
    for path, text in changes.items():
        where = path.relative_to(ROOT)
        if arguments.check:
            print(f"{where}: navigation out of date", file=sys.stderr)
        else:
            path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            print(f"{where}: navigation written")
    if arguments.check and changes:
        print("run: .venv/bin/python scripts/navigation.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
