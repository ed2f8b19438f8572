"""In a notebook, failures the collection knows are shown as their explanation, not a stack trace.

``connect()`` switches this on; ``explain_errors(False)`` switches it off to see the full
trace again. The original exception stays available as ``last_error()``.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import AzureError

from .config import ConfigurationError
from .explanations import BuiltInModelFailed, ServerNotAnswering, explain
from .failures import openai_module
from .language import _

_last_error: BaseException | None = None


def last_error() -> BaseException | None:
    """The exception behind the last explanation shown in this notebook."""
    return _last_error


def _show_explanation(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    global _last_error
    explanation = explain(value)
    if explanation is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return
    _last_error = value
    lines = [f"{etype.__name__}: {explanation.wrapped()}",
             _("(The original exception is kept: last_error() returns it.)")]
    # Published as the cell's error, so "Run all" stops here and tests see the failure. The
    # public showtraceback(exception_only=True) would add "use %tb to see the full traceback",
    # which points at the wrong exception; _showtraceback is what it calls to publish.
    shell._showtraceback(etype, str(explanation), lines)


def explain_errors(on: bool = True) -> None:
    """Switch the explanations on (``connect()`` does) or off, to see the full stack trace again.

    Off, a failing cell shows IPython's usual traceback; ``explain(error)`` still works by hand.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    if not on:
        shell.set_custom_exc((), None)
        return
    openai = openai_module()
    explained = (AzureError, ConfigurationError, ServerNotAnswering, BuiltInModelFailed)
    explained += (openai.OpenAIError,) if openai else ()
    shell.set_custom_exc(explained, _show_explanation)


def install_explanations() -> None:
    """Switch the explanations on, again after importing openai so that its errors are known too."""
    explain_errors(True)
