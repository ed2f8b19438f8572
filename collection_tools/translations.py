"""Whether the translated editions are in step with the English lessons they were made from.

Each translated lesson records, in its notebook metadata, the English notebook it was translated
from and a hash of that notebook's text (co-op-translator's ``original_hash`` does the same)::

    "translation": {"language": "zh", "source": "01_basic_chat.ipynb", "source_hash": "3f2a..."}

A translated JavaScript sample records the same in its first line::

    // translation of notebooks/javascript/basic.js, source hash 3f2a9c41d07e

The hash covers every cell's type and text, outputs and generated navigation lines left out, so
re-running a lesson or adding one to the collection does not make translations stale; changing
what a lesson says or does does.

A translation must keep the English lesson's cells (same number, order, types, ids and tags),
and its code may differ from the English code only in comments and in natural-language strings
(prompts, system messages, printed labels); see ``code_differences``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import LESSONS_GLOB
from .editions import ROOT, TRANSLATIONS, Edition, without_generated_lines

JS_STAMP = re.compile(r"^// translation of (?P<source>\S+), source hash (?P<hash>[0-9a-f]{12})$")
SCRIPT_HASH_LENGTH = 12  # enough to tell versions apart, short enough not to clutter a sample a lesson prints


@dataclass(frozen=True)
class Problem:
    path: Path  # the translation (or where it should be)
    message: str

    def __str__(self) -> str:
        return f"{_shown(self.path)}: {self.message}"


def _shown(path: Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


# --- hashes ---

def notebook_hash(notebook: nbformat.NotebookNode) -> str:
    """The hash of what a lesson says and does: each cell's type and text, without outputs or navigation."""
    cells = [[cell.cell_type, without_generated_lines(cell.source)] for cell in notebook.cells]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stamp_notebook(translation: Path, english: Path, language: str) -> None:
    """Record in ``translation`` that it is in step with ``english`` as it is now."""
    notebook = nbformat.read(translation, as_version=nbformat.NO_CONVERT)
    source = nbformat.read(english, as_version=nbformat.NO_CONVERT)
    notebook.metadata["translation"] = {"language": language, "source": english.name,
                                        "source_hash": notebook_hash(source)}
    nbformat.write(notebook, translation)


def stamp_script(translation: Path, english: Path, root: Path = ROOT) -> None:
    """Record in the first line of a translated JavaScript sample that it is in step with ``english``."""
    lines = translation.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and JS_STAMP.match(lines[0].rstrip("\n")):
        lines = lines[1:]
    stamp = f"// translation of {english.relative_to(root).as_posix()}, source hash " \
            f"{text_hash(english.read_text(encoding='utf-8'))[:SCRIPT_HASH_LENGTH]}\n"
    translation.write_text(stamp + "".join(lines), encoding="utf-8")


# --- code that must stay the same ---

_TECHNICAL = re.compile(
    r"[a-z0-9_.:/\-]*"  # user, json_schema, get_weather, phi-3-mini
    r"|.*[\d_/\\.@\[\]{}<>=$#].*"  # ids with digits, paths, URLs, placeholders, [DONE]
    r"|[A-Za-z]?[a-z]+[A-Z][A-Za-z]*:?"  # additionalProperties, SchemaError:
    r"|[A-Z][a-z]+(?:-[A-Z][a-z]+)+"  # Content-Type
    r"|[A-Z]+",  # CHAT
)


def is_natural_language(text: str) -> bool:
    """Whether a string's English text is words a translation may change: a sentence, a prompt, a label, a
    country; not an identifier, a key, a model id, a header name, a path or a number."""
    if not re.search(r"[^\W\d_]", text):
        return False
    if re.fullmatch(r"[^\W\d_]+:", text):  # a label the code prints: "questions:", "failures:"
        return True
    return bool(re.search(r"\s", text.strip())) or not _TECHNICAL.fullmatch(text)


def _placeholders(text: str) -> list[str]:
    """``{name}`` of an f-string, ``${name}`` of a template literal, ``$NAME`` of a shell string."""
    return sorted(re.findall(r"\$\{[^}]*\}|\$\w+|(?<!\{)\{[^{}]*\}(?!\})", text))


def _string_body(token: str) -> tuple[str, bool]:
    """The text inside a Python string literal, and whether it is an f-string."""
    prefix = re.match(r"^[A-Za-z]*", token).group(0).lower()  # type: ignore[union-attr]
    quote = token[len(prefix):]
    width = 3 if quote[:3] in ('"""', "'''") else 1
    return quote[width:-width], "f" in prefix


