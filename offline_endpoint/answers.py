"""Scripted answers, from the ``answers/*.toml`` files.

Token counts (``usage`` and the limits) are ``model_facts``' rough count, the one the notebooks'
helper uses too: prompt + completion = total, and a streamed answer arrives in exactly
``completion_tokens`` pieces.
"""

from __future__ import annotations

import tomllib
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


def _load(folder: Path) -> tuple[dict[str, list[_Entry]], str]:
    by_prompt: dict[str, list[_Entry]] = {}
    fallback = None
    for path in sorted(folder.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        fallback = data.get("fallback", {}).get("reply", fallback)
        for item in data.get("answer", []):
            entry = _Entry(
                prompt=_normalize(item["prompt"]),
                reply=item["reply"].strip(),
                after=_normalize(item["after"]) if "after" in item else None,
                system=_normalize(item["system"]) if "system" in item else None,
            )
            by_prompt.setdefault(entry.prompt, []).append(entry)
    for entries in by_prompt.values():
        entries.sort(key=lambda entry: -entry.conditions)  # stable: file order among equals
    if fallback is None:
        raise ValueError(f"no [fallback] reply in {folder}")
    return by_prompt, fallback.strip()


_ANSWERS, _FALLBACK = _load(Path(__file__).parent / "answers")


def scripted_reply(messages: list[dict], model: str) -> str:
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
    for entry in _ANSWERS.get(prompt, ()):
        if entry.matches(prompt, earlier, system):
            return entry.reply.replace("{model}", model)
    return _FALLBACK.replace("{model}", model)
