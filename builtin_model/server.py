"""llama.cpp's own HTTP server, run inside this Python process by the ``xllamacpp`` package.

Nothing is spawned: the server's threads belong to this process, so it ends when the process
ends and can never be left behind as an orphan. Facts about ``xllamacpp.Server`` this module is
built around (measured with xllamacpp 2026.10.11549):

- Its constructor returns once the model is loaded, and holds the GIL until then (about 0.5 s
  for the bundled model): no other Python thread runs meanwhile.
- It has no ``stop()``. Deleting it stops the server and frees the port, but the deletion waits
  forever (holding the GIL, so the whole process freezes) if any request is still being answered,
  and sometimes also when it comes right after the start, before the server's loop has run.
  ``BuiltinServer.stop()`` therefore waits for the loop to have answered once, and refuses to stop
  while requests are in flight.
- While a streamed answer waits for its first token, llama.cpp can send SSE comment lines
  (``:``) as keep-alive pings, and the azure-ai-inference SDK rejects any line that is not
  ``data: ...``. Pings are switched off here for that reason.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import ipaddress
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import INSTALL_COMMAND, BuiltinModelError
from .weights import BUNDLED_MODEL_NAME, bundled_model_file, check_model_file, is_bundled

DEFAULT_CONTEXT_SIZE = 4096  # tokens, shared by the slots
DEFAULT_PARALLEL = 4  # slots: requests answered at the same time
DEFAULT_MAX_TOKENS = 512  # a request without max_tokens gets at most this many tokens
DEFAULT_READY_TIMEOUT = 30.0  # seconds for /health to answer 200 once the model is loaded
DEFAULT_DRAIN_TIMEOUT = 5.0  # seconds stop() waits for requests in flight to finish
SLOT_GRANULARITY = 256  # llama.cpp rounds each slot's context up to a multiple of this
# A streaming client holds an HTTP thread for its whole answer, and llama.cpp's default pool
# (parallel + 2 on a small machine) would leave a workshop room's other clients queued unseen.
MIN_HTTP_THREADS = 32
# llama.cpp keeps finished prompts in RAM to reuse them; its default allows 8 GiB.
PROMPT_CACHE_MIB = 256
METRIC_NAMES = ("llamacpp:requests_processing", "llamacpp:requests_deferred")


class BuiltinServer:
    """A running built-in model. Use ``start()`` to get one.

    It serves until ``stop()`` or until the process ends, whichever comes first.
    """

    def __init__(self, server: Any, *, model_file: Path, model_name: str, host: str, port: int,
                 context_size: int, parallel: int, threads: int, default_max_tokens: int,
                 requires_key: bool) -> None:
        self._server: Any = server
        self._lock = threading.Lock()
        self.model_file = model_file
        self.model_name = model_name
        self.is_bundled = is_bundled(model_file)
        self.host = host
        self.port = port
        self.context_size = context_size
        self.parallel = parallel
        self.slot_context = context_size // parallel
        self.threads = threads
        self.default_max_tokens = default_max_tokens
        self.requires_key = requires_key
        # A server still running at interpreter exit can crash the exit (C++ threads outlive
        # the objects they use), so an idle one is stopped first.
        atexit.register(self._stop_at_exit)

    @property
    def url(self) -> str:
        """The server's root URL on this machine, e.g. ``http://127.0.0.1:50123`` (``/health`` is there)."""
        return f"http://{_client_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:50123/v1``."""
        return self.url + "/v1"

    @property
    def running(self) -> bool:
        return self._server is not None

    def requests_in_flight(self) -> int:
        """Requests being answered or waiting for a free slot, as the server counts them."""
        server = self._server
        if server is None:
            return 0
        metrics = server.handle_metrics()
        if isinstance(metrics, bytes):
            metrics = metrics.decode()
        total = 0
        for line in metrics.splitlines():
            name, _, value = line.partition(" ")
            if name in METRIC_NAMES:
                total += int(float(value))
        return total

    def stop(self, drain_timeout: float = DEFAULT_DRAIN_TIMEOUT) -> None:
        """Stop serving and free the port, once no request is in flight.

        Waits up to ``drain_timeout`` seconds for requests to finish. If some are still running
        then, raises ``BuiltinModelError`` and keeps serving: llama.cpp would otherwise wait for
        them forever. Calling it again after it stopped does nothing.
        """
        with self._lock:
            if self._server is None:
                return
            deadline = time.monotonic() + drain_timeout
            while (busy := self.requests_in_flight()) > 0:
                if time.monotonic() >= deadline:
                    raise BuiltinModelError(
                        f"the built-in model is still answering {busy} request(s), and llama.cpp cannot stop "
                        f"until they finish: try again when they have, or end the process")
                time.sleep(0.05)
            atexit.unregister(self._stop_at_exit)
            self._server = None  # the last reference: deleting it stops llama.cpp and frees the port

    def _stop_at_exit(self) -> None:
        try:
            self.stop(drain_timeout=1.0)
        except BuiltinModelError:
            pass  # requests still running: the process is ending anyway, and with it the server

    def __enter__(self) -> BuiltinServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"BuiltinServer(base_url={self.base_url!r}, model_name={self.model_name!r}, {state})"