@dataclass(frozen=True)
class _Token:
    kind: str  # "string" or "code"
    text: str  # as written
    body: str = ""  # a string's text, without quotes
    formatted: bool = False  # an f-string or a template literal: its {placeholders} stay
    key: bool = False  # a dictionary key or a subscript: it names something, so it stays
    printed: bool = False  # an argument of print(): text for the reader, whatever it looks like


def _python_tokens(source: str) -> list[_Token]:
    from IPython.core.inputtransformer2 import TransformerManager  # `!cmd` and `%magic` as Python

    python = TransformerManager().transform_cell(source)
    raw = [token for token in tokenize.generate_tokens(io.StringIO(python).readline)
           if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER)]
    tokens: list[_Token] = []
    calls: list[str] = []  # the function each open parenthesis calls ("" for a plain bracket)
    for index, token in enumerate(raw):
        before = [t.string for t in raw[max(0, index - 6):index]]
        after = raw[index + 1].string if index + 1 < len(raw) else ""
        if token.string in "([{" and token.type == tokenize.OP:
            calls.append(before[-1] if token.string == "(" and before and before[-1].isidentifier() else "")
        elif token.string in ")]}" and token.type == tokenize.OP and calls:
            calls.pop()
        if token.type == tokenize.STRING and _is_shell(before):
            tokens += _shell_tokens(ast.literal_eval(token.string))
        elif token.type == tokenize.STRING:
            body, formatted = _string_body(token.string)
            printed = calls[-1:] == ["print"] and after in (",", ")")  # shown as it is: a label, a word
            tokens.append(_Token("string", token.string, body, formatted, printed=printed,
                                 key=after == ":" or (before[-1:] == ["["] and after == "]")))
        else:
            tokens.append(_Token("code", token.string))
    return tokens


def _is_shell(before: list[str]) -> bool:
    """Whether a string is a shell command: ``!cmd`` or a ``%%bash`` cell's body, as IPython passes them."""
    return before[-2:] in (["system", "("], ["getoutput", "("]) or (
        len(before) == 6 and before[:3] == ["run_cell_magic", "(", "'bash'"] and before[-1] == ",")


