"""Scripted answers, from the ``answers/**/*.toml`` files and any added.

Answers in another language than English live in a folder named after it (``answers/zh/``), and
each language has its own ``[fallback]`` reply, given in the language of the prompt.

Token counts (``usage`` and the limits) are ``model_facts``' rough count, the one the notebooks'
helper uses too: prompt + completion = total, and a streamed answer arrives in exactly
``completion_tokens`` pieces.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model_facts.tokens import content_text, split_tokens
from model_facts.tokens import estimate_tokens as count_prompt_tokens

from .languages import ENGLISH, prompt_language

__all__ = ["content_text", "count_prompt_tokens", "scripted_reply", "split_tokens"]


def _normalize(text: str) -> str:
    """Text as a prompt is matched: any case, any spacing, without the punctuation that ends it
    ("what is the capital of france" finds "What is the capital of France?")."""
    return " ".join(text.split()).casefold().rstrip("?!.。？！ ")


@dataclass(frozen=True)
class _Entry:
    prompt: str
    reply: str
    after: str | None
    system: str | None

    @property
    def conditions(self) -> int:
        return (self.after is not None) + (self.system is not None)

    def matches(self, prompt: str, earlier: str, system: str) -> bool:
        return (
            self.prompt == prompt
            and (self.after is None or self.after in earlier)
            and (self.system is None or self.system in system)
        )


class Answers:
    """A set of scripted answers read from ``.toml`` files.

    A ``[fallback]`` table has a ``reply`` and optionally a ``language`` (English if not given);
    for one language, a later file's fallback wins.
    """

    def __init__(self, files: Iterable[Path]) -> None:
        self._by_prompt: dict[str, list[_Entry]] = {}
        self._fallbacks: dict[str, str] = {}
        self.files: list[Path] = []
        for path in files:
            self.add_file(path)
        if ENGLISH not in self._fallbacks:
            raise ValueError(f"no English [fallback] reply in {[str(path) for path in self.files]}")

    def add_file(self, path: str | Path) -> None:
        path = Path(path)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        fallback = data.get("fallback", {})
        if "reply" in fallback:
            self._fallbacks[fallback.get("language", ENGLISH)] = fallback["reply"].strip()
        for item in data.get("answer", []):
            entry = _Entry(
                prompt=_normalize(item["prompt"]),
                reply=item["reply"].strip(),
                after=_normalize(item["after"]) if "after" in item else None,
                system=_normalize(item["system"]) if "system" in item else None,
            )
            entries = self._by_prompt.setdefault(entry.prompt, [])
            entries.append(entry)
            entries.sort(key=lambda entry: -entry.conditions)  # stable: file order among equals
        self.files.append(path)

    def with_files(self, paths: Iterable[str | Path]) -> Answers:
        """These answers plus those of ``paths``, as a new set (this one is left as it is)."""
        return Answers([*self.files, *map(Path, paths)])

    def reply(self, messages: list[dict], model: str) -> str:
        """The scripted answer to the last user message of ``messages``, in their context."""
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        last = users[-1] if users else len(messages) - 1
        question = content_text(messages[last].get("content"))
        prompt = _normalize(question)
        earlier_text = " ".join(content_text(m.get("content")) for m in messages[:last])
        earlier = _normalize(earlier_text)
        system = _normalize(
            " ".join(
                content_text(m.get("content"))
                for m in messages
                if m.get("role") in ("system", "developer")
            )
        )
        for entry in self._by_prompt.get(prompt, ()):
            if entry.matches(prompt, earlier, system):
                return entry.reply.replace("{model}", model)
        language = prompt_language(question, earlier_text)
        return self._fallbacks.get(language, self._fallbacks[ENGLISH]).replace("{model}", model)


# Every endpoint of this process starts from these, unless it is given files of its own.
ANSWERS_FOLDER = Path(__file__).parent / "answers"


def answer_files(folder: Path = ANSWERS_FOLDER) -> list[Path]:
    """The lessons' answer files: English ones first, then each language's folder, in name order."""
    return sorted(folder.rglob("*.toml"), key=lambda path: (len(path.relative_to(folder).parts), path))


# Every endpoint of this process starts from these, unless it is given files of its own.
DEFAULT_ANSWERS = Answers(answer_files())


def add_answer_file(path: str | Path) -> None:
    """Add the answers of ``path`` (same format as ``answers/*.toml``) to every endpoint of this
    process that was started without answer files of its own, running ones included."""
    DEFAULT_ANSWERS.add_file(path)


def scripted_reply(messages: list[dict], model: str) -> str:
    """The scripted answer to the last user message of ``messages``, from the default answers."""
    return DEFAULT_ANSWERS.reply(messages, model)
