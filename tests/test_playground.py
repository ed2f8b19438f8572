"""The playground panel, driven through its widgets as a learner drives it (no browser here)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chat_helpers import Connection, StreamedAnswer, practice_endpoint
from chat_helpers.display import CURSOR
from chat_helpers.playground import Playground, answer_note, model_choices

from tests.support import FRANCE, SPAIN

EXERCISE = "Give me 5 good reasons why I should exercise every day."


class WatchedClient:
    """A real client whose streamed calls let a test look at the panel while each update arrives."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[dict[str, Any]] = []
        self.watch: Callable[[], Any] = lambda: None
        self.seen_while_streaming: list[Any] = []

    def complete(self, **kwargs: Any) -> Iterator[Any]:
        self.calls.append(kwargs)
        for update in self.client.complete(**kwargs):
            self.seen_while_streaming.append(self.watch())
            yield update


@pytest.fixture
def playground(chat: Connection) -> Playground:
    return Playground(chat)


@pytest.fixture
def watched(chat: Connection) -> tuple[Playground, WatchedClient]:
    client = WatchedClient(chat.client)
    return Playground(dataclasses.replace(chat, client=client)), client


def type_and_send(playground: Playground, text: str) -> None:
    playground.message_box.value = text
    playground.send_button.click()


def bubble_texts(playground: Playground) -> list[str]:
    return [bubble.value for bubble in playground.bubbles.children]


def test_send_shows_question_and_answer_and_stores_the_turn(playground: Playground) -> None:
    type_and_send(playground, FRANCE)

    question, answer = bubble_texts(playground)
    assert FRANCE in question
    assert "The capital of France is Paris." in answer
    assert "Tokens: " in answer and " total" in answer and "answer in " in answer
    assert CURSOR not in answer
    assert playground.message_box.value == ""
    assert playground.messages() == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": FRANCE},
        {"role": "assistant", "content": "The capital of France is Paris."},
    ]


def test_enter_in_the_message_box_sends(playground: Playground) -> None:
    playground.message_box.value = FRANCE
    # What the browser sends to the kernel when Enter is pressed in the text box.
    playground.message_box._handle_custom_msg({"event": "submit"}, [])

    assert [m["role"] for m in playground.messages()] == ["system", "user", "assistant"]
    assert "Paris" in bubble_texts(playground)[-1]


def test_empty_message_sends_nothing(playground: Playground) -> None:
    type_and_send(playground, "   ")

    assert playground.bubbles.children == ()
    assert len(playground.messages()) == 1


def test_follow_up_is_answered_with_the_history_and_clear_forgets_it(playground: Playground) -> None:
    type_and_send(playground, FRANCE)
    type_and_send(playground, SPAIN)
    assert "The capital of Spain is Madrid." in bubble_texts(playground)[-1]

    playground.clear_button.click()
    assert playground.bubbles.children == ()
    assert playground.messages() == [{"role": "system", "content": "You are a helpful assistant."}]

    type_and_send(playground, SPAIN)
    assert "no context" in bubble_texts(playground)[-1]


def test_send_is_disabled_while_the_answer_streams_in(watched: tuple[Playground, WatchedClient]) -> None:
    playground, client = watched
    client.watch = lambda: (playground.send_button.disabled, playground.bubbles.children[-1].value)

    type_and_send(playground, EXERCISE)

    assert len(client.seen_while_streaming) > 10
    assert all(disabled for disabled, _ in client.seen_while_streaming)
    # The first words are drawn at once, with the cursor that says more is coming.
    drawn_while_streaming = [bubble for _, bubble in client.seen_while_streaming if "Here" in bubble]
    assert drawn_while_streaming and all(CURSOR in bubble for bubble in drawn_while_streaming)
    assert not playground.send_button.disabled
    assert "build the habit" in bubble_texts(playground)[-1]


def test_controls_go_into_the_request(watched: tuple[Playground, WatchedClient]) -> None:
    playground, client = watched
    playground.model_picker.value = "Phi-3-medium-128k-instruct"
    playground.system_prompt.value = "You answer in one sentence."
    playground.temperature.value = 0.2
    playground.top_p.value = 0.5
    playground.max_tokens.value = 200

    type_and_send(playground, FRANCE)

    (call,) = client.calls
    assert call["model"] == "Phi-3-medium-128k-instruct"
    assert call["stream"] is True
    assert (call["temperature"], call["top_p"], call["max_tokens"]) == (0.2, 0.5, 200)
    assert dict(call["messages"][0]) == {"role": "system", "content": "You answer in one sentence."}
    assert "Phi-3-medium-128k-instruct" in bubble_texts(playground)[-1]
    assert playground.messages()[0]["content"] == "You answer in one sentence."


def test_the_picker_offers_the_six_lesson_models(playground: Playground) -> None:
    labels = [label for label, _ in playground.model_picker.options]
    assert len(labels) == 6 and all(label.startswith("Phi-3-") for label in labels)
    for slider in (playground.temperature, playground.top_p, playground.max_tokens):
        assert slider.description in slider.tooltip  # the meaning shows on hover