def start(model_file: str | Path | None = None, *, model_name: str | None = None, threads: int = 1,
          context_size: int = DEFAULT_CONTEXT_SIZE, parallel: int = DEFAULT_PARALLEL,
          default_max_tokens: int = DEFAULT_MAX_TOKENS, api_keys: Iterable[str] = (),
          host: str = "127.0.0.1", port: int = 0, ready_timeout: float = DEFAULT_READY_TIMEOUT) -> BuiltinServer:
    """Start llama.cpp's server on a GGUF model in this process and return it once it answers.

    ``model_file=None`` runs the bundled SmolLM2-135M-Instruct. ``threads=1`` is the fastest on a
    busy 2-core machine. ``context_size`` tokens are split evenly between ``parallel`` slots, and
    each slot's share must be a multiple of 256. A request without ``max_tokens`` gets at most
    ``default_max_tokens``; a larger ``max_tokens`` is allowed, but no answer outgrows its slot's
    context. With ``api_keys``, every route but ``/health`` needs one of them. ``port=0`` picks a
    free port.
    """
    _check_settings(threads, context_size, parallel, default_max_tokens)
    keys = _check_keys(api_keys)
    xllamacpp = _import_xllamacpp()
    path = bundled_model_file() if model_file is None else check_model_file(model_file)
    name = model_name or (BUNDLED_MODEL_NAME if is_bundled(path) else path.name.removesuffix(".gguf"))
    _check_can_listen(host, port)

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {name}  # without an alias, answers would name the file's full path
    params.offline = True  # never reach for the network, whatever the file or settings say
    params.hostnames = [host]
    params.port = port
    params.n_ctx = context_size
    params.n_parallel = parallel
    params.n_predict = default_max_tokens
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_threads_http = max(MIN_HTTP_THREADS, parallel + 2)
    params.cache_ram_mib = PROMPT_CACHE_MIB
    params.sse_ping_interval = 0  # see the module's docstring: the azure SDK rejects pings
    params.api_keys = list(keys)
    params.endpoint_metrics = True  # counts only; stop() reads them to know whether requests are in flight
    params.endpoint_slots = False  # /slots would show every slot's prompt to anyone who can connect
    params.ui = False  # the browser chat page is not part of this course
    params.verbosity = 0  # quiet: a notebook or a terminal shows only what this package prints

    try:
        server = xllamacpp.Server(params)
    except RuntimeError:  # llama.cpp's own message says only "please check the input params"
        raise BuiltinModelError(f"llama.cpp could not load the model file {path}: it is a GGUF file, but "
                                f"not one this llama.cpp build can run, or there is not enough memory") from None
    _keep_python_signal_handlers()
    # The loop that answers requests starts just after the constructor returns; deleting the
    # server before it ran can hang, so wait for it to answer once (metrics go through it).
    server.handle_metrics()
    address = server.listening_address
    if isinstance(address, bytes):
        address = address.decode()
    builtin = BuiltinServer(server, model_file=path, model_name=name, host=host,
                            port=int(address.rsplit(":", 1)[1]), context_size=context_size, parallel=parallel,
                            threads=threads, default_max_tokens=default_max_tokens, requires_key=bool(keys))
    try:
        _wait_until_healthy(builtin.url, ready_timeout)
    except BuiltinModelError:
        builtin.stop()
        raise
    return builtin


def _check_settings(threads: int, context_size: int, parallel: int, default_max_tokens: int) -> None:
    for label, value in (("threads", threads), ("parallel", parallel), ("default_max_tokens", default_max_tokens)):
        if value < 1:
            raise BuiltinModelError(f"{label} must be at least 1, not {value}")
    slot = context_size / parallel
    if slot < SLOT_GRANULARITY or slot % SLOT_GRANULARITY:
        raise BuiltinModelError(
            f"context_size {context_size} gives each of the {parallel} slots {slot:g} tokens; llama.cpp rounds "
            f"a slot up to a multiple of {SLOT_GRANULARITY}, so pick a context_size that is {parallel} times one")


def _check_keys(api_keys: Iterable[str]) -> tuple[str, ...]:
    keys = (api_keys,) if isinstance(api_keys, str) else tuple(api_keys)
    for key in keys:
        # The key itself stays out of the message: it may be a real one.
        if not isinstance(key, str) or not key or key != key.strip() or not key.isprintable():
            raise BuiltinModelError("an API key must be a non-empty string, without control characters "
                                    "or spaces around it")
    return keys


def _import_xllamacpp() -> Any:
    if importlib.util.find_spec("xllamacpp") is None:
        raise BuiltinModelError(f"the built-in model's server (xllamacpp) is not installed: run {INSTALL_COMMAND}")
    try:
        return importlib.import_module("xllamacpp")
    except ImportError as error:
        raise BuiltinModelError(f"xllamacpp is installed but cannot be loaded ({error})") from None


def _check_can_listen(host: str, port: int) -> None:
    """Say "port taken" or "no such address" here: llama.cpp's error would not tell them from a bad model."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as llama.cpp's server does
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise BuiltinModelError(f"cannot listen on {host}:{port} ({reason})") from None


def _keep_python_signal_handlers() -> None:
    """Put Python's handlers for Ctrl-C and SIGTERM back in charge at the C level.

    Older xllamacpp builds installed llama.cpp's own handlers while starting, which turned
    Ctrl-C (and Jupyter's interrupt button) into "shut the model down". Only the main thread
    may set handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(stop_signal)
        if handler is not None:  # None: set outside Python, nothing to put back
            signal.signal(stop_signal, handler)


def _client_host(host: str) -> str:
    """The address a client on this machine uses to reach a server listening on ``host``."""
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
    host = wildcard.get(host, host)
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass  # a name such as localhost
    return host


def _wait_until_healthy(url: str, timeout: float) -> None:
    """Wait for GET /health to answer 200 (it answers 503 while a model loads)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # this machine: never via a proxy
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            with opener.open(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except OSError as error:
            last = str(getattr(error, "reason", error))
        if time.monotonic() >= deadline:
            raise BuiltinModelError(f"the built-in model at {url} was not ready after {timeout:g} s (/health: {last})")
        time.sleep(0.1)
