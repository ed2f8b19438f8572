"""Readable explanations of the failures a learner meets, shown instead of a bare stack trace.

``explain(error)`` turns an exception into two or three lines: what happened, why, and what
to do. ``install_explanations()`` makes a notebook show those lines whenever a cell fails
with such an error; the original exception stays available as ``last_error()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError

from .config import ConfigurationError

_last_error: BaseException | None = None


@dataclass(frozen=True)
class Explanation:
    """What happened, why, and what to do next, for one failure."""

    what: str
    why: str
    todo: str

    def __str__(self) -> str:
        return f"{self.what}\nWhy: {self.why}\nWhat to do: {self.todo}"


def _status(error: BaseException) -> int | None:
    return getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)


def explain(error: BaseException) -> Explanation | None:
    """An explanation of ``error``, or None when it is not one this collection knows."""
    if isinstance(error, ConfigurationError):
        return Explanation(f"The configuration cannot work: {error}",
                           "it is checked before any request is sent.",
                           "fix that variable in your .env file, then restart the kernel.")
    status = _status(error)
    if status == 410:
        return Explanation(
            "The service answered 410 Gone: GitHub Models was retired on 2026-07-30.",
            "the GitHub Models API no longer serves requests, whatever the token.",
            "set CHAT_PROVIDER=offline (practice), foundry (Microsoft Foundry) or local "
            "(Ollama, Foundry Local, llama.cpp) in .env; the notebooks stay the same.")
    return None


def last_error() -> BaseException | None:
    """The exception behind the last explanation shown in this notebook."""
    return _last_error


def _show_explanation(shell, etype, value, tb, tb_offset=None):  # IPython's custom-exception hook
    global _last_error
    explanation = explain(value)
    if explanation is None:
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    _last_error = value
    print(f"{etype.__name__}: {explanation}")
    print("(The original exception is kept: last_error() returns it.)")
    return None


def install_explanations() -> None:
    """In a notebook, show explanations instead of stack traces for the errors ``explain`` knows."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((HttpResponseError, ConfigurationError), _show_explanation)
