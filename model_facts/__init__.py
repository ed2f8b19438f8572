"""The facts about the lessons' models and the providers that serve them, in one place.

The notebooks' helper (``chat_helpers``) and the offline endpoint both read them here, so a
model's context window, a provider's id for it, or the free tier's limits are written once
(``models.toml``, ``providers.toml``). Importing this loads two small TOML files and nothing else.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tokens import estimate_tokens, split_tokens

_HERE = Path(__file__).parent
_MODELS = tomllib.loads((_HERE / "models.toml").read_text(encoding="utf-8"))
PROVIDERS: dict[str, Any] = tomllib.loads((_HERE / "providers.toml").read_text(encoding="utf-8"))
LOCAL_SERVERS: dict[str, dict[str, str]] = PROVIDERS["local"]
PUBLISHER = "microsoft"


@dataclass(frozen=True)
class FreeTier:
    """The per-user, per-model limits GitHub Models published for Phi-3 (the Low tier)."""

    requests_per_minute: int
    requests_per_day: int
    concurrent: int
    max_input_tokens: int
    max_output_tokens: int


@dataclass(frozen=True)
class Retirement:
    """When GitHub Models ended, in one sentence, and where to go instead."""

    date: str
    message: str
    instead: str

    @property
    def what_to_do(self) -> str:
        """``instead`` as a sentence of its own."""
        return self.instead[0].upper() + self.instead[1:]


@dataclass(frozen=True)
class LessonModel:
    """One of the quick start's Phi-3 models."""

    name: str
    context_window: int
    summary: str
    ids: dict[str, str] = field(default_factory=dict)  # local server -> its name for this model
    aliases: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The id GitHub Models' newer API used, e.g. ``microsoft/Phi-3-mini-4k-instruct``."""
        return f"{PUBLISHER}/{self.name}"

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this model goes by: the lesson's, each server's, and the aliases."""
        return (self.name, *self.ids.values(), *self.aliases)

    @property
    def max_input_tokens(self) -> int:
        """The most prompt tokens one request may carry: the context window or the tier's cap."""
        return min(self.context_window, FREE_TIER.max_input_tokens)


FREE_TIER = FreeTier(**_MODELS["free_tier"])
RETIREMENT = Retirement(**_MODELS["retirement"])
DEFAULT_MODEL: str = _MODELS["default"]
MODELS: tuple[LessonModel, ...] = tuple(
    LessonModel(m["name"], m["context_window"], m["summary"], dict(m.get("ids", {})), tuple(m.get("aliases", ())))
    for m in _MODELS["model"])
LESSON_MODELS: tuple[str, ...] = tuple(model.name for model in MODELS)
_BY_NAME = {name.casefold(): model for model in MODELS for name in model.names}


def find_model(name: str) -> LessonModel | None:
    """The model called ``name`` by any of its names (any case, with or without ``microsoft/``), or None.

    Surrounding spaces are not forgiven: the offline endpoint echoes the name it was sent, and a
    name padded with a megabyte of spaces must not be echoed into every streamed chunk.
    """
    key = name.casefold().removeprefix(PUBLISHER + "/")
    return _BY_NAME.get(key)


def model_ids(server: str) -> dict[str, str] | None:
    """Lesson model name -> ``server``'s id for it, or None when that server takes any name."""
    table = {model.name: model.ids[server] for model in MODELS if server in model.ids}
    return table or None


__all__ = [
    "DEFAULT_MODEL", "FREE_TIER", "LESSON_MODELS", "LOCAL_SERVERS", "MODELS", "PROVIDERS", "RETIREMENT",
    "FreeTier", "LessonModel", "Retirement", "estimate_tokens", "find_model", "model_ids", "split_tokens",
]
