"""``python -m offline_endpoint``: serve the offline endpoint until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import FAULT_HEADER, Pacing, RateLimits, start_in_background
from .answers import DEFAULT_ANSWERS
from .background import is_loopback


def exposure_warning(host: str, has_keys: bool, allow_fault_header: bool) -> str | None:
    """What to tell whoever starts the endpoint on an address other machines can reach, if anything."""
    if is_loopback(host):
        return None
    risks = ["any key is accepted (pass --api-key)"] if not has_keys else []
    if allow_fault_header:
        risks.append(f"any client can ask for faults with {FAULT_HEADER}")
    risks_text = f": {' and '.join(risks)}" if risks else ""
    return (f"Warning: listening on {host or 'every address'}, so other machines may reach this endpoint"
            f"{risks_text}. Use --host 127.0.0.1 to keep it on this machine.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline_endpoint",
        description="A local stand-in for the GitHub Models chat completions API, with scripted answers.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on, 0 for any free one (default 8000)")
    parser.add_argument("--rate-limits", choices=["off", "free-tier"], default="off",
                        help="enforce GitHub Models' published free-tier limits (default off)")
    parser.add_argument("--first-token-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before the first streamed token (default 0)")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, metavar="N",
                        help="stream at most N tokens per second, 0 for no limit (default 0)")
    parser.add_argument("--answers", action="append", default=[], metavar="FILE",
                        help="also answer from this .toml file (the format of answers/*.toml); repeatable")
    parser.add_argument("--api-key", action="append", default=[], metavar="KEY", dest="api_keys",
                        help="accept only this key (repeatable: any of them); default: any non-empty key")
    parser.add_argument("--allow-fault-header", action="store_true",
                        help=f"let any client ask for a fault with the {FAULT_HEADER} header (default off)")
    args = parser.parse_args(argv)
    if not all(args.api_keys):
        parser.error("an --api-key cannot be empty")

    for path in args.answers:  # checked first, so a bad file is not reported as a port problem
        try:
            DEFAULT_ANSWERS.with_files([path])
        except (OSError, ValueError, KeyError) as error:  # tomllib's decode error is a ValueError
            print(f"Cannot use answers from {path}: {error}", file=sys.stderr)
            return 1
    stopped = threading.Event()
    # Before the URL is printed, so a Ctrl-C the moment it appears stops cleanly. Both set
    # explicitly: a shell starting this in the background may have SIGINT ignored.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopped.set())
    try:
        endpoint = start_in_background(
            args.host, args.port,
            pacing=Pacing(args.first_token_delay, args.tokens_per_second),
            limits=RateLimits.free_tier() if args.rate_limits == "free-tier" else None,
            answer_files=args.answers,
            allow_fault_header=args.allow_fault_header,
            api_keys=args.api_keys,
        )
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    if warning := exposure_warning(args.host, bool(args.api_keys), args.allow_fault_header):
        print(warning, file=sys.stderr, flush=True)
    print(f"Offline endpoint (scripted answers) listening on {endpoint.url}", flush=True)
    keys = "one of the keys given with --api-key" if args.api_keys else "any key"
    print(f"Use it as the endpoint URL with {keys}. Press Ctrl-C to stop.", flush=True)
    stopped.wait()
    endpoint.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
