"""Scripted answers, from the ``answers/*.toml`` files and any added.

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
    """A set of scripted answers read from ``.toml`` files; a later file's ``[fallback]`` wins."""

    def __init__(self, files: Iterable[Path]) -> None:
        self._by_prompt: dict[str, list[_Entry]] = {}
        self._fallback: str | None = None
        self.files: list[Path] = []
        for path in files:
            self.add_file(path)
        if self._fallback is None:
            raise ValueError(f"no [fallback] reply in {[str(path) for path in self.files]}")

    def add_file(self, path: str | Path) -> None:
        path = Path(path)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if "reply" in data.get("fallback", {}):
            self._fallback = data["fallback"]["reply"].strip()
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
        prompt = _normalize(content_text(messages[last].get("content")))
        earlier = _normalize(" ".join(content_text(m.get("content")) for m in messages[:last]))
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
        return str(self._fallback).replace("{model}", model)


# Every endpoint of this process starts from these, unless it is given files of its own.
DEFAULT_ANSWERS = Answers(sorted((Path(__file__).parent / "answers").glob("*.toml")))


def add_answer_file(path: str | Path) -> None:
    """Add the answers of ``path`` (same format as ``answers/*.toml``) to every endpoint of this
    process that was started without answer files of its own, running ones included."""
    DEFAULT_ANSWERS.add_file(path)


def scripted_reply(messages: list[dict], model: str) -> str:
    """The scripted answer to the last user message of ``messages``, from the default answers."""
    return DEFAULT_ANSWERS.reply(messages, model)
