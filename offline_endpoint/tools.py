"""Tool calling: ``tools``, ``tool_choice``, tool calls in the answer, and ``tool`` messages.

What the offline endpoint does, as a model that calls tools would:

- A prompt with a ``[[tool_script]]`` (``answers/*.toml``) is answered with its scripted calls,
  round after round, ``finish_reason`` ``tool_calls``; once the results are back (``tool``
  messages), with the script's ``reply``, which quotes them.
- ``tool_choice``: ``"auto"`` (the default) calls as scripted, or answers in text;
  ``"none"`` never calls; ``"required"`` always calls, and a named function
  (``{"type": "function", "function": {"name": ...}}``) always calls that one, whatever the
  prompt: with no script for it, the arguments are built from the function's ``parameters``
  schema (``json_values.py``). Arguments always fit the parameters, as a service that
  enforces them guarantees.
- ``parallel_tool_calls: false`` (openai) keeps one call per answer.
- Refused with a 400, as the services do: a malformed tool, a ``tool_choice`` naming no tool,
  a ``tool`` message that answers no call, and a call left without its ``tool`` message.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .answers import content_text, split_tokens
from .errors import ApiError
from .json_values import _MISSING, fitting_value
from .scripts import TOOL_SCRIPTS, ScriptedCall, last_user_index, prompt_of
from .structured import NAME, schema_problem

CHOICES = ("none", "auto", "required")


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the wire carries it

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


# --- checks -------------------------------------------------------------------------------------


def check_tools(request: dict[str, Any]) -> None:
    """Raise the service's 400 for tools, a tool_choice or tool messages it would refuse."""
    tools = request.get("tools")
    choice = request.get("tool_choice")
    names = []
    for index, tool in enumerate(tools or []):
        where = f"tools[{index}]"
        if tool.get("type", "function") != "function":
            raise ApiError(400, "invalid_value", f"Invalid value for '{where}.type': only 'function' is supported.")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise ApiError(400, "missing_required_parameter", f"Missing required parameter: '{where}.function'.")
        name = function.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ApiError(400, "invalid_value", f"Invalid '{where}.function.name': expected a name of 1 to 64 "
                                                 "letters, digits, underscores or dashes.")
        if name in names:
            raise ApiError(400, "invalid_value", f"Invalid 'tools': the function name '{name}' is used twice.")
        names.append(name)
        if "parameters" in function and (problem := schema_problem(function["parameters"])):
            raise ApiError(400, "invalid_function_parameters", f"Invalid schema for function '{name}': {problem}")
    if choice is not None:
        if not tools:
            raise ApiError(400, "invalid_value",
                           "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
        if isinstance(choice, str) and choice not in CHOICES:
            raise ApiError(400, "invalid_value",
                           f"Invalid value for 'tool_choice': {choice[:60]!r}; use 'none', 'auto', 'required' "
                           "or a named function.")
        if isinstance(choice, dict):
            named = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
            if named not in names:
                raise ApiError(400, "invalid_value", "Invalid value for 'tool_choice': no function named "
                                                     f"{str(named)[:64]!r} in 'tools'.")
    _check_tool_messages(request["messages"])


def _check_tool_messages(messages: list[dict[str, Any]]) -> None:
    waiting: list[str] = []  # calls of the last assistant message still without their tool message
    for message in messages:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in waiting:
                raise ApiError(400, "invalid_request",
                               "Invalid parameter: messages with role 'tool' must be a response to a preceding "
                               "message with 'tool_calls' (no call has the id "
                               f"{str(message.get('tool_call_id'))[:64]!r}).")
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            raise _unanswered(waiting)
        if role == "assistant":
            waiting = [call.get("id") for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    if waiting:
        raise _unanswered(waiting)


def _unanswered(ids: list[str]) -> ApiError:
    return ApiError(400, "invalid_request",
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                    f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                    f"{', '.join(str(i)[:64] for i in ids)}")


# --- answers ------------------------------------------------------------------------------------


def tool_calls_for(request: dict[str, Any]) -> list[ToolCall] | None:
    """The calls that answer this request, or None when the answer is text."""
    tools = {tool["function"]["name"]: tool["function"] for tool in request.get("tools") or []}
    choice = request.get("tool_choice") or "auto"
    if not tools or choice == "none":
        return None
    messages = request["messages"]
    script = TOOL_SCRIPTS.get(prompt_of(messages))
    scripted = script.round(_rounds_done(messages)) if script else None
    named = choice["function"]["name"] if isinstance(choice, dict) else None
    calls = [call for call in scripted or () if call.name in tools and named in (None, call.name)]
    if not calls:
        if choice == "auto":
            return None
        calls = [ScriptedCall(named or next(iter(tools)), {})]  # required: a call, whatever the prompt
    if request.get("parallel_tool_calls") is False:
        calls = calls[:1]
    seed = json.dumps([prompt_of(messages), _rounds_done(messages)])
    return [ToolCall(_call_id(seed, index, call.name), call.name, _arguments(tools[call.name], call.arguments))
            for index, call in enumerate(calls)]


def _rounds_done(messages: list[dict[str, Any]]) -> int:
    """How many answers with tool calls came after the question: the round to answer next."""
    after_question = messages[last_user_index(messages) + 1:]
    return sum(1 for m in after_question if m.get("role") == "assistant" and m.get("tool_calls"))


def _call_id(seed: str, index: int, name: str) -> str:
    # The same conversation gets the same ids (stored notebook outputs stay the same), and every
    # call of a conversation its own.
    return "call_" + hashlib.sha256(f"{seed}|{index}|{name}".encode()).hexdigest()[:20]


def _arguments(function: dict[str, Any], scripted: dict[str, Any]) -> str:
    """The scripted arguments where they fit the function's parameters, the rest built to fit."""
    parameters = function.get("parameters")
    if parameters is None:
        return json.dumps(scripted, ensure_ascii=False)
    value = fitting_value(parameters, scripted if scripted else _MISSING)
    if value is None:  # parameters are an object schema (checked), so None means nothing fits
        raise ApiError(400, "invalid_function_parameters",
                       f"Invalid schema for function '{function['name']}': the offline endpoint found no arguments "
                       "that fit it (nothing may satisfy it).")
    return json.dumps(value, ensure_ascii=False)


def after_results_reply(messages: list[dict[str, Any]]) -> str | None:
    """The answer once tool results are back (the last message is a ``tool`` message), or None."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    start = last_user_index(messages) + 1
    results = [_result(content_text(m.get("content"))) for m in messages[start:] if m.get("role") == "tool"]
    script = TOOL_SCRIPTS.get(prompt_of(messages))
    failed = any(isinstance(result, dict) and "error" in result for result in results)
    template = (script.error_reply if failed else script.reply) if script else None
    if template:
        try:
            return template.format(*results)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            pass  # results of another shape than the script expects: the plain answer below
    quoted = "; ".join(content_text(m.get("content")) for m in messages[start:] if m.get("role") == "tool")
    return ("This is the offline practice endpoint, so this answer is scripted, and it has no prepared answer "
            f"for these results. What the tools returned: {quoted}")


def _result(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def tool_call_tokens(calls: list[ToolCall]) -> int:
    """What the calls count as completion tokens: their names and arguments."""
    return sum(len(split_tokens(call.name)) + len(split_tokens(call.arguments)) for call in calls)


def stream_deltas(calls: list[ToolCall]) -> list[dict[str, Any]]:
    """The ``delta`` of each streamed chunk: per call, its id and name, then its arguments."""
    deltas = []
    for index, call in enumerate(calls):
        deltas.append({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                       "function": {"name": call.name, "arguments": ""}}]})
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": call.arguments}}]})
    return deltas
