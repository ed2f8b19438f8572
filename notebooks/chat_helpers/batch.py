"""Many prompts (lesson 11): an async pacer, an answer cache on disk, and async clients.

    pacer = AsyncRequestPacer(requests=15, per_seconds=60)   # the free tier's rate
    async with pacer:
        response = await client.chat.completions.create(...)

    cache = AnswerCache("answer_cache/offline")
    key = cache.key(model, messages, temperature=0)
    answer = cache.get(key)            # None when this request was never answered
    cache.put(key, "The capital of Japan is Tokyo.")
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .connection import ENTRA_SCOPE, Connection, entra_credential
from .retries import PacingRule


class AsyncRequestPacer(PacingRule):
    """The async twin of ``RequestPacer`` (lesson 05): at most ``requests`` per ``per_seconds``,
    and at most ``concurrent`` at once if given, for tasks of one event loop.

    Wrap each request in ``async with pacer:``; a task waits there, without blocking the loop,
    until its request may go. As with ``RequestPacer``, a request counts from the moment it
    *ends*: by then the service has surely counted it, so a service counting arrivals in the
    same window never sees one too many, however long each request took.
    """

    def __init__(self, requests: int, per_seconds: float = 60, concurrent: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(requests, per_seconds, concurrent, clock)
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _condition(self) -> asyncio.Condition:
        # One condition per event loop: a pacer made in one cell may be used by a later asyncio.run.
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop:
            self._changed, self._loop = asyncio.Condition(), loop
        return self._changed

    async def __aenter__(self) -> AsyncRequestPacer:
        changed = self._condition()
        async with changed:
            while (wait := self._wait_needed()) != 0:
                try:
                    await asyncio.wait_for(changed.wait(), wait)
                except TimeoutError:
                    pass  # the oldest request left the window: look again
            self._in_flight += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        changed = self._condition()
        async with changed:
            self._in_flight -= 1
            self._ended.append(self._clock())
            changed.notify_all()


_KEY_FILE = re.compile(r"^[0-9a-f]{64}\.json$")


class AnswerCache:
    """Answers kept on disk, so asking the same thing again costs no request.

    One small JSON file per request in ``folder``, named by ``key()``: a SHA-256 of the model,
    the messages and the parameters, so any change to them is a new request. Keep one folder
    per provider: the same model name on two providers gives different answers.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(model: str, messages: Iterable[Any], **params: Any) -> str:
        """The key of a request: ``messages`` as dicts or SDK message objects, ``params`` such as
        ``temperature=0`` (a parameter given as None counts as not given)."""
        request = {"model": model, "messages": [_plain(message) for message in messages],
                   "params": {name: value for name, value in params.items() if value is not None}}
        text = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        if not _KEY_FILE.match(f"{key}.json"):
            raise ValueError("not a key made by AnswerCache.key()")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The answer stored for ``key``, or None."""
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))["answer"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
            return None  # never stored, or a file left half-written by an interrupted run

    def put(self, key: str, answer: Any) -> None:
        """Store ``answer`` (anything JSON can hold) for ``key``."""
        path = self._path(key)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written aside and then renamed: an interrupted run never leaves half an answer behind.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.folder, suffix=".tmp",
                                         delete=False) as file:
            json.dump({"answer": answer}, file, ensure_ascii=False)
        os.replace(file.name, path)

    def clear(self) -> None:
        """Forget every stored answer (only the files this cache wrote are removed)."""
        for path in self._files():
            path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        return [p for p in self.folder.glob("*.json") if _KEY_FILE.match(p.name)] if self.folder.is_dir() else []

    def __len__(self) -> int:
        return len(self._files())

    def __repr__(self) -> str:
        return f"AnswerCache({str(self.folder)!r}, {len(self)} answers)"


def _plain(message: Any) -> Any:
    """A message as plain JSON data, whether a dict or an SDK message object."""
    if hasattr(message, "as_dict"):
        return message.as_dict()
    if hasattr(message, "model_dump"):
        return message.model_dump(exclude_none=True)
    return dict(message) if isinstance(message, Mapping) else message


def most_in_any_window(times: Iterable[float], seconds: float) -> int:
    """The largest number of ``times`` inside any span of ``seconds`` (start included, end not):
    what a rate limit of "N per ``seconds``" is compared with."""
    ordered = sorted(times)
    return max((bisect_left(ordered, start + seconds) - index for index, start in enumerate(ordered)), default=0)


def async_inference_client(connection: Connection) -> Any:
    """An ``azure.ai.inference.aio.ChatCompletionsClient`` for the same provider, key and endpoint."""
    from azure.ai.inference.aio import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    if connection.key:
        key = AzureKeyCredential(connection.key.reveal())
        return ChatCompletionsClient(endpoint=connection.endpoint, credential=key)
    return ChatCompletionsClient(endpoint=connection.endpoint, credential=entra_credential(asynchronous=True),
                                 credential_scopes=[ENTRA_SCOPE])


def async_openai_client(connection: Connection, **options: Any) -> Any:
    """An ``openai.AsyncOpenAI`` client for the same provider, key and endpoint (``options``
    such as ``max_retries=0`` are passed on)."""
    from openai import AsyncOpenAI

    if connection.key:
        return AsyncOpenAI(base_url=connection.openai_base_url, api_key=connection.key.reveal(), **options)
    from azure.identity.aio import get_bearer_token_provider

    return AsyncOpenAI(base_url=connection.openai_base_url,
                       api_key=get_bearer_token_provider(entra_credential(asynchronous=True), ENTRA_SCOPE), **options)
