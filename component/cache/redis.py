"""The ``redis`` response-cache store: one cache for every pod of the cluster.

Entries live under ``pyllm:cache:v1:<hmac>`` with Redis's own expiry; the
generated key secret under ``pyllm:cache:key-secret``, installed with
``SET NX`` so that every pod agrees on the first one written. Every command is
bounded by ``cacheTimeout`` (socket and connect timeouts, no client retries, and
an outer ``wait_for``): a Redis that is down or slow costs a request at most
that, after which the stage answers without the cache for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from component.cache.backend import SECRET_BYTES, CacheBackend, CacheBackendError, Stored
from component.errors import InvalidSettingError
from component.logs import SecretRedactor
from component.settings import Properties

__all__ = ["ENTRY_PREFIX", "SECRET_KEY", "RedisCacheBackend", "parse_host"]

T = TypeVar("T")

ENTRY_PREFIX = "pyllm:cache:v1:"
SECRET_KEY = "pyllm:cache:key-secret"  # noqa: S105 - a key name, not a secret
_DEFAULT_PORT = 6379


def parse_host(text: str) -> tuple[str, int]:
    """``host[:port]`` (``[v6]:port`` for IPv6) as Dapr's ``redisHost`` takes it."""
    host, port = text.strip(), _DEFAULT_PORT
    if host.startswith("["):
        inside, closed, rest = host[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(text)
        host = inside
        if rest:
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
        port = int(port_text)
    if not host or not 0 < port < 65536:
        raise ValueError(text)
    return host, port


class RedisCacheBackend(CacheBackend):
    """Entries in Redis, with Redis's own expiry."""

    name = "redis"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        db: int = 0,
        username: str = "",
        password: str = "",
        tls: bool = False,
        timeout: float,
    ) -> None:
        self._timeout = timeout
        self._client = redis.asyncio.Redis(
            host=host,
            port=port,
            db=db,
            username=username or None,
            password=password or None,
            ssl=tls,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # The stage retries later on its own; a client retry would only
            # multiply the time a request waits for a Redis that is down.
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
            client_name="pyllm-cache",
        )

    @classmethod
    def from_properties(
        cls, properties: Properties, *, timeout: float, redactor: SecretRedactor
    ) -> RedisCacheBackend:
        where = properties.required("redisHost", why="when cacheBackend is redis (host:port)")
        try:
            host, port = parse_host(where)
        except ValueError:
            raise InvalidSettingError(
                "redisHost", f"{where!r} is not host:port, such as redis-master:6379"
            ) from None
        password = properties.secret("redisPassword")
        redactor.register(password)
        return cls(
            host=host,
            port=port,
            db=properties.integer("redisDB", 0, minimum=0),
            username=properties.string("redisUsername"),
            password=password,
            tls=properties.boolean("redisTLS", False, aliases=("enableTLS",)),
            timeout=timeout,
        )

    async def get(self, key: str) -> Stored | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.get(ENTRY_PREFIX + key)
        pipe.pttl(ENTRY_PREFIX + key)
        value, pttl = await self._bounded("get", pipe.execute())
        if value is None:
            return None
        if not isinstance(value, bytes):
            raise CacheBackendError("get", "entry is not a string")
        return Stored(value, pttl / 1000 if isinstance(pttl, int) and pttl >= 0 else None)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        milliseconds = max(1, round(ttl * 1000))
        await self._bounded("set", self._client.set(ENTRY_PREFIX + key, value, px=milliseconds))

    async def shared_secret(self, candidate: bytes) -> bytes:
        await self._bounded("secret", self._client.set(SECRET_KEY, candidate.hex(), nx=True))
        stored = await self._bounded("secret", self._client.get(SECRET_KEY))
        try:
            # Not bytes: deleted between SET NX and GET; the next call tries again.
            secret = bytes.fromhex(stored.decode("ascii")) if isinstance(stored, bytes) else b""
        except ValueError:
            secret = b""
        if len(secret) != SECRET_BYTES:
            raise CacheBackendError(
                "secret", f"{SECRET_KEY} in Redis is malformed: delete it or set cacheKeySecret"
            )
        return secret

    async def aclose(self) -> None:
        # Closing: nothing is left to do with a broken or silent connection.
        with contextlib.suppress(TimeoutError, redis.exceptions.RedisError, OSError):
            await asyncio.wait_for(self._client.aclose(), self._timeout)

    async def _bounded(self, operation: str, command: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(command, self._timeout)
        except TimeoutError as exc:
            raise CacheBackendError(operation, f"no answer within {self._timeout:g}s") from exc
        except (redis.exceptions.RedisError, OSError) as exc:
            raise CacheBackendError(operation, f"{type(exc).__name__}: {exc}") from exc
