"""A conversation that keeps its history whole, and inside the model's context window."""

from __future__ import annotations

from typing import Any

from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage

from model_facts import estimate_tokens as _estimate
from model_facts.tokens import PROMPT_FRAMING, message_tokens

from .display import finish_reason
from .language import N_, _

DEFAULT_SYSTEM_PROMPT = N_("You are a helpful assistant.")
PARTIAL_REASONS = ("content_filter", "length")  # an answer that ended for these is not whole


def estimate_tokens(messages: list[Any]) -> int:
    """A rough token count of ``messages``: words and punctuation marks, plus a little per message.

    A real model's tokenizer counts differently (its ``usage`` shows its own count); this one
    needs no tokenizer and is the one the offline endpoint uses.
    """
    return _estimate(dict(message) for message in messages)


class Conversation:
    """The messages of one chat. A turn is added only when its answer arrived.

    ``ask()`` sends the history plus your new message. If the call fails, nothing is added,
    so you can simply ask again: no turn is lost and none is stored twice.
    """

    def __init__(self, connection: Any, system: str | None = None,
                 max_prompt_tokens: int | None = None) -> None:
        self.connection = connection
        # The default system message is in the lesson's language, like the lesson's own prompts.
        self.messages: list[Any] = [SystemMessage(content=_(DEFAULT_SYSTEM_PROMPT) if system is None else system)]
        self._sizes: list[int] = []  # each stored turn's own token count, counted once when stored
        window = getattr(connection, "context_window", None)
        self.max_prompt_tokens = max_prompt_tokens or (window // 2 if window else None)

    def to_send(self, text: str) -> list[Any]:
        """The messages the next call sends: the system message, then as many of the newest
        turns as fit in ``max_prompt_tokens``, then ``text``.

        Whole turns (a question with its answer) are kept or dropped together, newest kept
        first; the work is proportional to what is sent, not to the whole history.
        """
        system, turns = self.messages[0], self.messages[1:]
        question = UserMessage(content=text)
        if not self.max_prompt_tokens:
            return [system, *turns, question]
        total = PROMPT_FRAMING + message_tokens(dict(system)) + message_tokens(dict(question))
        first = len(turns)
        while first >= 2 and total + self._sizes[first - 2] + self._sizes[first - 1] <= self.max_prompt_tokens:
            total += self._sizes[first - 2] + self._sizes[first - 1]
            first -= 2
        return [system, *turns[first:], question]

    def ask(self, text: str, **params: Any) -> Any:
        """Send ``text`` with the history; on success store both turns and return the response.

        An answer that arrived but is not whole (finish_reason ``length`` or ``content_filter``)
        is stored as it arrived, and a note says so: the model will read it as its own words.
        """
        response = self.connection.client.complete(
            messages=self.to_send(text), model=self.connection.model, **params)
        self.remember(text, response.choices[0].message.content or "")
        reason = finish_reason(response.choices[0])
        if reason in PARTIAL_REASONS:
            print(_("(Stored as it arrived, but partial: finish_reason {reason!r}.)").format(reason=reason))
        return response

    def remember(self, text: str, reply: str) -> None:
        """Store a finished turn: ``text`` and the ``reply`` that arrived for it.

        Call it once per turn, only after the whole answer arrived; ``ask()`` does.
        """
        turn = [UserMessage(content=text), AssistantMessage(content=reply)]
        self.messages += turn
        self._sizes += [message_tokens(dict(message)) for message in turn]

    def set_system(self, system: str) -> None:
        """Replace the system message; the turns stay."""
        self.messages[0] = SystemMessage(content=system)

    def switch_to(self, connection: Any) -> None:
        """Send the next turns through ``connection`` (another model, say); the history stays."""
        self.connection = connection
        window = getattr(connection, "context_window", None)
        self.max_prompt_tokens = window // 2 if window else self.max_prompt_tokens

    def as_dicts(self) -> list[dict[str, Any]]:
        """The history as the JSON the SDK sends."""
        return [dict(message) for message in self.messages]

    def __len__(self) -> int:
        return len(self.messages)
