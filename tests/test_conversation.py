"""``Conversation`` against the embedded offline endpoint: history sent, kept whole, trimmed to fit.

The offline endpoint's scripted answers depend on what a request carries (a follow-up is answered
in context only when the earlier turn was sent), so they show what each call really sent.
"""

from __future__ import annotations

import json

import pytest
from azure.ai.inference.models import UserMessage
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from chat_helpers import Connection, Conversation, connect, estimate_tokens, practice_endpoint
from chat_helpers import conversation as chat_conversation

ADA = ["My name is Ada. Please remember it.", "What is the capital of France?", "What about Spain?"]
NAME = "What is my name?"


def having_talked(chat: Connection, max_prompt_tokens: int | None = None) -> Conversation:
    conversation = Conversation(chat, max_prompt_tokens=max_prompt_tokens)
    for question in ADA:
        conversation.ask(question)
    return conversation


def roles(conversation: Conversation) -> list[str]:
    return [message["role"] for message in conversation.as_dicts()]


def test_ask_stores_the_question_and_the_answer_after_the_system_message(chat: Connection) -> None:
    conversation = Conversation(chat, system="You are a terse assistant.")
    response = conversation.ask("What is the capital of France?")
    assert conversation.as_dicts() == [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": response.choices[0].message.content},
    ]
    assert json.loads(json.dumps(conversation.as_dicts())) == conversation.as_dicts()


def test_a_follow_up_is_sent_with_its_history(chat: Connection) -> None:
    conversation = Conversation(chat)
    conversation.ask("What is the capital of France?")
    assert conversation.ask("What about Spain?").choices[0].message.content.startswith(
        "The capital of Spain is Madrid.")
    alone = Conversation(chat).ask("What about Spain?").choices[0].message.content
    assert "no context" in alone


def test_a_failed_call_adds_nothing_and_the_retry_adds_the_turn_once(chat: Connection) -> None:
    conversation = Conversation(chat)
    conversation.ask("What is the capital of France?")
    before = conversation.as_dicts()

    with pytest.raises(ClientAuthenticationError):
        conversation.ask("What about Spain?", headers={"x-offline-fault": "unauthorized"})
    assert conversation.as_dicts() == before

    practice_endpoint().faults.add("forbidden")
    with pytest.raises(HttpResponseError) as failure:
        conversation.ask("What about Spain?")
    assert failure.value.status_code == 403
    assert conversation.as_dicts() == before

    retried = conversation.ask("What about Spain?")
    assert retried.choices[0].message.content.startswith("The capital of Spain is Madrid.")  # sent in context
    assert conversation.as_dicts() == [*before, {"role": "user", "content": "What about Spain?"},
                                       {"role": "assistant", "content": retried.choices[0].message.content}]


def test_the_default_budget_leaves_half_the_context_window_for_the_answer(chat: Connection) -> None:
    assert Conversation(chat).max_prompt_tokens == 4096 // 2
    medium = connect("Phi-3-medium-128k-instruct", quiet=True)
    with medium.client:
        assert Conversation(medium).max_prompt_tokens == 131072 // 2


def test_trimming_keeps_the_system_message_and_drops_the_oldest_pair_first(chat: Connection) -> None:
    conversation = having_talked(chat, max_prompt_tokens=100)
    system, *turns = conversation.messages
    sent = conversation.to_send(NAME)
    assert sent[0] is system
    assert sent[1:-1] == turns[2:]  # Ada's question and its answer went together
    assert dict(sent[-1]) == {"role": "user", "content": NAME}
    assert estimate_tokens(sent) <= 100 < estimate_tokens([*conversation.messages, UserMessage(content=NAME)])


def test_trimming_sends_the_longest_run_of_newest_whole_turns_that_fits(chat: Connection) -> None:
    conversation = having_talked(chat)
    system, *turns = conversation.messages
    question = UserMessage(content=NAME)
    for budget in range(estimate_tokens([system, question]), estimate_tokens([system, *turns, question]) + 2):
        conversation.max_prompt_tokens = budget
        kept = conversation.to_send(NAME)[1:-1]
        assert len(kept) % 2 == 0 and kept == turns[len(turns) - len(kept):]
        assert estimate_tokens([system, *kept, question]) <= budget
        if len(kept) < len(turns):
            one_more_pair = turns[len(turns) - len(kept) - 2:]
            assert estimate_tokens([system, *one_more_pair, question]) > budget


def test_what_is_trimmed_is_forgotten_but_the_history_stays_whole(chat: Connection) -> None:
    roomy, tight = having_talked(chat), having_talked(chat, max_prompt_tokens=100)
    assert roomy.ask(NAME).choices[0].message.content.startswith("Your name is Ada")
    forgot = tight.ask(NAME)
    assert forgot.choices[0].message.content.startswith("I don't know your name")
    assert len(tight) == 1 + 2 * (len(ADA) + 1)
    assert roles(tight) == roles(roomy)


def test_the_estimate_is_what_the_offline_endpoint_counts(chat: Connection) -> None:
    conversation = having_talked(chat, max_prompt_tokens=100)
    estimate = estimate_tokens(conversation.to_send(NAME))
    assert conversation.ask(NAME).usage.prompt_tokens == estimate


def test_a_question_too_long_for_the_budget_is_sent_with_the_system_message_alone(chat: Connection) -> None:
    conversation = having_talked(chat, max_prompt_tokens=20)
    sent = conversation.to_send(NAME)
    assert [dict(message)["role"] for message in sent] == ["system", "user"]
    assert conversation.ask(NAME).choices[0].message.content.startswith("I don't know your name")


def test_a_partial_answer_is_stored_as_it_arrived_and_the_learner_is_told(
        chat: Connection, capsys: pytest.CaptureFixture[str]) -> None:
    conversation = Conversation(chat)
    response = conversation.ask("What is the capital of France?", headers={"x-offline-fault": "content_filter_finish"})
    assert capsys.readouterr().out == "(Stored as it arrived, but partial: finish_reason 'content_filter'.)\n"
    assert conversation.as_dicts()[-1]["content"] == response.choices[0].message.content
    conversation.ask("What about Spain?", max_tokens=2)
    assert "finish_reason 'length'" in capsys.readouterr().out
    conversation.ask("What is my name?")
    assert capsys.readouterr().out == ""  # a whole answer is stored without a word


def test_choosing_what_to_send_costs_what_is_sent_not_the_whole_history(
        chat: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    conversation = Conversation(chat, max_prompt_tokens=60)
    for number in range(1000):
        conversation.remember(f"Question number {number}?", f"Answer number {number}.")
    counted: list[object] = []
    real = chat_conversation.message_tokens
    monkeypatch.setattr(chat_conversation, "message_tokens", lambda message: counted.append(message) or real(message))
    sent = conversation.to_send("And now?")
    assert len(counted) == 2  # the system message and the question; stored turns were counted when stored
    assert 3 <= len(sent) < 20 and sent[-2]["content"] == "Answer number 999."
    one_turn_more = [sent[0], *conversation.messages[-len(sent):], sent[-1]]  # the newest turns, and one older
    assert estimate_tokens(sent) <= 60 < estimate_tokens(one_turn_more)
