"""A conversation that keeps its history whole, and inside the model's context window."""

from __future__ import annotations

from typing import Any

from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage

from offline_endpoint import find_model
from offline_endpoint.answers import count_prompt_tokens

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


def estimate_tokens(messages: list[Any]) -> int:
    """A rough token count of ``messages``: words and punctuation marks, plus a little per message."""
    return count_prompt_tokens([dict(message) for message in messages])


def _own_tokens(message: Any) -> int:
    """What ``message`` adds to ``estimate_tokens`` of any list it is in (the count is a sum per message)."""
    return estimate_tokens([message]) - estimate_tokens([])


class Conversation:
    """The messages of one chat. A turn is added only when its answer arrived.

    ``ask()`` sends the history plus your new message. If the call fails, nothing is added,
    so you can simply ask again: no turn is lost and none is stored twice.
    """

    def __init__(self, connection: Any, system: str = DEFAULT_SYSTEM_PROMPT,
                 max_prompt_tokens: int | None = None) -> None:
        self.connection = connection
        self.messages: list[Any] = [SystemMessage(content=system)]
        model = find_model(connection.model)
        self.max_prompt_tokens = max_prompt_tokens or (model.context_window // 2 if model else None)

    def to_send(self, text: str) -> list[Any]:
        """The messages the next call sends: the system message, then as many of the newest
        turns as fit in ``max_prompt_tokens``, then ``text``."""
        system, turns = self.messages[0], self.messages[1:]
        question = UserMessage(content=text)
        if not self.max_prompt_tokens:
            return [system, *turns, question]
        sizes = [_own_tokens(message) for message in turns]  # each message counted once, not once per pair
        total, first = estimate_tokens([system, question]) + sum(sizes), 0
        while first < len(turns) and total > self.max_prompt_tokens:
            total -= sum(sizes[first:first + 2])  # drop the oldest question and its answer together
            first += 2
        return [system, *turns[first:], question]

    def ask(self, text: str, **params: Any) -> Any:
        """Send ``text`` with the history; on success store both turns and return the response."""
        response = self.connection.client.complete(
            messages=self.to_send(text), model=self.connection.model, **params)
        self.remember(text, response.choices[0].message.content or "")
        return response

    def remember(self, text: str, reply: str) -> None:
        """Store a finished turn: ``text`` and the ``reply`` that arrived for it.

        Call it once per turn, only after the whole answer arrived; ``ask()`` does.
        """
        self.messages += [UserMessage(content=text), AssistantMessage(content=reply)]

    def as_dicts(self) -> list[dict[str, Any]]:
        """The history as the JSON the SDK sends."""
        return [dict(message) for message in self.messages]

    def __len__(self) -> int:
        return len(self.messages)
