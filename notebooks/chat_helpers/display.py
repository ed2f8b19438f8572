"""Showing answers in a notebook: framed apart from the lesson's own text, streamed live into
one output, with token usage.

These work the same for azure-ai-inference and openai responses: both have
``choices[0].message.content`` (or ``.delta.content`` when streamed) and ``usage``.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from IPython.display import display

from .language import _

try:  # mistune comes with JupyterLab (through nbconvert); raw HTML in an answer is escaped, not run
    import mistune

    # hard_wrap: a single line break in an answer stays a line break, as chat models intend it.
    _markdown_to_html: Callable[[str], str] = mistune.create_markdown(
        escape=True, hard_wrap=True, plugins=["strikethrough", "table"])  # type: ignore[assignment]
except ImportError:  # a kernel without mistune still shows the text, as it is
    def _markdown_to_html(text: str) -> str:
        return f'<p style="white-space: pre-wrap">{html.escape(text)}</p>'

UPDATE_INTERVAL_SECONDS = 0.1  # redraw a streamed answer at most this often, not on every token
CURSOR = " ▌"  # shown after a streamed answer's text while more is coming
# azure-core logs this warning to stderr when a stream breaks off; stream_answer reports the cut itself.
SDK_STREAM_LOGGER = "azure.core.pipeline.transport._requests_basic"
SDK_CUT_STREAM_MESSAGE = "Unable to stream download."


def markdown_html(text: str) -> str:
    """``text`` (Markdown) as safe HTML: HTML in it is shown as text and harmful links are dropped."""
    return _markdown_to_html(text)


def bubble_html(role: str, speaker: str, text: str, note: str = "") -> str:
    """A chat bubble: who speaks, then the text rendered from Markdown, then an optional note."""
    background = "var(--jp-brand-color3, #bbdefb)" if role == "user" else "var(--jp-layout-color2, #eeeeee)"
    note_html = (f'<div class="chat-answer-note" style="font-size: 0.85em; opacity: 0.75; margin-top: 4px">'
                 f"{html.escape(note)}</div>") if note else ""
    return (f'<div class="chat-answer chat-answer-{role}" style="background: {background}; '
            f'color: var(--jp-ui-font-color1, #000); border-radius: 12px; padding: 6px 12px; max-width: 85%">'
            f'<div style="font-size: 0.8em; font-weight: bold; opacity: 0.7">{html.escape(speaker)}</div>'
            f"{markdown_html(text)}{note_html}</div>")


class ModelAnswer:
    """A model's answer as the notebook shows it: framed like a chat bubble and labelled with the
    model, so it never looks like the lesson's own text. Plain text where HTML cannot be shown."""

    def __init__(self, text: str, speaker: str = "model", note: str = "") -> None:
        self.text, self.speaker, self.note = text, speaker, note

    def _repr_html_(self) -> str:
        if not (self.text or self.note):  # nothing yet (a stream's first moment), or a cleared live view
            return ""
        return bubble_html("assistant", self.speaker, self.text, self.note)

    def _repr_markdown_(self) -> str:  # the answer as the model wrote it, for readers without HTML
        return self.text + (f"\n\n*{self.note}*" if self.note else "")

    def __repr__(self) -> str:
        if not (self.text or self.note):
            return ""
        return f"[{self.speaker}] {self.text}" + (f"\n{self.note}" if self.note else "")


def usage_line(usage: Any) -> str:
    """"Tokens: 24 prompt + 7 completion = 31 total", from a response's ``usage``.

    Some servers (Ollama, for one) report no usage for a streamed answer: ``usage`` is then None.
    """
    if usage is None:
        return _("Tokens: not reported by this server")
    return _("Tokens: {prompt} prompt + {completion} completion = {total} total").format(
        prompt=usage.prompt_tokens, completion=usage.completion_tokens, total=usage.total_tokens)


def finish_reason(choice: Any) -> str | None:
    """The finish reason as plain text ("stop", "length", ...), from either SDK."""
    reason = choice.finish_reason
    return None if reason is None else str(getattr(reason, "value", reason))


def show_answer(response: Any) -> None:
    """Show the answer of a (non-streamed) response, framed, and why it ended if not finished."""
    choice = response.choices[0]
    display(ModelAnswer(choice.message.content or "", getattr(response, "model", None) or "model"))
    if finish_reason(choice) != "stop":
        print(_("(The answer ended early: finish_reason is {reason!r}.)").format(reason=finish_reason(choice)))


def show_usage(response: Any) -> None:
    """Print how many tokens the request and its answer used."""
    print(usage_line(response.usage))


def show_messages(messages: Iterable[Any], width: int = 100) -> None:
    """Print a list of messages one per line, role first, long ones shortened to ``width``.

    Takes SDK message objects (``UserMessage(...)``) or plain dicts, the way they are sent.
    """
    for message in messages:
        role, content = dict(message)["role"], " ".join(str(dict(message).get("content") or "").split())
        line = f"{role:<10} {content}"
        print(line if len(line) <= width else line[: width - 1] + "…")


