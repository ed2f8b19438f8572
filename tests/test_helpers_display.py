"""What the display helpers show in a notebook, against the embedded offline endpoint.

Outputs are captured through a real IPython shell, as a notebook would store them: the Markdown
of an answer, the printed notes and usage lines, and the live output of a streamed answer.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.inference.models import UserMessage
from azure.core.exceptions import HttpResponseError
from chat_helpers import (
    Connection,
    StreamedAnswer,
    display,
    finish_reason,
    practice_endpoint,
    read_stream,
    show_answer,
    show_messages,
    show_usage,
    stream_answer,
    usage_line,
)
from chat_helpers.display import CURSOR, SDK_STREAM_LOGGER
from IPython.utils.capture import capture_output

from tests.support import REASONS

ROOT = Path(__file__).resolve().parent.parent
GOLDFISH = "Suggest a name for a pet goldfish."

pytestmark = pytest.mark.usefixtures("shell")  # so displays are captured as a notebook stores them


class WatchedStream:
    """A real stream that records being closed, and can fail (or be interrupted) after some updates."""

    def __init__(self, stream: Any, fail_after: int | None = None, failure: BaseException | None = None) -> None:
        self.stream, self.fail_after = stream, fail_after
        self.failure = failure or KeyboardInterrupt()  # what stopping the cell raises
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        for count, update in enumerate(self.stream):
            if count == self.fail_after:
                raise self.failure
            yield update

    def close(self) -> None:
        self.closed = True
        self.stream.close()


def ask(chat: Connection, prompt: str, **params: Any) -> Any:
    return chat.client.complete(messages=[UserMessage(content=prompt)], model=chat.model, **params)


def markdown_shown(captured: Any) -> list[str]:
    """The Markdown of each output a cell would store (live updates left out)."""
    return [output.data["text/markdown"] for output in captured.outputs if not output.update]


def test_show_answer_renders_the_reply_as_markdown_with_no_note_when_it_finished(chat: Connection) -> None:
    response = ask(chat, GOLDFISH)
    with capture_output() as captured:
        show_answer(response)
    assert markdown_shown(captured) == [response.choices[0].message.content]
    assert "**Bubbles**" in markdown_shown(captured)[0]
    assert captured.stdout == ""


def test_show_answer_says_when_max_tokens_cut_the_answer(chat: Connection) -> None:
    response = ask(chat, REASONS, max_tokens=20)
    with capture_output() as captured:
        show_answer(response)
    assert markdown_shown(captured) == [response.choices[0].message.content]
    assert captured.stdout == "(The answer ended early: finish_reason is 'length'.)\n"


def test_the_usage_line_counts_what_was_sent_and_what_came_back(chat: Connection) -> None:
    response = ask(chat, GOLDFISH, max_tokens=5)
    with capture_output() as captured:
        show_usage(response)
    prompt = response.usage.prompt_tokens
    assert captured.stdout == f"Tokens: {prompt} prompt + 5 completion = {prompt + 5} total\n"
    assert usage_line(response.usage) == captured.stdout.strip()


def test_finish_reason_is_plain_text_for_both_sdks(chat: Connection) -> None:
    azure_choice = ask(chat, REASONS, max_tokens=3).choices[0]
    openai_choice = chat.openai_client().chat.completions.create(
        model=chat.model, messages=[{"role": "user", "content": REASONS}], max_tokens=3).choices[0]
    assert f"{azure_choice.finish_reason}" != "length"  # the SDK's enum prints as its Python name
    assert f"{finish_reason(azure_choice)}" == f"{finish_reason(openai_choice)}" == "length"


def test_show_answer_and_usage_work_on_openai_responses(chat: Connection) -> None:
    response = chat.openai_client().chat.completions.create(
        model=chat.model, messages=[{"role": "user", "content": GOLDFISH}])
    with capture_output() as captured:
        show_answer(response)
        show_usage(response)
    assert markdown_shown(captured) == [ask(chat, GOLDFISH).choices[0].message.content]
    assert captured.stdout.startswith("Tokens: ") and captured.stdout.endswith(" total\n")


def test_a_streamed_answer_is_the_same_answer_and_the_notebook_keeps_it_whole(chat: Connection) -> None:
    whole = ask(chat, REASONS).choices[0].message.content
    with capture_output() as captured:
        answer = stream_answer(ask(chat, REASONS, stream=True))
    assert answer.text == whole
    assert answer.complete and answer.finish_reason == "stop" and answer.error is None
    assert answer.pieces == answer.usage.completion_tokens
    # The live output ends empty; the stored answer follows it, whole and without the cursor.
    assert markdown_shown(captured) == ["", whole]
    updates = [output.data["text/markdown"] for output in captured.outputs if output.update]
    assert updates and updates[-1] == ""
    assert all(update == "" or update.endswith(" ▌") for update in updates)


def test_half_written_bold_is_closed_while_streaming_so_no_raw_stars_show(
        chat: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "UPDATE_INTERVAL_SECONDS", 0)  # redraw on every piece
    whole = ask(chat, REASONS).choices[0].message.content
    with capture_output() as captured:
        stream_answer(ask(chat, REASONS, stream=True))
    live = [output.data["text/markdown"].removesuffix(CURSOR) for output in captured.outputs
            if output.update and output.data["text/markdown"]]
    assert len(live) > 20
    assert all(text.count("**") % 2 == 0 for text in live)
    closed = [text for text in live if not whole.startswith(text)]
    assert closed and all(text.endswith("**") for text in closed)  # a bold still being written
    assert markdown_shown(captured)[-1] == whole  # the stored answer is the text as sent


def test_the_sdk_warning_about_a_cut_stream_is_silenced_only_while_stream_answer_reads(
        chat: Connection, caplog: pytest.LogCaptureFixture) -> None:
    def warnings() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.name == SDK_STREAM_LOGGER]

    answer = read_stream(ask(chat, REASONS, stream=True, headers={"x-offline-fault": "cut_stream"}))
    assert answer.error is not None and warnings() == []  # the cut is reported once, by the answer

    with pytest.raises(HttpResponseError):  # read without stream_answer, the SDK still says it
        list(ask(chat, REASONS, stream=True, headers={"x-offline-fault": "cut_stream"}))
    assert warnings() == ["Unable to stream download."]


def test_stream_answer_reads_openai_streams_with_their_usage_chunk(chat: Connection) -> None:
    stream = chat.openai_client().chat.completions.create(
        model=chat.model, messages=[{"role": "user", "content": REASONS}], stream=True,
        stream_options={"include_usage": True})
    answer = read_stream(stream)
    assert answer.text == ask(chat, REASONS).choices[0].message.content
    assert answer.complete and answer.usage.completion_tokens == answer.pieces


def test_a_stream_cut_off_midway_keeps_what_arrived_and_is_marked_incomplete(chat: Connection) -> None:
    whole = ask(chat, REASONS).choices[0].message.content
    with capture_output() as captured:
        answer = stream_answer(ask(chat, REASONS, stream=True, headers={"x-offline-fault": "cut_stream"}))
    assert not answer.complete
    assert isinstance(answer.error, HttpResponseError)
    assert answer.finish_reason is None and answer.usage is None
    assert 0 < len(answer.text) < len(whole) and whole.startswith(answer.text)
    stored = markdown_shown(captured)[-1]
    assert stored.startswith(answer.text) and "The answer is incomplete" in stored


def test_a_queued_cut_stream_fault_is_kept_as_the_answer_error_not_raised(chat: Connection) -> None:
    practice_endpoint().faults.add("cut_stream")
    answer = read_stream(ask(chat, REASONS, stream=True))
    assert answer.error is not None and not answer.complete and answer.text
    assert read_stream(ask(chat, REASONS, stream=True)).complete  # the fault was used once


def test_the_response_is_closed_when_the_stream_is_cut_off(chat: Connection) -> None:
    stream = WatchedStream(ask(chat, REASONS, stream=True, headers={"x-offline-fault": "cut_stream"}))
    answer = read_stream(stream)
    assert answer.error is not None and stream.closed


def test_the_response_is_closed_when_the_reader_stops_the_cell(chat: Connection) -> None:
    stream = WatchedStream(ask(chat, REASONS, stream=True), fail_after=3)
    with pytest.raises(KeyboardInterrupt), capture_output():
        stream_answer(stream)
    assert stream.closed


def test_the_response_is_closed_when_the_stream_fails_before_any_text(chat: Connection) -> None:
    stream = WatchedStream(ask(chat, REASONS, stream=True), fail_after=0, failure=ConnectionError("reset"))
    with pytest.raises(ConnectionError):
        read_stream(stream)
    assert stream.closed


def test_on_text_follows_the_answer_from_its_first_words_to_the_whole(chat: Connection) -> None:
    seen: list[str] = []
    with capture_output() as captured:
        answer = read_stream(ask(chat, REASONS, stream=True), on_update=lambda so_far: seen.append(so_far.text))
    assert captured.outputs == []  # show=False: the callback is the only view
    assert len(seen) >= 2 and 0 < len(seen[0]) < len(answer.text)  # drawn as soon as words arrive
    assert all(later.startswith(earlier) for earlier, later in zip(seen, seen[1:], strict=False))
    assert seen[-1] == answer.text and answer.complete


def test_on_text_gets_what_arrived_of_a_cut_stream(chat: Connection) -> None:
    seen: list[str] = []
    answer = read_stream(ask(chat, REASONS, stream=True, headers={"x-offline-fault": "cut_stream"}),
                         on_update=lambda so_far: seen.append(so_far.text))
    assert answer.error is not None and seen[-1] == answer.text != ""


def test_the_rate_leaves_out_the_wait_for_the_first_token_and_the_line_adds_up() -> None:
    answer = StreamedAnswer(text="...", pieces=11, first_token_seconds=0.5, total_seconds=1.5)
    assert answer.tokens_per_second == 10
    # 10 more tokens in the 1.0 s after the first: the printed figures agree with one another.
    assert answer.timing_line() == "First token after 0.50 s; then 10 more in 1.0 s (10 tokens/s); 1.5 s in all"


def test_the_timing_line_of_a_stream_with_no_token_says_so() -> None:
    assert StreamedAnswer(total_seconds=0.2).timing_line() == "No token arrived; 0.2 s in all"


def sanitize(text: str) -> str:
    """``text`` as nbval compares it, after the project's sanitize patterns."""
    patterns = configparser.ConfigParser(interpolation=None)
    patterns.read(ROOT / "nbval_sanitize.cfg", encoding="utf-8")
    for section in patterns.sections():
        text = re.sub(patterns[section]["regex"], patterns[section]["replace"], text)
    return text


