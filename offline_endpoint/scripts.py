"""Scripted JSON answers and tool calls, read from the ``answers/**/*.toml`` files.

Besides ``[[answer]]`` (text, read by ``answers.py``), a file may hold:

- ``[[json_answer]]``: ``prompt``, ``json`` (the JSON a model writes for it when asked for JSON)
  and optionally ``json_with_schema`` (what it writes when a schema is given);
- ``[[tool_script]]``: ``prompt``, ``rounds`` (the tool calls of each round, in order),
  ``repeat`` (keep making the last round's calls, as a model that never finishes), ``reply``
  (the answer once the results are back, ``{0[key]}`` being a key of the first result) and
  ``error_reply`` (the same when a result holds an ``error``).

A prompt is matched like ``[[answer]]`` prompts: case, surrounding and repeated spaces ignored.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from typing import Any

from .answers import answer_files, content_text


def normalize(text: str) -> str:
    return " ".join(text.split()).casefold()


def last_user_index(messages: list[dict]) -> int:
    """The position of the last user message (the question being answered), or -1."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    return users[-1] if users else -1


def prompt_of(messages: list[dict]) -> str:
    """The last user message, normalized for matching."""
    index = last_user_index(messages)
    return normalize(content_text(messages[index].get("content"))) if index >= 0 else ""


@dataclass(frozen=True)
class JsonAnswer:
    json: Any
    json_with_schema: Any


@dataclass(frozen=True)
class ScriptedCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolScript:
    rounds: tuple[tuple[ScriptedCall, ...], ...]
    repeat: bool
    reply: str | None
    error_reply: str | None

    def round(self, number: int) -> tuple[ScriptedCall, ...] | None:
        """The calls of round ``number`` (0 first), or None once the script has no more."""
        if number < len(self.rounds):
            return self.rounds[number]
        return self.rounds[-1] if self.repeat and self.rounds else None


def _tables(name: str) -> list[dict[str, Any]]:
    return [item for path in answer_files()
            for item in tomllib.loads(path.read_text(encoding="utf-8")).get(name, [])]


def _load_json_answers() -> dict[str, JsonAnswer]:
    answers = {}
    for item in _tables("json_answer"):
        plain = json.loads(item["json"])
        fitted = json.loads(item["json_with_schema"]) if "json_with_schema" in item else plain
        answers.setdefault(normalize(item["prompt"]), JsonAnswer(plain, fitted))
    return answers


def _load_tool_scripts() -> dict[str, ToolScript]:
    scripts = {}
    for item in _tables("tool_script"):
        rounds = tuple(tuple(ScriptedCall(call["name"], dict(call.get("arguments", {}))) for call in calls)
                       for calls in item["rounds"])
        scripts.setdefault(normalize(item["prompt"]), ToolScript(
            rounds, bool(item.get("repeat", False)), item.get("reply"), item.get("error_reply")))
    return scripts


JSON_ANSWERS = _load_json_answers()
TOOL_SCRIPTS = _load_tool_scripts()