_JS_TOKEN = re.compile(r"""//[^\n]*|/\*.*?\*/"""  # comments
                       r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`"""  # strings
                       r"""|[\w$]+|\S""", re.S)  # words, and any other character
_SHELL_WORD = re.compile(r"""'[^']*'|"(?:\\.|[^"\\])*"|[^\s'"]+""")


def _with_keys(tokens: list[_Token]) -> list[_Token]:
    """The tokens, a string followed by ``:`` marked as a key (a JSON or JavaScript object's)."""
    return [_Token(t.kind, t.text, t.body, t.formatted, key=t.kind == "string" and index + 1 < len(tokens)
                   and tokens[index + 1].text == ":") for index, t in enumerate(tokens)]


def _js_tokens(source: str) -> list[_Token]:
    tokens = []
    for match in _JS_TOKEN.finditer(source):
        text = match.group(0)
        if text.startswith(("//", "/*")):
            continue
        if text[0] in "\"'`":
            tokens.append(_Token("string", text, text[1:-1], formatted=text[0] == "`"))
        else:
            tokens.append(_Token("code", text))
    return _with_keys(tokens)


def _shell_tokens(command: str) -> list[_Token]:
    """A shell command's words: a single-quoted word (a JSON body) is read token by token, a
    double-quoted one is a string whose ``$variables`` stay."""
    tokens = []
    for match in _SHELL_WORD.finditer(command):
        word = match.group(0)
        if word.startswith("'"):
            tokens += [_Token("code", "'"), *_js_tokens(word[1:-1]), _Token("code", "'")]
        elif word.startswith('"'):
            tokens.append(_Token("string", word, word[1:-1], formatted=True))
        else:
            tokens.append(_Token("code", word))
    return tokens


def _differences(english: list[_Token], translated: list[_Token]) -> Iterator[str]:
    if len(english) != len(translated):
        # Find the first place where they part, to name it.
        for ours, theirs in zip(english, translated, strict=False):
            if ours.kind != theirs.kind or (ours.kind == "code" and ours.text != theirs.text):
                yield f"the code differs at {theirs.text!r} (English: {ours.text!r})"
                return
        yield "the code has a different number of tokens than the English code"
        return
    for ours, theirs in zip(english, translated, strict=True):
        if ours.text == theirs.text:
            continue
        if ours.kind == theirs.kind == "string" and ours.formatted == theirs.formatted:
            if ours.key or not (ours.printed or is_natural_language(ours.body)):
                yield f"the string {theirs.text!r} should stay {ours.text!r} (it is not natural language)"
            elif ours.formatted and _placeholders(ours.body) != _placeholders(theirs.body):
                yield f"the placeholders of {theirs.text!r} differ from {ours.text!r}"
            continue
        yield f"{theirs.text!r} should be {ours.text!r}"


def code_differences(english: str, translated: str, *, javascript: bool = False) -> list[str]:
    """How ``translated`` code differs from ``english`` other than in comments and natural-language strings."""
    tokens = _js_tokens if javascript else _python_tokens
    try:
        return list(_differences(tokens(english), tokens(translated)))
    except (SyntaxError, tokenize.TokenError) as error:
        return [f"the code does not parse: {error}"]


# --- checking an edition ---

def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def notebook_problems(english_path: Path, translation_path: Path, language: str) -> list[Problem]:
    """What is wrong with one translated lesson: stale, or cells or code that differ from the English."""
    english = nbformat.read(english_path, as_version=nbformat.NO_CONVERT)
    translated = nbformat.read(translation_path, as_version=nbformat.NO_CONVERT)
    problems = []

    def problem(message: str) -> None:
        problems.append(Problem(translation_path, message))

    record = translated.metadata.get("translation", {})
    if record.get("language") != language or record.get("source") != english_path.name:
        problem(f"no record of its source: metadata 'translation' should say language {language!r} and source "
                f"{english_path.name!r} (run: scripts/translations.py stamp {_shown(translation_path)})")
    elif record.get("source_hash") != notebook_hash(english):
        problem(f"stale: {english_path.name} changed since it was translated; update the translation, then run "
                f"scripts/translations.py stamp {_shown(translation_path)}")
    if len(english.cells) != len(translated.cells):
        problem(f"{len(translated.cells)} cells, the English lesson has {len(english.cells)}")
        return problems
    for number, (ours, theirs) in enumerate(zip(english.cells, translated.cells, strict=True), start=1):
        where = f"cell {number} ({ours.get('id', '?')})"
        if (ours.cell_type, ours.get("id"), _tags(ours)) != (theirs.cell_type, theirs.get("id"), _tags(theirs)):
            problem(f"{where}: type, id or tags differ from the English cell's")
        elif ours.cell_type == "code":
            problems += [Problem(translation_path, f"{where}: {text}")
                         for text in code_differences(ours.source, theirs.source)]
    return problems


def script_problems(english_path: Path, translation_path: Path, root: Path = ROOT) -> list[Problem]:
    english = english_path.read_text(encoding="utf-8")
    translated = translation_path.read_text(encoding="utf-8")
    first = translated.splitlines()[0] if translated else ""
    stamp = JS_STAMP.match(first)
    problems = [Problem(translation_path, text) for text in code_differences(english, translated, javascript=True)]
    if stamp is None or stamp["source"] != english_path.relative_to(root).as_posix():
        problems.insert(0, Problem(translation_path, f"no record of its source on its first line (run: "
                                                     f"scripts/translations.py stamp {_shown(translation_path)})"))
    elif stamp["hash"] != text_hash(english)[:SCRIPT_HASH_LENGTH]:
        problems.insert(0, Problem(translation_path, f"stale: {english_path.name} changed since it was translated; "
                                                     f"update the translation, then run scripts/translations.py "
                                                     f"stamp {_shown(translation_path)}"))
    return problems


def edition_problems(edition: Edition, root: Path = ROOT) -> list[Problem]:
    """Every missing, stale or diverging translation of ``edition``, and every file with no English source."""
    english_folder = root / "notebooks"
    folder = edition.folder(root)
    problems: list[Problem] = []
    for english in sorted(english_folder.glob(LESSONS_GLOB)):
        translation = folder / english.name
        if not translation.exists():
            problems.append(Problem(translation, f"missing: {english.name} has no {edition.name} translation"))
        else:
            problems += notebook_problems(english, translation, edition.language)
    for english in sorted((english_folder / "javascript").glob("*.js")):
        translation = folder / "javascript" / english.name
        if not translation.exists():
            problems.append(Problem(translation, f"missing: javascript/{english.name} has no {edition.name} "
                                                 f"translation"))
        else:
            problems += script_problems(english, translation, root)
    for translation in [*folder.glob(LESSONS_GLOB), *(folder / "javascript").glob("*.js")]:
        source = english_folder / translation.relative_to(folder)
        if not source.exists():
            problems.append(Problem(translation, "no English source: translate a lesson that exists, or remove it"))
    return problems


def all_problems(root: Path = ROOT) -> list[Problem]:
    return [problem for edition in TRANSLATIONS for problem in edition_problems(edition, root)]
