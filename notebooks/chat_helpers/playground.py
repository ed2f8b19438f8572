"""A chat playground in the notebook, like the web playground GitHub Models had for every model.

    from chat_helpers import show_playground
    playground = show_playground()

The panel is made of ipywidgets: pick a model, write a system prompt, set ``temperature``,
``top_p`` and ``max_tokens``, and chat. Answers stream into their bubble as they arrive. A turn
is stored only when its answer arrived whole, so a failed request leaves the conversation as it
was. Everything the panel does can also be done from code: ``send()``, ``clear()``,
``export_json()``, ``export_markdown()``. ``last_call`` holds the arguments of the last
``complete(...)`` call that Send made, and ``last_call_code()`` writes that call as Python; the
panel shows it too, under *The last request*.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from model_facts import FREE_TIER, LESSON_MODELS

from .config import ConfigurationError, load_settings, read_environment
from .connection import Connection, connect
from .conversation import DEFAULT_SYSTEM_PROMPT, Conversation
from .display import CURSOR, StreamedAnswer, bubble_html, read_stream, usage_line
from .explanations import explain
from .language import N_, _

FAILED = N_("The request failed; the conversation is unchanged and your message is back in the box.")
TEMPERATURE_HELP = N_("temperature: how random the choice of each next token is. 0 picks the most likely "
                    "token almost every time (steady, repeatable answers); higher values give more varied, "
                    "more surprising answers.")
TOP_P_HELP = N_("top_p: the model picks each next token only among the most likely ones whose probabilities "
              "add up to top_p. 1 allows every token; 0.1 only the top 10% of the probability mass. "
              "Change this or temperature, not both.")
MAX_TOKENS_HELP = N_("max_tokens: the most tokens the answer may have. A longer answer is cut off there and "
                     "ends with finish_reason 'length'. Drag, or click the number and type one (1 to {most}).")
SLIDER_LAYOUT = {"width": "100%", "max_width": "640px"}  # wide enough to pick any of 4,000 values

_STYLE = """<style>
.chat-answer p { margin: 0.25em 0; }
.chat-answer pre { white-space: pre-wrap; }
.chat-answer ol, .chat-answer ul { margin: 0.25em 0; padding-left: 1.5em; }
</style>"""

def _error_html(error: BaseException) -> str:
    explanation = explain(error)
    if explanation is None:
        lines = [f"{type(error).__name__}: {error}"]
    else:
        lines = str(explanation).splitlines()
    body = "".join(f"<div>{html.escape(line)}</div>" for line in lines)
    return ('<div class="chat-playground-error" style="border-left: 4px solid var(--jp-error-color1, #d32f2f); '
            'padding: 4px 10px; margin: 4px 0">'
            f"<b>{html.escape(_(FAILED))}</b>"
            f"{body}</div>")


def _request_html(code: str) -> str:
    summary = _("The last request, as the Send button made it ({code} gives the same)").format(
        code="<code>playground.last_call_code()</code>")
    return (f'<details class="chat-playground-request"><summary>{summary}</summary>'

            f'<pre style="white-space: pre-wrap; max-height: 20em; overflow: auto">{html.escape(code)}</pre></details>')


def answer_note(answer: StreamedAnswer) -> str:
    """The line under an answer: its token usage, how long it took, and why it ended if not finished."""
    parts = [usage_line(answer.usage)]
    if answer.first_token_seconds is not None:
        parts.append(_("first token after {first:.2f} s, answer in {total:.2f} s").format(
            first=answer.first_token_seconds, total=answer.total_seconds))
    else:
        parts.append(_("answer in {total:.2f} s").format(total=answer.total_seconds))
    if answer.finish_reason == "length":
        parts.append(_("cut off at max_tokens (finish_reason 'length')"))
    elif answer.finish_reason not in (None, "stop"):
        parts.append(f"finish_reason {answer.finish_reason!r}")
    return " · ".join(parts)


def model_choices(models: Iterable[str] = LESSON_MODELS,
                  env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, model id) for each model the configured provider offers, in its own ids, each id once.

    ``env`` is the configuration (default: `.env` and the environment). When one id serves
    several lesson models (LOCAL_MODEL=phi4-mini answers for all), it is offered once, by its id.
    """
    env = read_environment() if env is None else env
    names_by_id: dict[str, list[str]] = {}
    for name in models:
        try:
            model_id = load_settings(env, model=name).model
        except ConfigurationError:  # this provider does not have that model
            continue
        names_by_id.setdefault(model_id, []).append(name)
    return [(f"{names[0]} ({model_id})" if len(names) == 1 and names[0] != model_id else model_id, model_id)
            for model_id, names in names_by_id.items()]


