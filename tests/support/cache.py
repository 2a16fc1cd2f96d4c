"""Helpers of the response-cache tests: a counting provider and plaintext probes.

:class:`CountingProvider` is a fake of our own ``Provider`` interface: it
counts upstream calls, can hold them at a gate, fail, or answer slowly, and
numbers its answers so a test can tell which call an answer came from.
:class:`Rig` is one cache stage over a real diskcache folder, as one process
would have it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from component.cache.disk import DiskCacheBackend
from component.cache.guard import GuardedStore
from component.cache.memory import MemoryTier
from component.conversation import (
    Choice,
    Message,
    Output,
    Request,
    Response,
    ResultMessage,
    Role,
    TextPart,
    Usage,
)
from component.metrics import Metrics
from component.provider import Provider
from component.stages.cache import ResponseCache
from tests.support.sensitive import register

__all__ = [
    "PII_VALUES",
    "PROMPTS",
    "CountingProvider",
    "Rig",
    "ask",
    "event_count",
    "plaintext_in",
    "plaintext_in_folder",
]

#: Prompt texts and PII values the cache tests send; none may reach a store.
PROMPTS = (
    "Summarise the quarterly zebra migration report",
    "What is the capital of Atlantis?",
    "Tell me about the marmalade incident",
)
PII_VALUES = ("john.smith@example.com", "4111 1111 1111 1111", "+1 212 555 0187", "Jane Q. Doe")
# The session's leak check (tests/test_zz_leaks.py) looks for them in every log too.
register(*PII_VALUES)


def ask(text: str, **fields: object) -> Request:
    """A one-message request."""
    return Request(messages=(Message(Role.HUMAN, (TextPart(text),)),), **fields)  # type: ignore[arg-type]


class CountingProvider(Provider):
    """Counts calls; answers ``"<n>: <texts>"`` with usage recorded per call."""

    features = ("counting",)

    def __init__(
        self,
        *,
        model: str = "model-a",
        delay: float = 0.0,
        gate: asyncio.Event | None = None,
        error: Exception | None = None,
    ) -> None:
        self.model = model
        self.delay = delay
        self.gate = gate
        self.error = error
        self.calls = 0
        self.last: Request | None = None
        self.closed = False
        self.entered = asyncio.Event()

    def identity(self, request: Request) -> Mapping[str, str]:
        return {
            "provider": "counting",
            "endpoint": "http://127.0.0.1:9/v1",
            "model": request.metadata.get("model", self.model),
        }

    async def converse(self, request: Request) -> Response:
        self.calls += 1
        self.last = request
        number = self.calls
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        texts = [
            part.text
            for message in request.messages or ()
            for part in message.parts
            if isinstance(part, TextPart)
        ]
        content = f"{number}: {' '.join(texts)}"
        choice = Choice(finish_reason="stop", index=0, message=ResultMessage(content=content))
        return Response(
            outputs=(Output(stop_reason="stop", choices=(choice,)),),
            model=self.identity(request)["model"],
            context_id=request.context_id,
            usage=Usage(
                prompt_tokens=10 * number, completion_tokens=number, total_tokens=11 * number
            ),
        )

    async def aclose(self) -> None:
        self.closed = True


def event_count(metrics: Metrics, instance: str, backend: str, event: str) -> float:
    value = metrics.registry.get_sample_value(
        "pyllm_cache_events_total", {"instance": instance, "backend": backend, "event": event}
    )
    return value or 0.0


def plaintext_in(data: bytes, texts: Iterable[str]) -> list[str]:
    """The texts (UTF-8 or UTF-16, any case) found in ``data``."""
    lowered = data.lower()
    found = []
    for text in texts:
        for encoding in ("utf-8", "utf-16-le"):
            if text.lower().encode(encoding) in lowered:
                found.append(text)
                break
    return found


def plaintext_in_folder(folder: Path, texts: Iterable[str]) -> dict[str, list[str]]:
    """For every file under ``folder`` holding any of ``texts``: which ones."""
    wanted = tuple(texts)
    hits = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            found = plaintext_in(path.read_bytes(), wanted)
            if found:
                hits[str(path.relative_to(folder))] = found
    return hits


@dataclass
class Rig:
    """One cache stage over a folder, as one process would have it."""

    folder: Path
    provider: CountingProvider = field(default_factory=CountingProvider)
    metrics: Metrics = field(default_factory=Metrics)
    instance: str = "chat"
    ttl: float = 60.0
    secret: bytes | None = None
    retry: float = 0.05
    #: The in-process tier; off unless a test is about it, so hits reach the store.
    memory_entries: int = 0
    memory_age: float = 1.0
    cache: ResponseCache = field(init=False)

    def __post_init__(self) -> None:
        # Generous timeout: the suite shares two cores; faults here are real errors.
        backend = DiskCacheBackend(self.folder, size_limit=2**30, timeout=5.0)
        store = GuardedStore(
            backend,
            instance=self.instance,
            metrics=self.metrics,
            retry_interval=self.retry,
            secret=self.secret,
        )
        self.cache = ResponseCache(
            self.provider,
            instance=self.instance,
            store=store,
            ttl=self.ttl,
            metrics=self.metrics,
            memory=MemoryTier(entries=self.memory_entries, max_age=self.memory_age),
        )

    def events(self, event: str) -> float:
        return event_count(self.metrics, self.instance, "diskcache", event)

    def errors(self, operation: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "pyllm_cache_backend_errors_total", {"backend": "diskcache", "operation": operation}
        )
        return value or 0.0