@dataclass
class StreamedAnswer:
    """A streamed answer once it has ended: its text, how it ended and how fast it came."""

    text: str = ""
    model: str = "model"
    finish_reason: str | None = None
    usage: Any = None
    pieces: int = 0
    first_token_seconds: float | None = None
    total_seconds: float = 0.0
    error: BaseException | None = None

    @property
    def complete(self) -> bool:
        """False when the stream broke off before the model finished."""
        return self.error is None and self.finish_reason is not None

    @property
    def tokens_per_second(self) -> float:
        after_first = self.total_seconds - (self.first_token_seconds or 0)
        return (self.pieces - 1) / after_first if self.pieces > 1 and after_first > 0 else 0.0

    def timing_line(self) -> str:
        """"First token after 0.30 s; then 136 more in 2.3 s (60 tokens/s); 2.6 s in all".

        The rate counts the tokens after the first, over the time after the first: the wait
        for the first token is a separate figure, so it is left out of the rate.
        """
        if self.first_token_seconds is None:
            return _("No token arrived; {total:.1f} s in all").format(total=self.total_seconds)
        after_first = self.total_seconds - self.first_token_seconds
        return _("First token after {first:.2f} s; then {more} more in {rest:.1f} s ({rate:.0f} tokens/s); "
                 "{total:.1f} s in all").format(first=self.first_token_seconds, more=max(self.pieces - 1, 0),
                                                rest=after_first, rate=self.tokens_per_second,
                                                total=self.total_seconds)


def _close_bold(text: str) -> str:
    """Text whose last ``**`` opens bold that is still being written, made to render as bold.

    Markdown needs the closing ``**`` right after a word, and shows a lone opening ``**`` raw.
    """
    text = text.rstrip()
    return text[:-2].rstrip() if text.endswith("**") else text + "**"


def _framed(answer: StreamedAnswer, cursor: bool) -> ModelAnswer:
    text = answer.text
    if cursor:
        text = (_close_bold(text) if text.count("**") % 2 else text) + CURSOR
    note = _("[The answer is incomplete: the stream was cut off.]") if answer.error is not None else ""
    return ModelAnswer(text, answer.model, note)


def _not_the_cut_stream_warning(record: logging.LogRecord) -> bool:
    return record.getMessage() != SDK_CUT_STREAM_MESSAGE


def read_stream(updates: Iterable[Any], on_update: Callable[[StreamedAnswer], None] | None = None) -> StreamedAnswer:
    """Read a streamed response to its end and return it, showing nothing.

    A stream that breaks off keeps what arrived: the error is kept in ``answer.error``
    instead of being raised (the SDK's own warning about it is silenced meanwhile, so the cut
    is reported once). ``on_update``, if given, is called with the answer so far at most every
    ``UPDATE_INTERVAL_SECONDS`` (the first words at once), and once more at the end.
    The response is closed however the stream ends, an interrupt included.
    """
    answer = StreamedAnswer()
    started = time.perf_counter()
    last_drawn = float("-inf")  # the first words are drawn as soon as they arrive
    sdk_log = logging.getLogger(SDK_STREAM_LOGGER)
    sdk_log.addFilter(_not_the_cut_stream_warning)
    try:
        for update in updates:
            answer.model = getattr(update, "model", None) or answer.model
            if update.usage:
                answer.usage = update.usage
            if not update.choices:
                continue
            choice = update.choices[0]
            if choice.finish_reason:
                answer.finish_reason = finish_reason(choice)
            if not choice.delta.content:
                continue
            if answer.first_token_seconds is None:
                answer.first_token_seconds = time.perf_counter() - started
            answer.text += choice.delta.content
            answer.pieces += 1
            if on_update and time.perf_counter() - last_drawn >= UPDATE_INTERVAL_SECONDS:
                on_update(answer)
                last_drawn = time.perf_counter()
    except Exception as error:  # a stream cut off midway: keep what arrived
        if answer.pieces == 0:
            raise
        answer.error = error
    finally:
        answer.total_seconds = time.perf_counter() - started
        sdk_log.removeFilter(_not_the_cut_stream_warning)
        close = getattr(updates, "close", None)
        if close is not None:
            close()
    if on_update:
        on_update(answer)
    return answer


def stream_answer(updates: Iterable[Any]) -> StreamedAnswer:
    """Show a streamed response live in one output as it arrives, and return it when it ends.

    The answer is framed like a chat bubble, a cursor shows that more is coming, and a stream
    that breaks off is kept and marked incomplete (see ``read_stream``).
    """
    handle = display(ModelAnswer(""), display_id=True)
    try:
        answer = read_stream(updates, on_update=lambda so_far: handle.update(_framed(so_far, cursor=True)))
    finally:
        # nbval ignores display updates, so the live output ends empty and the whole answer is
        # shown once more as an ordinary output: what the notebook stores, the tests re-create.
        handle.update(ModelAnswer(""))
    display(_framed(answer, cursor=False))
    return answer
