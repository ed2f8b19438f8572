"""Which translated lessons are missing, stale or diverging from the English ones, and marking one as
in step after updating it.

    .venv/bin/python scripts/translations.py check                         # list every problem; exit 1 if any
    .venv/bin/python scripts/translations.py stamp notebooks/zh/01_basic_chat.ipynb [more ...]

``stamp`` records, in a translated lesson (or JavaScript sample), the hash of the English file it
now matches: run it after bringing a translation up to date, never instead. What "in step" means
is in collection_tools/translations.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collection_tools.editions import ROOT, TRANSLATIONS
from collection_tools.translations import all_problems, stamp_notebook, stamp_script


def english_source(translation: Path) -> tuple[Path, str]:
    """The English file a translation was made from, and the translation's language."""
    relative = translation.resolve().relative_to(ROOT / "notebooks")
    language, *rest = relative.parts
    if language not in {edition.language for edition in TRANSLATIONS} or not rest:
        raise SystemExit(f"{translation}: not in an edition's folder (notebooks/<language>/...)")
    return ROOT / "notebooks" / Path(*rest), language


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="list missing, stale and diverging translations")
    stamp = commands.add_parser("stamp", help="record that these translations match their English files now")
    stamp.add_argument("paths", nargs="+", type=Path)
    arguments = parser.parse_args(argv)
    if arguments.command == "check":
        problems = all_problems()
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)" if problems else "every translation is in step")
        return 1 if problems else 0
    for path in arguments.paths:
        english, language = english_source(path)
        if not english.exists():
            raise SystemExit(f"{path}: no English source at {english.relative_to(ROOT)}")
        if path.suffix == ".ipynb":
            stamp_notebook(path, english, language)
        else:
            stamp_script(path, english)
        print(f"{path}: in step with {english.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
