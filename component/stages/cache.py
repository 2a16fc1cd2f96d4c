"""The response cache: the outermost stage, so a hit costs no PII work and no upstream call.

On when the component sets ``cacheTTL`` (alias ``responseCacheTTL``, a Go
duration; ``0`` or unset: off). The store is a folder (``diskcache``, the
default) or Redis (``cacheBackend: redis``); see :mod:`component.cache.disk`
and :mod:`component.cache.redis` for their settings. Entries are named by an
HMAC of the request and sealed (encrypted) with a key derived from it; see
:mod:`component.cache.codec` for what the key covers. Callers steer the cache
per request with the metadata keys of :mod:`component.cache.control`.

Concurrent identical requests in one process make one upstream call
(:class:`component.singleflight.SingleFlight`); the shared call runs with the
first caller's request, deadline included, and its answer or error reaches
every caller; a caller that goes away does not cancel it for the others.

Across processes and pods nothing is coalesced; what is guaranteed is the
shared store: an answer is stored *before* it is returned, so any request that
starts after an answer was returned, in any process sharing the folder or the
Redis, is a hit (until the entry expires or is evicted). Concurrent identical
requests in N processes make at most N upstream calls.

Hot entries are also kept in a small in-process tier
(:class:`component.cache.memory.MemoryTier`, ``cacheMemoryEntries``, default
1024, 0 for none; ``cacheMemoryTTL``, default 1s), so that a repeated hit
skips the store's thread or network hop. It only mirrors the store (what was
read from it or written to it), never outlives an entry's expiry, and so a
``refresh`` made by another process is seen within ``cacheMemoryTTL``.

A store that fails (down, slow, corrupt, full, vanished) never fails a
request: :class:`component.cache.guard.GuardedStore` turns it into
pass-through and recovers when the store does.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from datetime import timedelta

from component.cache.backend import CacheBackend, Stored
from component.cache.codec import EntryKeys, UncacheableError, canonical_request, flight_key
from component.cache.control import CacheControl, Mode, is_control_key, parse_control
from component.cache.disk import DiskCacheBackend
from component.cache.entry import Answer
from component.cache.guard import GuardedStore
from component.cache.memory import MemoryTier
from component.conversation import Request, Response
from component.errors import InvalidSettingError
from component.metrics import Metrics
from component.provider import Provider
from component.resources import ProcessResources
from component.settings import Properties
from component.singleflight import SingleFlight

__all__ = ["ResponseCache"]

log = logging.getLogger(__name__)

_MIN_SECRET_CHARS = 16
# SQLite may wait for another process's write; a Redis answers in a millisecond or is in trouble.
_DEFAULT_TIMEOUT = {"diskcache": timedelta(seconds=1), "redis": timedelta(milliseconds=250)}
_DEFAULT_RETRY = timedelta(seconds=5)
_DEFAULT_MEMORY_ENTRIES = 1024
_DEFAULT_MEMORY_AGE = timedelta(seconds=1)


class ResponseCache(Provider):
    """Answers from the shared store when it can, else asks ``inner`` once."""

    def __init__(
        self,
        inner: Provider,
        *,
        instance: str,
        store: GuardedStore,
        ttl: float,
        metrics: Metrics,
        memory: MemoryTier | None = None,
    ) -> None:
        self._inner = inner
        self._instance = instance
        self._store = store
        self._ttl = ttl
        self._metrics = metrics
        self._memory = memory if memory is not None else MemoryTier(entries=0, max_age=0)
        self._flights: SingleFlight[tuple[bytes, float], Answer] = SingleFlight()
        self._corrupt_seen = False
        self.features = inner.features

    @classmethod
    def wrap(
        cls,
        inner: Provider,
        *,
        instance: str,
        properties: Properties,
        resources: ProcessResources,
    ) -> Provider:
        """``inner`` behind a response cache, or ``inner`` itself when caching is off."""
        ttl = properties.duration("cacheTTL", aliases=("responseCacheTTL",))
        if not ttl:
            return inner
        kind = properties.choice("cacheBackend", ("diskcache", "redis"), default="diskcache")
        timeout = properties.duration("cacheTimeout", _DEFAULT_TIMEOUT[kind], allow_zero=False)
        retry = properties.duration("cacheRetryInterval", _DEFAULT_RETRY, allow_zero=False)
        seconds = (timeout or _DEFAULT_TIMEOUT[kind]).total_seconds()
        secret = properties.secret("cacheKeySecret")
        if secret and len(secret) < _MIN_SECRET_CHARS:
            raise InvalidSettingError(
                "cacheKeySecret",
                f"is shorter than {_MIN_SECRET_CHARS} characters: use a long random value, "
                "such as the output of `openssl rand -hex 32`",
            )
        resources.redactor.register(secret)
        backend: CacheBackend
        if kind == "redis":
            # Imported here: redis.asyncio costs over half a second at start-up.
            from component.cache.redis import RedisCacheBackend  # noqa: PLC0415

            backend = RedisCacheBackend.from_properties(
                properties, timeout=seconds, redactor=resources.redactor
            )
        else:
            backend = DiskCacheBackend.from_properties(properties, timeout=seconds)
        store = GuardedStore(
            backend,
            instance=instance,
            metrics=resources.metrics,
            retry_interval=(retry or _DEFAULT_RETRY).total_seconds(),
            secret=secret.encode("utf-8") if secret else None,
        )
        memory_age = properties.duration("cacheMemoryTTL", _DEFAULT_MEMORY_AGE)
        memory = MemoryTier(
            entries=properties.integer("cacheMemoryEntries", _DEFAULT_MEMORY_ENTRIES, minimum=0),
            max_age=(memory_age or timedelta(0)).total_seconds(),
        )
        return cls(
            inner,
            instance=instance,
            store=store,
            ttl=ttl.total_seconds(),
            metrics=resources.metrics,
            memory=memory,
        )

    def identity(self, request: Request) -> dict[str, str]:
        return dict(self._inner.identity(request))

    async def converse(self, request: Request) -> Response:
        control = parse_control(request.metadata, default_ttl=self._ttl)
        if any(is_control_key(key) for key in request.metadata):
            # Ours alone: the stages and the provider inside never see them.
            kept = {k: v for k, v in request.metadata.items() if not is_control_key(k)}
            request = dataclasses.replace(request, metadata=kept)
        if control.mode is Mode.BYPASS:
            self._count("bypass")
            return await self._call_provider(request, "bypass")
        try:
            material = canonical_request(self._instance, self._inner.identity(request), request)
        except UncacheableError as exc:
            log.debug("instance %r: request not cacheable: %s", self._instance, exc)
            self._count("uncacheable")
            return await self._call_provider(request, "uncacheable")
        if control.mode is Mode.DEFAULT:
            remembered = self._remembered(material)
            if remembered is not None:
                self._count("hit")
                return remembered.for_caller(request.context_id)
        answer, joined = await self._flights.do(
            (flight_key(material), control.ttl),
            functools.partial(self._answer, request, material, control),
            fresh=control.mode is Mode.REFRESH,
        )
        if joined:
            self._count("coalesced")
            log.debug("instance %r: shared an identical call in flight", self._instance)
        return answer.for_caller(request.context_id)

    async def aclose(self) -> None:
        await self._flights.aclose()
        await self._store.aclose()
        await self._inner.aclose()

    def _remembered(self, material: bytes) -> Answer | None:
        """A hot answer from the memory tier, with no hop to the store's thread or network."""
        ring = self._store.ring
        if ring is None or not self._memory.enabled:
            return None
        return self._memory.get(ring.keys_for(material).lookup)

    async def _answer(self, request: Request, material: bytes, control: CacheControl) -> Answer:
        """One shared call: look up, else ask the provider and store before answering."""
        ring = await self._store.keyring()
        keys = None if ring is None else ring.keys_for(material)
        reason = "unavailable"
        if keys is not None and control.mode is Mode.REFRESH:
            reason = "refresh"
        elif keys is not None:
            found = await self._store.get(keys.lookup)
            if isinstance(found, Stored):
                try:
                    answer = keys.unseal(found.value)
                except ValueError as exc:
                    self._corrupt_entry(exc)
                else:
                    self._corrupt_seen = False
                    self._count("hit")
                    log.debug("instance %r: cache hit %s", self._instance, keys.lookup[:12])
                    self._memory.put(keys.lookup, answer, found.remaining)
                    return answer
                reason = "miss"
            elif found is None:
                reason = "miss"
        self._count(reason)
        response = await self._call_provider(request, reason)
        answer = Answer.of(response, request.context_id)
        if keys is not None and control.ttl > 0:
            await self._save(keys, answer, control.ttl)
        return answer

    async def _save(self, keys: EntryKeys, answer: Answer, ttl: float) -> None:
        if await self._store.set(keys.lookup, keys.seal(answer), ttl):
            self._memory.put(keys.lookup, answer, ttl)
            self._count("store")
            log.debug("instance %r: cache stored %s", self._instance, keys.lookup[:12])

    async def _call_provider(self, request: Request, reason: str) -> Response:
        # Tests count this line to count upstream calls; keep its wording.
        log.debug("instance %r: cache %s: calling the provider", self._instance, reason)
        return await self._inner.converse(request)

    def _corrupt_entry(self, exc: ValueError) -> None:
        self._metrics.cache_backend_errors.labels(self._store.name, "decode").inc()
        if not self._corrupt_seen:
            log.warning(
                "instance %r: response cache (%s) holds an unreadable entry, treated as a "
                "miss and overwritten: %s",
                self._instance,
                self._store.name,
                exc,
            )
            self._corrupt_seen = True

    def _count(self, event: str) -> None:
        self._metrics.cache_events.labels(self._instance, self._store.name, event).inc()
