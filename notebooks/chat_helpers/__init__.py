"""Helpers shared by the notebooks: one import line gives a lesson all it needs.

    from chat_helpers import connect, show_answer, show_usage

Read the modules beside this file to see how each piece works:
``config`` (what `.env` says), ``connection`` (the client), ``display`` (answers in the
notebook), ``conversation`` (history and context window), ``errors`` (readable failures),
``javascript`` (Node.js for lesson 07).
"""

from .batch import AnswerCache, AsyncRequestPacer, async_inference_client, async_openai_client, most_in_any_window
from .config import LESSON_MODELS, ConfigurationError, load_settings
from .connection import Connection, connect, offline_endpoint
from .conversation import Conversation, estimate_tokens
from .display import StreamedAnswer, finish_reason, show_answer, show_messages, show_usage, stream_answer, usage_line
from .errors import Explanation, check_answer, explain, explain_answer, last_error, show_error
from .javascript import ensure_node_packages
from .playground import Playground, show_playground
from .retries import RequestPacer, call_with_retry

__all__ = [
    "LESSON_MODELS", "ConfigurationError", "Connection", "Conversation", "Explanation", "Playground",
    "StreamedAnswer", "connect", "estimate_tokens", "explain", "finish_reason", "last_error",
    "load_settings", "offline_endpoint", "show_answer", "show_messages", "show_usage", "stream_answer",
    "show_playground", "usage_line",
    "RequestPacer", "call_with_retry", "check_answer", "explain_answer", "show_error",
    "ensure_node_packages",
    "AnswerCache", "AsyncRequestPacer", "async_inference_client", "async_openai_client", "most_in_any_window",
]
