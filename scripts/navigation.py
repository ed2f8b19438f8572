"""The collection's contents tables and every lesson's navigation and language lines, made from
one source: the lessons' own titles (the first heading of each notebook), in every edition.

    .venv/bin/python scripts/navigation.py           # write them where they differ
    .venv/bin/python scripts/navigation.py --check   # only say what differs; exit 1 if anything does

A lesson is a notebook named like 01_basic_chat.ipynb or 05a_errors.ipynb (a letter lets a lesson
be split without renumbering the rest), in notebooks/ (English) or in an edition's folder
(notebooks/zh/, notebooks/nl/; see collection_tools/editions.py), whose first cell starts with its
title: ``# 01 Basic chat: one question, one answer`` (a full-width colon in Chinese). The part
before the colon names the lesson in links; the part after it describes it in the contents table.

What is written, in each edition, in its own words:
- its contents page (README.md, or README.md in the edition's folder): the table between the two
  ``contents`` comments;
- its first lesson (00_setup.ipynb): the same table, between the same comments;
- every lesson: the last line of its first cell and of its last cell, for example
  ``< [00 Setup](00_setup.ipynb) | [Contents](../README.md) | [02 Multi-turn conversations](02_multi_turn.ipynb) >``,
  and in the first cell, before it, the line that switches language:
  ``**English** · [中文](zh/01_basic_chat.ipynb) · [Nederlands](nl/01_basic_chat.ipynb)``.
  A last cell without the navigation line gets one added; a last cell that is code gets a new
  Markdown cell after it.

Only those lines change: everything else in a notebook, outputs included, stays as it was.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

from collection_tools import derived_id  # new cells get ids the way stored outputs do
from collection_tools.editions import (
    EDITIONS,
    TABLE_BLOCK,
    TABLE_END,
    TABLE_START,
    Edition,
    is_generated_line,
)

LESSON_FILE = re.compile(r"^(?P<number>\d\d[a-z]?)_[a-z0-9_]+\.ipynb$")
ROOT = Path(__file__).resolve().parent.parent  # the repository this script is in (a test runs a copy)
TITLE = re.compile(r"^# (?P<number>\d\d[a-z]?) (?P<name>[^:：\n]+?)(?:(?:: |：)(?P<subtitle>[^\n]+))?\s*$")


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


def lesson_paths(folder: Path) -> list[Path]:
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


def contents_link(edition: Edition) -> str:
    return f"[{edition.contents}]({'../' if edition.language == 'en' else ''}README.md)"


def navigation_line(lessons: list[Lesson], index: int, edition: Edition) -> str:
    parts = []
    if index > 0:
        parts.append("< " + lessons[index - 1].link())
    parts.append(contents_link(edition))
    if index + 1 < len(lessons):
        parts.append(lessons[index + 1].link() + " >")
    return " | ".join(parts)


def language_line(file_name: str, edition: Edition) -> str:
    """The current edition in bold, then a link to the same lesson in every edition that has it."""
    items = []
    for other in EDITIONS:
        if other == edition:
            items.append(f"**{other.name}**")
        elif (other.folder(ROOT) / file_name).exists():
            items.append(f"[{other.name}]({relative(other.folder(ROOT) / file_name, edition.folder(ROOT))})")
    return " · ".join(items) if len(items) > 1 else ""


def relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def contents_table(lessons: list[Lesson], prefix: str, edition: Edition) -> str:
    lesson_title, about = edition.table_header
    rows = [f"| | {lesson_title} | {about} |", "|---|---|---|"]
    rows += [f"| {item.number} | [{item.name}]({prefix}{item.path.name}) | {item.subtitle} |" for item in lessons]
    return "\n".join([TABLE_START, "", *rows, "", TABLE_END])


def with_table(text: str, table: str, where: str) -> str:
    if not TABLE_BLOCK.search(text):
        raise NavigationError(f"{where}: no contents table; put these two lines where it belongs:\n"
                              f"{TABLE_START}\n{TABLE_END}")
    return TABLE_BLOCK.sub(lambda _match: table, text, count=1)


def with_navigation(source: str, *generated: str) -> str:
    """``source`` closed by the ``generated`` lines, a blank line apart (generated lines at its end are replaced)."""
    lines = source.rstrip("\n").splitlines()
    while lines and (is_generated_line(lines[-1]) or not lines[-1].strip()):
        lines.pop()
    for line in generated:
        lines += ["", line] if lines else [line]
    return "\n".join(lines)


def navigated(notebook: nbformat.NotebookNode, line: str, languages: str, table: str | None,
              where: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with ``line`` closing its first and last cells, ``languages`` before it in the
    first cell (and ``table`` in place, if given)."""
    notebook = nbformat.from_dict(notebook)  # a deep copy: the caller compares old and new
    first = notebook.cells[0]
    first.source = with_navigation(first.source, *[text for text in (languages, line) if text])
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
    changes: dict[Path, str] = {}
    for edition in EDITIONS:
        folder = edition.folder(ROOT)
        notebooks = {path: read(path) for path in lesson_paths(folder)}
        if not notebooks:
            continue
        lessons = [lesson(path, notebook) for path, notebook in notebooks.items()]
        for index, item in enumerate(lessons):
            old = notebooks[item.path]
            # The first lesson holds the table; an edition still being translated may not have it yet.
            table = contents_table(lessons, "", edition) if index == 0 and item.number == "00" else None
            new = navigated(old, navigation_line(lessons, index, edition),
                            language_line(item.path.name, edition), table, relative(item.path, ROOT))
            if new != old:
                changes[item.path] = nbformat.writes(new)
        page = edition.contents_page(ROOT)
        text = page.read_text(encoding="utf-8") if page.exists() else ""
        prefix = relative(folder, page.parent) + "/" if folder != page.parent else ""
        new_text = with_table(text, contents_table(lessons, prefix, edition), relative(page, ROOT))
        if new_text != text:
            changes[page] = new_text
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