def test_stored_timing_lines_compare_equal_across_runs_but_keep_the_token_count() -> None:
    fast = StreamedAnswer(pieces=137, first_token_seconds=0.0004, total_seconds=0.02)
    paced = StreamedAnswer(pieces=137, first_token_seconds=0.31, total_seconds=2.9)
    shorter = StreamedAnswer(pieces=20, first_token_seconds=0.0004, total_seconds=0.02)
    assert sanitize(fast.timing_line()) == sanitize(paced.timing_line())
    assert sanitize(fast.timing_line()) != sanitize(shorter.timing_line())
    assert "then 136 more" in sanitize(fast.timing_line())
    assert sanitize(fast.timing_line()) != fast.timing_line()  # the pattern matches the line as printed


def test_show_messages_prints_one_short_line_per_message(capsys: pytest.CaptureFixture[str]) -> None:
    long_answer = "Madrid. " * 30
    show_messages([{"role": "system", "content": "You are a helpful assistant."},
                   UserMessage(content="What about\nSpain?"),
                   {"role": "assistant", "content": long_answer}], width=60)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["system     You are a helpful assistant.", "user       What about Spain?"]
    assert lines[2].startswith("assistant  Madrid. Madrid.") and lines[2].endswith("…")
    assert len(lines) == 3 and len(lines[2]) == 60
