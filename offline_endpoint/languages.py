"""The language a prompt is written in, among the languages the scripted answers come in.

Used only for the fallback reply, so that a prompt without a prepared answer is told so in its
own language. Three languages need no statistical model: Chinese is written in Han characters,
and Dutch and English are told apart by their most common short words, which a question almost
always contains.
"""

from __future__ import annotations

import re

ENGLISH = "en"

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W\d_]+")
# Frequent words of one language that are rare or absent in the other.
_DUTCH_WORDS = frozenset(
    "de het een en van wat hoe waarom waar wie welke ik je jij jou u mij mijn niet geen ook voor met "
    "zijn is zij ze wij we hij dat dit die deze er om op naar uit bij maar nog dan als kan kun kunt "
    "moet wil zou heb hebt heeft wordt graag alsjeblieft bedankt dank goed hallo hoi vertel geef leg noem "
    "schrijf".split())
_ENGLISH_WORDS = frozenset(
    "the a an and of what how why where who which i you my not no also for with are is they we "
    "he that this these there to on at from but still then if can could must will would have has "
    "please thanks thank good".split())


def prompt_language(text: str, context: str = "") -> str:
    """``"zh"`` for text with Han characters, ``"nl"`` for Dutch, else ``"en"``.

    When ``text`` alone does not tell (a word or two), ``context`` (the rest of the conversation)
    decides.
    """
    for sample in (text, context):
        if _HAN.search(sample):
            return "zh"
        words = [word.casefold() for word in _WORD.findall(sample)]
        dutch = sum(word in _DUTCH_WORDS for word in words)
        english = sum(word in _ENGLISH_WORDS for word in words)
        if dutch != english:
            return "nl" if dutch > english else ENGLISH
    return ENGLISH
