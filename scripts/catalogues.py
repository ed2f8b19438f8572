"""Bring the helper's message catalogues up to date with what it can print.

    .venv/bin/python scripts/catalogues.py update   # write the template; add new messages to each .po, drop old ones
    .venv/bin/python scripts/catalogues.py check    # list untranslated, fuzzy or stale entries; exit 1 if any

After ``update``, translate the new (empty) entries of notebooks/chat_helpers/locale/<language>/
LC_MESSAGES/chat_helpers.po, and check those Babel marked ``fuzzy`` (a message that changed a
little keeps its old translation as a guess), removing the mark. Placeholders such as
``{model}`` stay as they are. Where the messages come from: collection_tools/catalogues.py.
"""

from __future__ import annotations

import argparse
import sys

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from collection_tools.catalogues import TEMPLATE, catalogue_file, catalogue_problems, read_catalogue, template
from collection_tools.editions import TRANSLATIONS


def update() -> None:
    new = template()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as file:
        write_po(file, new, width=100, omit_header=True, sort_output=True, include_lineno=False)
    for edition in TRANSLATIONS:
        path = catalogue_file(edition.language)
        catalogue = read_catalogue(path) if path.exists() else Catalog(locale=edition.language, domain=new.domain)
        catalogue.update(new)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, catalogue, width=100, omit_header=True, sort_output=True, ignore_obsolete=True,
                     include_lineno=False)
        untranslated = sum(1 for message in catalogue if message.id and not message.string)
        print(f"{path}: {len(catalogue)} messages, {untranslated} to translate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("update", "check"))
    if parser.parse_args(argv).command == "update":
        update()
        return 0
    problems = catalogue_problems()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "every catalogue is complete")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
