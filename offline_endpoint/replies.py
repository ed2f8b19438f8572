"""What the endpoint answers a checked request with: tool calls, JSON or text.

``server.py`` asks ``plan_reply`` and writes the result, as JSON or as a stream;
``validation.py`` calls ``check_features`` to refuse, with the service's 400, what a service
refuses in ``response_format`` (``structured.py``) and ``tools`` (``tools.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .answers import DEFAULT_ANSWERS, Answers
from .structured import check_response_format, json_reply
from .tools import ToolCall, after_results_reply, check_tools, stream_deltas, tool_call_tokens, tool_calls_for


def check_features(request: dict[str, Any]) -> None:
    """Raise an ``ApiError`` (400) for a response format, tools or tool messages a service would refuse."""
    check_response_format(request)
    check_tools(request)


@dataclass(frozen=True)
class Reply:
    """Either ``text`` (the answer, before ``stop`` and ``max_tokens``) or ``tool_calls``."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    def message(self) -> dict[str, Any]:
        """The message of a non-streamed answer with tool calls."""
        return {"role": "assistant", "content": None, "tool_calls": [call.as_dict() for call in self.tool_calls]}

    def deltas(self) -> list[dict[str, Any]]:
        """The deltas of a streamed answer with tool calls."""
        return stream_deltas(list(self.tool_calls))

    def completion_tokens(self) -> int:
        return tool_call_tokens(list(self.tool_calls))


def plan_reply(request: dict[str, Any], model: str, answers: Answers = DEFAULT_ANSWERS) -> Reply:
    """What to answer ``request``: tool calls, JSON or text, the text from ``answers``."""
    messages = request["messages"]
    calls = tool_calls_for(request)
    if calls:
        return Reply(tool_calls=tuple(calls))
    text = after_results_reply(messages) or answers.reply(messages, model)
    if (request.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        text = json_reply(request, text)
    return Reply(text=text)
