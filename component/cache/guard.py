"""Turns a cache store's faults into pass-through, never into failed requests.

The first failure starts an *episode*: one warning, then the store is left
alone for ``retry_interval`` (so a down or slow store costs one timeout per
interval, not one per request), after which a single call probes it. The
first success ends the episode with one info line. Every failure is counted
in ``pyllm_cache_backend_errors``; the rest is logged at debug.

The guard also owns the cache key secret: the configured ``cacheKeySecret``,
else the one shared through the store, fetched on first use and again after
each episode (a Redis restarted empty gets our secret back, via ``SET NX``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from component.cache.backend import CacheBackend, CacheBackendError, Stored, new_secret
from component.cache.codec import KeyRing
from component.metrics import Metrics

__all__ = ["UNAVAILABLE", "GuardedStore", "Unavailable"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Unavailable(enum.Enum):
    """The store was not asked (episode under way) or failed."""

    UNAVAILABLE = "unavailable"


UNAVAILABLE = Unavailable.UNAVAILABLE


class GuardedStore:
    """A :class:`CacheBackend` whose errors are absorbed, logged and counted."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        instance: str,
        metrics: Metrics,
        retry_interval: float,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._instance = instance
        self._metrics = metrics
        self._retry_interval = retry_interval
        self._clock = clock
        self._configured = secret is not None
        self._ring = KeyRing(secret) if secret is not None else None
        self._candidate = secret or new_secret()
        self._ring_lock = asyncio.Lock()
        #: When the store may be asked again; ``None`` when it is healthy.
        self._retry_at: float | None = None
        self._failures = 0

    @property
    def name(self) -> str:
        return self._backend.name

    @property
    def degraded(self) -> bool:
        return self._retry_at is not None

    async def keyring(self) -> KeyRing | None:
        """The keys to use now, or ``None`` when the shared secret is out of reach."""
        if self._ring is not None:
            return self._ring
        async with self._ring_lock:
            if self._ring is None:
                secret = await self._guarded("secret", self._backend.shared_secret, self._candidate)
                if isinstance(secret, bytes):
                    self._candidate, self._ring = secret, KeyRing(secret)
        return self._ring

    @property
    def ring(self) -> KeyRing | None:
        """The keys when already known, without asking the store."""
        return self._ring

    async def get(self, key: str) -> Stored | Unavailable | None:
        return await self._guarded("get", self._backend.get, key)

    async def set(self, key: str, value: bytes, ttl: float) -> bool:
        return await self._guarded("set", self._backend.set, key, value, ttl) is not UNAVAILABLE

    async def aclose(self) -> None:
        await self._backend.aclose()

    async def _guarded(
        self, operation: str, call: Callable[..., Awaitable[T]], *args: object
    ) -> T | Unavailable:
        if self._retry_at is not None:
            now = self._clock()
            if now < self._retry_at:
                return UNAVAILABLE
            # This call is the probe; the others keep passing through meanwhile.
            self._retry_at = now + self._retry_interval
        try:
            result = await call(*args)
        except CacheBackendError as exc:
            self._failed(exc.operation, exc)
            return UNAVAILABLE
        except Exception as exc:  # a store's fault, whatever it is, never fails a request
            self._failed(operation, exc)
            return UNAVAILABLE
        if self._retry_at is not None:
            log.info(
                "instance %r: response cache (%s) is back after %d failed calls",
                self._instance,
                self.name,
                self._failures,
            )
            self._retry_at, self._failures = None, 0
        return result

    def _failed(self, operation: str, exc: Exception) -> None:
        self._metrics.cache_backend_errors.labels(self.name, operation).inc()
        self._failures += 1
        if not self._configured:
            self._ring = None  # fetch (or re-install) the shared secret once back
        if self._retry_at is None:
            log.warning(
                "instance %r: response cache (%s) failed (%s), answering without it and "
                "retrying every %gs: %s",
                self._instance,
                self.name,
                operation,
                self._retry_interval,
                exc,
            )
        else:
            log.debug("response cache (%s) still failing (%s): %s", self.name, operation, exc)
        self._retry_at = self._clock() + self._retry_interval
