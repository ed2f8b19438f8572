"""The language a lesson speaks, and the helper's messages in it.

A lesson in ``notebooks/zh/`` is the Chinese edition, one in ``notebooks/nl/`` the Dutch one, and
a kernel runs in its notebook's folder: so the folder a kernel runs in says which language the
helper prints in. ``CHAT_LESSON_LANGUAGE`` (``en``, ``zh``, ``nl``), in the environment, overrides
that, for scripts and tests.

The messages are gettext catalogues, ``locale/<language>/LC_MESSAGES/chat_helpers.po``, which
Babel reads; English, the language the helper is written in, is the fallback for a language or
a message a catalogue does not have. ``scripts/catalogues.py`` brings the catalogues up to date
with the code.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
from pathlib import Path

LOCALE_FOLDER = Path(__file__).resolve().parent / "locale"
DOMAIN = "chat_helpers"
LANGUAGE_VARIABLE = "CHAT_LESSON_LANGUAGE"
ENGLISH = "en"


def catalogue_path(language: str) -> Path:
    return LOCALE_FOLDER / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def lesson_language() -> str:
    """``CHAT_LESSON_LANGUAGE`` if set, else the edition whose folder this kernel runs in, else English."""
    chosen = os.environ.get(LANGUAGE_VARIABLE, "").strip()
    if chosen:
        return chosen
    folder = Path.cwd().name
    return folder if catalogue_path(folder).is_file() else ENGLISH


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The helper's messages in ``language``: its catalogue, compiled in memory (fuzzy entries left out)."""
    path = catalogue_path(language)
    if language == ENGLISH or not path.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """``message`` in the lesson's language (English when its catalogue has no translation)."""
    return translations(lesson_language()).gettext(message)


def N_(message: str) -> str:
    """``message`` unchanged: marks a text kept in a constant, translated with ``_()`` where it is shown."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for ``count``, in the lesson's language."""
    return translations(lesson_language()).ngettext(singular, plural, count)
