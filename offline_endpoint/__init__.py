"""The offline endpoint: a local stand-in for the GitHub Models chat completions API.

It speaks the service's HTTP API so the azure-ai-inference SDK, the openai SDK, curl and the
JavaScript client work against it unchanged. Its answers are scripted (``answers/*.toml``).

    from offline_endpoint import start_in_background
    endpoint = start_in_background()      # a free port on 127.0.0.1
    endpoint.url                          # e.g. "http://127.0.0.1:50123"
    endpoint.faults.add("retired")        # the next request answers 410
    endpoint.stop()

Standalone: ``python -m offline_endpoint --port 8000``.
"""

from __future__ import annotations

from .background import OfflineEndpoint, start_in_background
from .catalog import DEFAULT_MODEL, MODELS, find_model
from .faults import FAULTS
from .http1 import ConnectionLimits
from .limits import RateLimits, Window
from .server import FAULT_HEADER, Pacing, RequestRecord

__all__ = [
    "ConnectionLimits", "DEFAULT_MODEL", "FAULTS", "FAULT_HEADER", "MODELS", "OfflineEndpoint", "Pacing",
    "RateLimits", "RequestRecord", "Window", "find_model", "start_in_background",
]
