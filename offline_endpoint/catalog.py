"""The models the offline endpoint serves, read from ``models.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

_DATA = tomllib.loads((Path(__file__).parent / "models.toml").read_text(encoding="utf-8"))

DEFAULT_MODEL: str = _DATA["default"]
MAX_INPUT_TOKENS: int = _DATA["max_input_tokens"]
MAX_OUTPUT_TOKENS: int = _DATA["max_output_tokens"]
PUBLISHER = "microsoft"


@dataclass(frozen=True)
class Model:
    name: str
    context_window: int
    summary: str
    aliases: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{PUBLISHER}/{self.name}"

    @property
    def max_input_tokens(self) -> int:
        return min(self.context_window, MAX_INPUT_TOKENS)


MODELS: tuple[Model, ...] = tuple(
    Model(m["name"], m["context_window"], m["summary"], tuple(m.get("aliases", ())))
    for m in _DATA["model"]
)

_BY_NAME: dict[str, Model] = {}
for _model in MODELS:
    for _name in (_model.name, *_model.aliases):
        _BY_NAME[_name.casefold()] = _model


def find_model(name: str) -> Model | None:
    """The model called ``name`` (any case, with or without ``microsoft/``), or None.

    Surrounding spaces are not forgiven: the endpoint echoes the name it was sent, and a name
    padded with a megabyte of spaces must not be echoed into every streamed chunk.
    """
    key = name.casefold()
    if key.startswith(PUBLISHER + "/"):
        key = key[len(PUBLISHER) + 1 :]
    return _BY_NAME.get(key)


def catalog_entries() -> list[dict]:
    """The models in the shape of the GitHub Models catalog API (``GET /catalog/models``)."""
    return [
        {
            "id": model.id,
            "name": model.name,
            "publisher": "Microsoft",
            "registry": "azureml",
            "summary": model.summary,
            "rate_limit_tier": "low",
            "supported_input_modalities": ["text"],
            "supported_output_modalities": ["text"],
            "tags": ["multilingual", "low latency"],
            "limits": {
                "max_input_tokens": model.max_input_tokens,
                "max_output_tokens": MAX_OUTPUT_TOKENS,
            },
            "version": "offline",
        }
        for model in MODELS
    ]
