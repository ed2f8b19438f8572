"""``python -m builtin_model``: serve the built-in model until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import socket
import sys
import threading

from . import DEFAULT_CONTEXT_SIZE, DEFAULT_MAX_TOKENS, DEFAULT_PARALLEL, BuiltinModelError, start

KEY_VARIABLE = "BUILTIN_MODEL_API_KEY"
STOP_DRAIN_SECONDS = 2.0  # how long a stop waits for answers in progress before cutting them off


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m builtin_model",
        description="A real local model (llama.cpp) speaking the chat completions API, with no network.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 lets other machines in)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on, 0 for any free one (default 8080)")
    parser.add_argument("--api-key", action="append", default=[], metavar="KEY",
                        help=f"require this key (repeat for several); or set {KEY_VARIABLE}, which other "
                             "users of this machine cannot see in the process list")
    parser.add_argument("--model-file", metavar="PATH", help="a GGUF model file (default: the bundled SmolLM2-135M)")
    parser.add_argument("--model-name", metavar="NAME", help="the name answers carry (default: from the file)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the model (default 1)")
    parser.add_argument("--context-size", type=int, default=DEFAULT_CONTEXT_SIZE, metavar="TOKENS",
                        help=f"tokens shared by all slots (default {DEFAULT_CONTEXT_SIZE})")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="SLOTS",
                        help=f"requests answered at the same time (default {DEFAULT_PARALLEL})")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, metavar="N",
                        help=f"longest answer when a request gives no max_tokens (default {DEFAULT_MAX_TOKENS})")
    args = parser.parse_args(argv)

    stopped = threading.Event()
    # Set before the model loads, so a stop asked for meanwhile is kept, not fatal. Both set
    # explicitly: a shell starting this in the background may have SIGINT ignored.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopped.set())

    keys = list(args.api_key)
    if os.environ.get(KEY_VARIABLE, "").strip():
        keys.append(os.environ[KEY_VARIABLE].strip())
    try:
        model = start(args.model_file, model_name=args.model_name, threads=args.threads,
                      context_size=args.context_size, parallel=args.parallel, default_max_tokens=args.max_tokens,
                      api_keys=keys, host=args.host, port=args.port)
    except BuiltinModelError as error:
        print(f"Cannot start the built-in model: {error}", file=sys.stderr)
        return 1

    source = "bundled" if model.is_bundled else "file"
    print(f"Built-in model {model.model_name} ({source}: {model.model_file})", flush=True)
    print(f"Serving the chat completions API at {model.base_url}", flush=True)
    if not _is_loopback(args.host):
        room = _this_machines_address() or "THIS-MACHINE-IP"
        print(f"Other machines use http://{room}:{model.port}/v1", flush=True)
        print(f"Warning: listening on {args.host}: other machines can reach this server over plain http, "
              "which anyone on the network can read.", file=sys.stderr, flush=True)
        if not model.requires_key:
            print("Warning: no key is required, so anyone who can reach it can use it (add --api-key).",
                  file=sys.stderr, flush=True)
    print(f"{model.context_size} tokens of context in {model.parallel} slots of {model.slot_context}, "
          f"{model.threads} thread(s), answers of at most {model.default_max_tokens} tokens unless a request "
          "says otherwise.", flush=True)
    print(("A key is required (Authorization: Bearer KEY)." if model.requires_key else "Any key or none is accepted.")
          + " Press Ctrl-C to stop.", flush=True)

    stopped.wait()
    try:
        model.stop(drain_timeout=STOP_DRAIN_SECONDS)
    except BuiltinModelError:
        # llama.cpp cannot stop while it answers; ending the process closes every connection
        # and frees the port at once.
        print("Stopped, cutting off the answers still in progress.", flush=True)
        sys.stderr.flush()
        os._exit(0)
    print("Stopped.", flush=True)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _this_machines_address() -> str | None:
    """This machine's address on its network, as others would use it (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


if __name__ == "__main__":
    sys.exit(main())