def test_a_local_server_with_one_model_for_all_offers_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {"CHAT_PROVIDER": "local", "LOCAL_SERVER": "ollama", "LOCAL_BASE_URL": "",
                            "LOCAL_MODEL": "phi4-mini"}.items():
        monkeypatch.setenv(variable, value)  # the environment wins over a developer's .env
    assert model_choices() == [("phi4-mini", "phi4-mini")]

    monkeypatch.setenv("LOCAL_MODEL", "")  # Ollama's own tags: one per lesson model it has
    choices = model_choices()
    assert ("Phi-3-mini-4k-instruct (phi3:mini)", "phi3:mini") in choices
    assert len(choices) == len({model_id for _, model_id in choices}) == 4


def test_an_answer_without_usage_says_the_server_did_not_report_it() -> None:
    note = answer_note(StreamedAnswer(text="Paris.", finish_reason="stop", pieces=2, total_seconds=0.5))
    assert note.startswith("Tokens: not reported by this server · ")


def test_the_streamed_send_trims_the_history_to_fit_like_ask(watched: tuple[Playground, WatchedClient]) -> None:
    playground, client = watched
    type_and_send(playground, FRANCE)
    playground.conversation.max_prompt_tokens = 20  # room for the system message and the question only

    type_and_send(playground, SPAIN)

    assert [dict(message)["role"] for message in client.calls[-1]["messages"]] == ["system", "user"]
    assert "no context" in bubble_texts(playground)[-1]
    assert len(playground.messages()) == 5  # the history itself stays whole


def test_small_max_tokens_cuts_the_answer_and_says_so(playground: Playground) -> None:
    playground.max_tokens.value = 3
    type_and_send(playground, EXERCISE)

    answer = bubble_texts(playground)[-1]
    assert "max_tokens" in answer and "length" in answer
    assert "completion" in answer and "build the habit" not in answer


def test_an_error_is_explained_and_the_conversation_stays(playground: Playground) -> None:
    type_and_send(playground, FRANCE)
    before = playground.messages()
    practice_endpoint().faults.add("retired")

    type_and_send(playground, SPAIN)

    explanation = playground.error_box.value
    assert playground.error_box.layout.display != "none"
    assert "410" in explanation and "retired" in explanation and "What to do" in explanation
    assert playground.messages() == before
    assert len(playground.bubbles.children) == 2
    assert playground.message_box.value == SPAIN  # ready to send again
    assert not playground.send_button.disabled

    playground.send_button.click()  # the fault was for one request: now it works, with the history
    assert "Madrid" in bubble_texts(playground)[-1]
    assert playground.error_box.layout.display == "none"
    assert len(playground.messages()) == 5


def test_a_stream_cut_off_midway_is_not_stored(playground: Playground) -> None:
    practice_endpoint().faults.add("cut_stream")

    type_and_send(playground, EXERCISE)

    assert playground.error_box.value != ""
    assert playground.bubbles.children == ()
    assert len(playground.messages()) == 1


def test_export_gives_the_sdk_messages_as_json_and_markdown(playground: Playground) -> None:
    type_and_send(playground, FRANCE)

    assert json.loads(playground.export_json()) == playground.messages()
    markdown = playground.export_markdown()
    assert markdown.index("## system") < markdown.index("## user") < markdown.index("## assistant")
    assert "The capital of France is Paris." in markdown

    playground.export_button.click()
    shown = playground.export_area.value
    assert 'download="conversation.json"' in shown and 'download="conversation.md"' in shown
    assert "&quot;role&quot;: &quot;assistant&quot;" in shown


def test_html_in_a_message_is_shown_as_text(playground: Playground) -> None:
    type_and_send(playground, "Is <script>alert(1)</script> **bold**?")

    question = bubble_texts(playground)[0]
    assert "<script>" not in question and "&lt;script&gt;" in question
    assert "<strong>bold</strong>" in question


def test_text_shown_without_widgets_names_the_endpoint(playground: Playground) -> None:
    bundle = playground._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Chat playground. Connected to the offline practice endpoint")


def test_the_last_call_is_the_exact_complete_call_that_send_made(watched: tuple[Playground, WatchedClient]) -> None:
    playground, client = watched
    assert playground.last_call is None and playground.last_call_code() == "# Nothing sent yet."
    type_and_send(playground, FRANCE)
    playground.temperature.value, playground.top_p.value, playground.max_tokens.value = 0.7, 0.9, 123
    type_and_send(playground, SPAIN)

    sent = client.calls[-1]
    assert playground.last_call == sent  # the very arguments of the last complete(...) call
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["stream"]) == (0.7, 0.9, 123, True)
    code = playground.last_call_code()
    assert code.startswith("connection.client.complete(\n    messages=[\n")
    assert f'{{"role": "user", "content": "{SPAIN}"}},' in code
    assert f'model="{playground.connection.model}",' in code
    assert "    temperature=0.7,\n    top_p=0.9,\n    max_tokens=123,\n)" in code
    assert "max_tokens=123" in playground.request_view.value  # the panel shows it too


def test_sliders_are_wide_and_max_tokens_can_be_typed(playground: Playground) -> None:
    for slider in (playground.temperature, playground.top_p, playground.max_tokens):
        assert slider.layout.width == "100%" and slider.readout
    assert (playground.max_tokens.min, playground.max_tokens.max) == (1, 4000)
    assert "type" in playground.max_tokens.tooltip
