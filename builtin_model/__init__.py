"""The built-in local model: llama.cpp's server on a small GGUF model, inside this process.

A real model with no account and no network: the bundled SmolLM2-135M-Instruct (98 MB) by
default, or any GGUF file you name. It speaks the chat completions API at ``base_url``, so the
azure-ai-inference SDK, the openai SDK, curl and the JavaScript client work against it.

    from builtin_model import start
    model = start()                  # a free port on 127.0.0.1, ready when this returns
    model.base_url                   # e.g. "http://127.0.0.1:50123/v1"
    model.model_name                 # "SmolLM2-135M-Instruct"
    model.stop()                     # or let it end with the process

Needs the packages in requirements-model.txt (``pip install --no-deps -r requirements-model.txt``).
Standalone: ``python -m builtin_model --port 8080``.
"""

from __future__ import annotations

from .errors import INSTALL_COMMAND, BuiltinModelError
from .server import (
    DEFAULT_CONTEXT_SIZE,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PARALLEL,
    BuiltinServer,
    start,
)
from .weights import BUNDLED_MODEL_NAME, bundled_model_file, check_model_file

__all__ = [
    "BUNDLED_MODEL_NAME", "DEFAULT_CONTEXT_SIZE", "DEFAULT_MAX_TOKENS", "DEFAULT_PARALLEL", "INSTALL_COMMAND",
    "BuiltinModelError", "BuiltinServer", "bundled_model_file", "check_model_file", "start",
]