class Playground:
    """A chat panel: model, system prompt, sampling sliders, conversation, Send, Clear and Export.

    ``connection`` is what ``connect()`` returns (by default the configured provider). The
    widgets are attributes, so code and tests can use the panel as a learner does:
    ``playground.message_box.value = "Hi"; playground.send_button.click()``.
    """

    def __init__(self, connection: Connection | None = None) -> None:
        self.connection = connection or connect(quiet=True)
        choices = model_choices()
        if self.connection.model not in [model_id for _label, model_id in choices]:
            choices.insert(0, (self.connection.model, self.connection.model))
        system = _(DEFAULT_SYSTEM_PROMPT)  # in the lesson's language, as Conversation's own default
        self.conversation = Conversation(self.connection, system=system)
        self.answers: list[StreamedAnswer] = []
        self.busy = False

        wide = widgets.Layout(width="100%")
        describe = {"description_width": "110px"}
        self.model_picker = widgets.Dropdown(
            options=choices, value=self.connection.model, description=_("Model"), style=describe,
            tooltip=_("The model that answers. The context window differs: 4k, 8k or 128k tokens."))
        self.system_prompt = widgets.Textarea(
            value=system, description=_("System prompt"), style=describe, layout=wide, rows=2,
            tooltip=_("The system message: instructions the model reads before the conversation."))
        # One slider per line, each wide: max_tokens spans 1 to 4000, and its number can be typed.
        self.temperature = widgets.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.1, description="temperature", style=describe,
            tooltip=_(TEMPERATURE_HELP), layout=widgets.Layout(**SLIDER_LAYOUT))
        self.top_p = widgets.FloatSlider(
            value=1.0, min=0.0, max=1.0, step=0.05, description="top_p", style=describe, tooltip=_(TOP_P_HELP),
            layout=widgets.Layout(**SLIDER_LAYOUT))
        self.max_tokens = widgets.IntSlider(
            value=1000, min=1, max=FREE_TIER.max_output_tokens, step=1, description="max_tokens", style=describe,
            tooltip=_(MAX_TOKENS_HELP).format(most=FREE_TIER.max_output_tokens), layout=widgets.Layout(**SLIDER_LAYOUT))
        self.last_call: dict[str, Any] | None = None
        self.request_view = widgets.HTML()
        self.bubbles = widgets.VBox(layout=widgets.Layout(width="100%", padding="4px 0"))
        self.error_box = widgets.HTML(layout=widgets.Layout(display="none"))
        self.message_box = widgets.Text(
            placeholder=_("Type a message and press Enter"), layout=widgets.Layout(flex="1 1 auto"),
            tooltip=_("Your message. Enter sends it, like the Send button."))
        self.send_button = widgets.Button(description=_("Send"), button_style="primary", icon="paper-plane",
                                          tooltip=_("Send the message with the whole conversation so far."))
        self.clear_button = widgets.Button(description=_("Clear"), icon="trash",
                                           tooltip=_("Start a new conversation (the system prompt stays)."))
        self.export_button = widgets.Button(description=_("Export"), icon="download",
                                            tooltip=_("Show the conversation as JSON messages and as Markdown."))
        self.export_area = widgets.HTML()

        self.send_button.on_click(lambda _button: self.send())
        self.message_box.on_msg(self._on_message_box_event)
        self.clear_button.on_click(lambda _button: self.clear())
        self.export_button.on_click(lambda _button: self.show_export())

        title = _("Chat playground")
        header = widgets.HTML(f"{_STYLE}<b>{html.escape(title)}</b> · {html.escape(self.connection.describe())}")
        self.panel = widgets.VBox([
            header, self.model_picker, self.system_prompt,
            self.temperature, self.top_p, self.max_tokens,
            self.bubbles, self.error_box,
            widgets.HBox([self.message_box, self.send_button], layout=wide),
            widgets.HBox([self.clear_button, self.export_button]),
            self.request_view, self.export_area,
        ], layout=widgets.Layout(width="100%", max_width="900px", border="1px solid var(--jp-border-color1, #ccc)",
                                 padding="8px"))
        self.panel.add_class("chat-playground")  # a name for the panel in the page, for styles and tests

    # --- what the controls do ---

    def send(self, text: str | None = None) -> StreamedAnswer | None:
        """Send ``text`` (default: the message box) with the conversation; stream the answer into a bubble.

        Returns the answer, or None when nothing was sent or the request failed (the error is
        shown in the panel, the message goes back into the box, the conversation is unchanged).
        """
        text = (self.message_box.value if text is None else text).strip()
        if not text or self.busy:
            return None
        self._set_busy(True)
        self.message_box.value = ""
        self.error_box.value, self.error_box.layout.display = "", "none"
        conversation = self._current_conversation()
        speaker = conversation.connection.model
        user_bubble = self._add_bubble("user", _("You"), text)
        answer_bubble = self._add_bubble("assistant", speaker, CURSOR)

        def draw(so_far: StreamedAnswer) -> None:
            # Widget changes reach the browser at once, even while this handler keeps the kernel
            # busy; stream_answer calls this at most every UPDATE_INTERVAL_SECONDS, which keeps
            # that traffic small.
            answer_bubble.value = bubble_html("assistant", speaker, so_far.text + CURSOR)

        # The values are rounded as the sliders show them (a float slider may hold 0.7000000000000001).
        self.last_call = {"messages": conversation.to_send(text), "model": speaker, "stream": True,
                          "temperature": round(self.temperature.value, 2), "top_p": round(self.top_p.value, 2),
                          "max_tokens": self.max_tokens.value}
        self.request_view.value = _request_html(self.last_call_code())
        try:
            updates = conversation.connection.client.complete(**self.last_call)
            answer = read_stream(updates, on_update=draw)
            if answer.error is not None:  # the stream broke off: the answer is not whole
                raise answer.error
        except Exception as error:
            self.bubbles.children = [b for b in self.bubbles.children if b not in (user_bubble, answer_bubble)]
            self.message_box.value = text
            self.error_box.value, self.error_box.layout.display = _error_html(error), ""
            return None
        finally:
            self._set_busy(False)
        conversation.remember(text, answer.text)
        answer_bubble.value = bubble_html("assistant", speaker, answer.text, answer_note(answer))
        self.answers.append(answer)
        return answer

    def last_call_code(self) -> str:
        """The last ``complete(...)`` call that Send made, as Python (messages as the JSON the SDK sends)."""
        if self.last_call is None:
            return "# Nothing sent yet."
        lines = ["connection.client.complete("]
        for name, value in self.last_call.items():
            if name == "messages":
                lines.append("    messages=[")
                lines += [f"        {json.dumps(dict(message), ensure_ascii=False)}," for message in value]
                lines.append("    ],")
            else:
                shown = json.dumps(value) if isinstance(value, str) else repr(value)
                lines.append(f"    {name}={shown},")
        return "\n".join([*lines, ")"])

    def clear(self) -> None:
        """Forget the conversation and empty the panel; the model, system prompt and sliders stay."""
        self.conversation = Conversation(self.connection.with_model(self.model_picker.value),
                                         system=self.system_prompt.value)
        self.answers.clear()
        self.bubbles.children = []
        self.error_box.value, self.error_box.layout.display = "", "none"
        self.export_area.value = ""

    def messages(self) -> list[dict[str, Any]]:
        """The conversation as the SDK sends it: ``[{"role": ..., "content": ...}, ...]``."""
        return self.conversation.as_dicts()

    def export_json(self) -> str:
        """The conversation as JSON, the messages list the SDK sends."""
        return json.dumps(self.messages(), indent=2, ensure_ascii=False)

    def export_markdown(self) -> str:
        """The conversation as Markdown: one section per message, headed by its role."""
        sections = ["# " + _("Conversation with {model}").format(model=self.conversation.connection.model)]
        sections += [f"## {message['role']}\n\n{message['content']}" for message in self.messages()]
        return "\n\n".join(sections) + "\n"

    def show_export(self) -> None:
        """Show both exports in the panel, each with a download link."""
        parts = []
        download = _("download {file}")
        for title, filename, mime, text in (("JSON", "conversation.json", "application/json", self.export_json()),
                                            ("Markdown", "conversation.md", "text/markdown", self.export_markdown())):
            data = base64.b64encode(text.encode("utf-8")).decode("ascii")
            parts.append(f'<details open><summary>{title} · <a download="{filename}" '
                         f'href="data:{mime};charset=utf-8;base64,{data}">'
                         f'{html.escape(download.format(file=filename))}</a></summary>'
                         f'<pre style="white-space: pre-wrap; max-height: 20em; overflow: auto">'
                         f"{html.escape(text)}</pre></details>")
        self.export_area.value = "".join(parts)

    def show(self) -> Playground:
        """Display the panel in the notebook and return the playground."""
        display(self)
        return self

    # --- inner workings ---

    def _on_message_box_event(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        # The text box tells the kernel about Enter with a "submit" event (ipywidgets deprecated
        # on_submit, not the event); its value is already synced, as it syncs on every keystroke.
        if content.get("event") == "submit":
            self.send()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.send_button.disabled = busy
        self.clear_button.disabled = busy
        self.send_button.description = _("Answering…") if busy else _("Send")

    def _current_conversation(self) -> Conversation:
        """The conversation, following the model picker and the system prompt as they are now."""
        if self.conversation.connection.model != self.model_picker.value:
            self.conversation.switch_to(self.connection.with_model(self.model_picker.value))
        self.conversation.set_system(self.system_prompt.value)
        return self.conversation

    def _add_bubble(self, role: str, speaker: str, text: str) -> widgets.HTML:
        align = "flex-end" if role == "user" else "flex-start"
        bubble = widgets.HTML(bubble_html(role, speaker, text),
                              layout=widgets.Layout(align_self=align, max_width="85%", margin="3px 0"))
        self.bubbles.children = [*self.bubbles.children, bubble]
        return bubble

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.panel._repr_mimebundle_(**kwargs)
        # Shown where widgets cannot run (and compared by nbval): one steady line instead of
        # the widget tree's repr.
        bundle["text/plain"] = _("Chat playground. {connection} Run this cell to show the panel: it needs a running "
                                 "kernel with ipywidgets, as in JupyterLab.").format(
            connection=self.connection.describe())
        return bundle


def show_playground(connection: Connection | None = None) -> Playground:
    """Show a chat playground for ``connection`` (default: the configured provider) and return it."""
    return Playground(connection).show()
