"""A rough token count that needs no tokenizer, the same wherever the collection counts.

A token is a run of letters and digits or a single other visible character, so "Hello, world!"
is 4 tokens; a Chinese or Japanese character, written without spaces between words, is a token
of its own, as real tokenizers roughly count them ("法国的首都" is 5). Each message adds 4 tokens of
framing and every prompt 3 more, as chat models do; an image part counts 85 and an audio part
100. Real tokenizers give other numbers (a real model's ``usage`` shows its own); this count
only has to be consistent, so that the offline endpoint's ``usage`` adds up and a conversation
trims before that endpoint would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and Han characters
_TOKEN = re.compile(rf"\s*(?:[{_CJK}]|[^\W{_CJK}]+|[^\w\s])", re.UNICODE)
_PART_TOKENS = {"image_url": 85, "input_audio": 100}
MESSAGE_FRAMING = 4
PROMPT_FRAMING = 3


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into token pieces that join back into the (right-stripped) text."""
    # Stripped first: trailing spaces match no token, and findall would retry them from every
    # position, quadratic in their length (40 KB of spaces took 50 s of the offline endpoint's loop).
    return _TOKEN.findall(text.rstrip())


def content_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part["text"] for part in content if isinstance(part, Mapping) and part.get("type") == "text")
    return ""


def message_tokens(message: Mapping[str, Any]) -> int:
    """What one message adds to a prompt's count: its framing, its words and its media parts."""
    content = message.get("content")
    parts = sum(_PART_TOKENS.get(part.get("type"), 0) for part in content
                if isinstance(part, Mapping)) if isinstance(content, list) else 0
    return MESSAGE_FRAMING + len(split_tokens(content_text(content))) + parts


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """The rough count of a prompt made of ``messages`` (plain dicts, as they are sent)."""
    return PROMPT_FRAMING + sum(message_tokens(message) for message in messages)
