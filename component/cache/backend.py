"""The one small interface every response-cache store implements.

The cache stage only ever stores opaque, already encrypted bytes under HMAC
keys, so a store needs four operations and no knowledge of requests. A store
reports every failure as :class:`CacheBackendError`; the stage's guard turns
those into pass-through, never into a failed request.
"""

from __future__ import annotations

import abc
import secrets
from dataclasses import dataclass

__all__ = ["SECRET_BYTES", "CacheBackend", "CacheBackendError", "Stored", "new_secret"]

#: Length of a generated cache key secret (HMAC-SHA-256 key size).
SECRET_BYTES = 32


class CacheBackendError(Exception):
    """A cache store could not do what was asked (down, slow, corrupt, full...).

    Not a :class:`component.errors.PyllmError` on purpose: it never leaves the
    cache stage, which answers without the cache instead.
    """

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation


@dataclass(frozen=True, slots=True)
class Stored:
    """An entry as read from a store."""

    value: bytes
    #: Seconds until the store lets it expire; ``None`` when it does not say.
    remaining: float | None = None


class CacheBackend(abc.ABC):
    """A shared store of cache entries with per-entry expiry."""

    #: Bounded label for metrics and logs ("diskcache", "redis").
    name: str = ""

    @abc.abstractmethod
    async def get(self, key: str) -> Stored | None:
        """The entry stored under ``key``, or ``None`` when absent or expired."""

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (> 0)."""

    @abc.abstractmethod
    async def shared_secret(self, candidate: bytes) -> bytes:
        """The cache key secret every user of this store agrees on.

        If the store holds none yet, ``candidate`` is installed atomically (the
        first writer wins) and the winning secret is returned, so every process
        and pod sharing the store derives the same keys.
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections, files and threads."""


def new_secret() -> bytes:
    """A fresh random cache key secret."""
    return secrets.token_bytes(SECRET_BYTES)
