"""Helpers shared by the notebooks: one import line gives a lesson all it needs.

    from chat_helpers import connect, show_answer, show_usage

Read the modules beside this file to see how each piece works: ``config`` (what `.env`
says), ``connection`` (the client, and the servers it may start), ``display`` (answers in
the notebook), ``conversation`` (history and context window), ``explanations`` (readable
failures, texts in ``explanations.toml``), ``failures`` (what a failed call tells), ``ipython_hook``
(explanations instead of stack traces), ``retries`` (rate limits), ``playground`` (lesson 04),
``javascript`` (Node.js for lesson 07). Facts about the models and providers live in the
``model_facts`` package, shared with the offline endpoint.
"""

from model_facts import LESSON_MODELS

from .batch import AnswerCache, AsyncRequestPacer, async_inference_client, async_openai_client, most_in_any_window
from .config import ConfigurationError, load_settings
from .connection import Connection, connect, practice_endpoint, practice_fault
from .conversation import Conversation, estimate_tokens
from .display import (
    ModelAnswer,
    StreamedAnswer,
    finish_reason,
    read_stream,
    show_answer,
    show_messages,
    show_usage,
    stream_answer,
    usage_line,
)
from .explanations import Explanation, check_answer, explain, explain_answer, show_error
from .ipython_hook import explain_errors, last_error
from .javascript import ensure_node_packages
from .playground import Playground, show_playground
from .retries import RequestPacer, call_with_retry

__all__ = [
    "AnswerCache", "AsyncRequestPacer", "ConfigurationError", "Connection", "Conversation", "Explanation",
    "LESSON_MODELS", "ModelAnswer", "Playground", "RequestPacer", "StreamedAnswer", "async_inference_client",
    "async_openai_client", "call_with_retry", "check_answer", "connect", "ensure_node_packages",
    "estimate_tokens", "explain", "explain_answer", "explain_errors", "finish_reason", "last_error",
    "load_settings", "most_in_any_window", "practice_endpoint", "practice_fault",
    "read_stream", "show_answer", "show_error", "show_messages", "show_playground", "show_usage",
    "stream_answer", "usage_line",
]
