"""Fixtures for the offline endpoint's tests: one endpoint per session, clients made on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.core.credentials import AzureKeyCredential
from chat_helpers import Connection, connect, practice_endpoint
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from offline_endpoint import OfflineEndpoint, Pacing, start_in_background
from tests.support import TEST_KEY, TEST_MODEL


@pytest.fixture(scope="session")
def stand_in_session() -> Iterator[OfflineEndpoint]:
    """One offline endpoint shared by the whole session (no rate limits, no pacing, faults by header)."""
    with start_in_background(allow_fault_header=True) as endpoint:
        yield endpoint


@pytest.fixture
def stand_in(stand_in_session: OfflineEndpoint) -> Iterator[OfflineEndpoint]:
    """The session's endpoint with no queued faults and no pacing, left the same way afterwards."""
    endpoint = stand_in_session
    endpoint.faults.clear()
    endpoint.pacing = Pacing()
    yield endpoint
    endpoint.faults.clear()
    endpoint.pacing = Pacing()


@pytest.fixture
def make_chat_client(stand_in: OfflineEndpoint) -> Iterator[Callable[..., ChatCompletionsClient]]:
    """``make_chat_client(base_path="/inference", **client_options)``: a sync SDK client, closed after the test."""
    clients: list[ChatCompletionsClient] = []

    def make(base_path: str = "/inference", **options: object) -> ChatCompletionsClient:
        options.setdefault("model", TEST_MODEL)
        client = ChatCompletionsClient(
            endpoint=stand_in.url + base_path, credential=AzureKeyCredential(TEST_KEY), **options
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    """An IPython shell, so the helpers' displays are captured the way a notebook receives them."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture
def chat() -> Iterator[Connection]:
    """The notebooks' connection (``connect()``, to their own offline endpoint) with no faults queued
    before or after the test; its client is closed afterwards."""
    practice_endpoint().faults.clear()
    connection = connect(quiet=True)
    yield connection
    connection.client.close()
    practice_endpoint().faults.clear()
