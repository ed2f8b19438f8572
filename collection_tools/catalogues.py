"""The helper's message catalogues: what text it can print, and whether each edition's catalogue
translates all of it.

The messages are found where the helper keeps them: ``_("...")`` and ``N_("...")`` calls in
``notebooks/chat_helpers/*.py`` (read by Babel's own Python extractor), the explanation texts of
``explanations.toml``, the providers' titles (``model_facts/providers.toml``) and the retirement
sentences (``model_facts/models.toml``). ``scripts/catalogues.py`` writes the template and
updates the ``.po`` files; the tests use ``catalogue_problems()``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from model_facts import RETIREMENT

from .editions import ROOT, TRANSLATIONS

HELPER = ROOT / "notebooks" / "chat_helpers"
LOCALE = HELPER / "locale"
DOMAIN = "chat_helpers"
TEMPLATE = LOCALE / f"{DOMAIN}.pot"
_TOML_TEXTS = {  # file: which values are shown to a learner
    HELPER / "explanations.toml": ("what", "why", "todo"),
    ROOT / "model_facts" / "providers.toml": ("title",),
}


def catalogue_file(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _where(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _toml_texts(path: Path, keys: tuple[str, ...]) -> list[str]:
    texts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in keys and isinstance(item, str):
                    texts.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(tomllib.loads(path.read_text(encoding="utf-8")))
    return texts


def template() -> Catalog:
    """Every message the helper can print, in English, with where it comes from."""
    catalog = Catalog(domain=DOMAIN, project="chat-completions-notebooks", fuzzy=False)
    for path in sorted(HELPER.glob("*.py")):
        for line, message, comments, context in extract_from_file("python", str(path), keywords=DEFAULT_KEYWORDS):
            catalog.add(message, locations=[(_where(path), line)], auto_comments=comments, context=context)
    for path, keys in _TOML_TEXTS.items():
        for text in _toml_texts(path, keys):
            catalog.add(text, locations=[(_where(path), 0)])
    for text in (RETIREMENT.message, RETIREMENT.instead, RETIREMENT.what_to_do):
        catalog.add(text, locations=[("model_facts/models.toml", 0)])
    return catalog


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of a message (``{{`` is a brace, not a field)."""
    return sorted(re.findall(r"(?<!\{)\{[^{}]*\}", text.replace("{{", "").replace("}}", "")))


def catalogue_problems() -> list[str]:
    """What is missing or wrong in each edition's catalogue, compared with what the helper can print."""
    expected = {message.id for message in template() if message.id}
    problems = []
    if not TEMPLATE.exists() or {m.id for m in read_catalogue(TEMPLATE) if m.id} != expected:
        problems.append(f"{_where(TEMPLATE)}: not the messages the helper prints now "
                        f"(run: scripts/catalogues.py update)")
    for edition in TRANSLATIONS:
        path = catalogue_file(edition.language)
        if not path.exists():
            problems.append(f"{_where(path)}: missing (run: scripts/catalogues.py update)")
            continue
        catalogue = read_catalogue(path)
        found = {message.id: message for message in catalogue if message.id}
        for text in sorted(expected - set(found)):
            problems.append(f"{_where(path)}: no entry for {text!r} (run: scripts/catalogues.py update)")
        for text in sorted(set(found) - expected):
            problems.append(f"{_where(path)}: {text!r} is no longer printed by the helper "
                            f"(run: scripts/catalogues.py update)")
        for text in sorted(expected & set(found)):
            message = found[text]
            if not message.string:
                problems.append(f"{_where(path)}: {text!r} is not translated")
            elif message.fuzzy:
                problems.append(f"{_where(path)}: the translation of {text!r} is marked fuzzy: check it")
            elif placeholders(message.string) != placeholders(text):
                problems.append(f"{_where(path)}: the translation of {text!r} has other placeholders "
                                f"({placeholders(message.string)} instead of {placeholders(text)})")
    return problems
