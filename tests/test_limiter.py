"""RequestPacer keeps a loop of requests within a rate and a concurrency, as the server counts them.

Each test runs the same loop twice against an endpoint enforcing the same limits: without the
pacer the server answers 429 (so the check can fail), with it never. Rates are counted from the
server's request log, not from the test's clock.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import UserMessage
from azure.core.credentials import AzureKeyCredential
from chat_helpers import RequestPacer

from offline_endpoint import OfflineEndpoint, Pacing, RateLimits, start_in_background
from tests.support import TEST_KEY, TEST_MODEL

QUESTION = [UserMessage(content="What is the capital of France?")]
WINDOW_SECONDS = 0.5
PER_WINDOW = 3


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of ``times`` inside any span of ``seconds`` (start included, end not)."""
    times = sorted(times)
    return max(bisect_left(times, start + seconds) - index for index, start in enumerate(times))


@pytest.fixture
def limited() -> Iterator[Callable[..., tuple[OfflineEndpoint, ChatCompletionsClient]]]:
    """``limited(limits, pacing=None)``: a fresh endpoint enforcing ``limits``, and a client for it."""
    started: list[tuple[OfflineEndpoint, ChatCompletionsClient]] = []

    def start(limits: RateLimits, pacing: Pacing | None = None) -> tuple[OfflineEndpoint, ChatCompletionsClient]:
        endpoint = start_in_background(limits=limits, pacing=pacing)
        client = ChatCompletionsClient(endpoint=endpoint.url, credential=AzureKeyCredential(TEST_KEY))
        started.append((endpoint, client))
        return endpoint, client

    yield start
    for endpoint, client in started:
        client.close()
        endpoint.stop()


def ask(client: ChatCompletionsClient, gate: AbstractContextManager[object]) -> int:
    """One request through ``gate``; its HTTP status (the SDK's own retries off, so a 429 shows)."""
    with gate:
        try:
            client.complete(messages=QUESTION, model=TEST_MODEL, retry_total=0)
            return 200
        except Exception as error:
            return getattr(error, "status_code", None) or 0


@pytest.mark.parametrize("paced", [False, True])
def test_a_loop_stays_within_the_rate_the_server_counts(limited, paced: bool) -> None:
    endpoint, client = limited(RateLimits.demo(PER_WINDOW, window_seconds=WINDOW_SECONDS))
    pacer = RequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS)

    statuses = [ask(client, pacer if paced else nullcontext()) for _ in range(7)]

    seen = [record.status for record in endpoint.requests]
    assert seen == statuses and len(seen) == 7
    if not paced:
        assert 429 in seen  # the same loop unpaced runs into the limit
        return
    assert seen == [200] * 7
    assert most_in_any_window([r.at for r in endpoint.requests], WINDOW_SECONDS) <= PER_WINDOW


@pytest.mark.parametrize("paced", [False, True])
def test_threads_stay_within_the_concurrency_the_server_allows(limited, paced: bool) -> None:
    # Streamed answers that take 0.1 s to start keep each request in flight long enough to overlap.
    endpoint, client = limited(RateLimits(concurrent=2), Pacing(first_token_seconds=0.1))
    pacer = RequestPacer(requests=100, per_seconds=60, concurrent=2)
    in_flight, most_in_flight, lock = [0], [0], threading.Lock()

    def stream_one(_: int) -> int:
        with pacer if paced else nullcontext():
            with lock:
                in_flight[0] += 1
                most_in_flight[0] = max(most_in_flight[0], in_flight[0])
            try:
                for _update in client.complete(messages=QUESTION, model=TEST_MODEL, stream=True, retry_total=0):
                    pass
                return 200
            except Exception as error:
                return getattr(error, "status_code", None) or 0
            finally:
                with lock:
                    in_flight[0] -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(stream_one, range(6)))

    if not paced:
        assert 429 in statuses
        return
    assert statuses == [200] * 6 and [r.status for r in endpoint.requests] == [200] * 6
    assert most_in_flight[0] == 2  # two at a time: bounded, and not needlessly one by one


def test_threads_sharing_a_pacer_keep_both_the_rate_and_the_concurrency(limited) -> None:
    endpoint, client = limited(RateLimits.demo(PER_WINDOW, window_seconds=WINDOW_SECONDS, concurrent=2))
    pacer = RequestPacer(requests=PER_WINDOW, per_seconds=WINDOW_SECONDS, concurrent=2)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: ask(client, pacer), range(8)))

    assert statuses == [200] * 8 and [r.status for r in endpoint.requests] == [200] * 8
    assert most_in_any_window([r.at for r in endpoint.requests], WINDOW_SECONDS) <= PER_WINDOW


@pytest.mark.parametrize("settings", [{"requests": 0}, {"requests": 1, "per_seconds": 0},
                                      {"requests": 1, "concurrent": 0}])
def test_a_pacer_that_could_never_let_a_request_go_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RequestPacer(**settings)  # type: ignore[arg-type]
