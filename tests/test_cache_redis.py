"""The response cache over a real ``redis-server`` (started per test on a free port).

Faults are real too: the server is killed (SIGKILL) or frozen (SIGSTOP) in the
middle of a run and brought back. At the end of every test, neither the
values Redis holds nor its RDB dump may contain a prompt or a PII value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from component.cache.guard import GuardedStore
from component.cache.redis import ENTRY_PREFIX, SECRET_KEY, RedisCacheBackend, parse_host
from component.metrics import Metrics
from component.stages.cache import ResponseCache
from tests.support.cache import (
    PII_VALUES,
    PROMPTS,
    CountingProvider,
    ask,
    event_count,
    plaintext_in,
)
from tests.support.redis_server import (
    RedisServer,
    redis_server_fixture,  # noqa: F401 - a fixture
)

BACKEND = "redis"


@dataclass
class Rig:
    server: RedisServer
    provider: CountingProvider = field(default_factory=CountingProvider)
    metrics: Metrics = field(default_factory=Metrics)
    timeout: float = 2.0
    retry: float = 0.05
    cache: ResponseCache = field(init=False)

    def __post_init__(self) -> None:
        host, port = parse_host(self.server.host)
        backend = RedisCacheBackend(host=host, port=port, timeout=self.timeout)
        store = GuardedStore(
            backend, instance="chat", metrics=self.metrics, retry_interval=self.retry
        )
        self.cache = ResponseCache(
            self.provider, instance="chat", store=store, ttl=60, metrics=self.metrics
        )

    def events(self, event: str) -> float:
        return event_count(self.metrics, "chat", BACKEND, event)

    def errors(self) -> float:
        return sum(
            self.metrics.registry.get_sample_value(
                "pyllm_cache_backend_errors_total", {"backend": BACKEND, "operation": op}
            )
            or 0.0
            for op in ("get", "set", "secret")
        )


@pytest.fixture
def server(redis_server: RedisServer) -> Iterator[RedisServer]:
    yield redis_server
    if redis_server.proc is not None and redis_server.proc.poll() is None:
        redis_server.resume()
        with redis_server.client() as client:
            values = b"".join(client.get(key) or b"" for key in client.keys("*"))
        texts = (*PROMPTS, *PII_VALUES)
        assert plaintext_in(values, texts) == []
        assert plaintext_in(redis_server.dump(), texts) == []


def content(response: object) -> str:
    return str(response.outputs[0].choices[0].message.content)  # type: ignore[attr-defined]


async def until_stored(rig: Rig, text: str) -> None:
    for _ in range(300):
        stored = rig.events("store")
        await rig.cache.converse(ask(text))
        if rig.events("store") > stored:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the cache never stored an answer again")


async def test_hit_and_miss_with_redis_expiry(server: RedisServer) -> None:
    rig = Rig(server)
    first = await rig.cache.converse(ask(PROMPTS[0]))
    second = await rig.cache.converse(ask(PROMPTS[0]))
    assert rig.provider.calls == 1
    assert second == first
    with server.client() as client:
        (key,) = client.keys(ENTRY_PREFIX + "*")
        assert 0 < client.pttl(key) <= 60_000
        assert len(key) == len(ENTRY_PREFIX) + 64
    await rig.cache.aclose()


async def test_pods_agree_on_one_generated_secret(server: RedisServer) -> None:
    pods = [Rig(server) for _ in range(4)]  # four pods, first requests all at once
    await asyncio.gather(*(pod.cache.converse(ask(PROMPTS[1])) for pod in pods))
    with server.client() as client:
        assert len(client.keys(ENTRY_PREFIX + "*")) == 1, "one secret, one key"
        assert len(bytes.fromhex(client.get(SECRET_KEY).decode())) == 32
    late = Rig(server)
    await late.cache.converse(ask(PROMPTS[1]))
    assert late.provider.calls == 0
    for pod in (*pods, late):
        await pod.cache.aclose()


async def test_redis_killed_mid_run_answers_everything_and_recovers(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(server)
    await rig.cache.converse(ask(PROMPTS[0]))
    server.kill()
    with caplog.at_level(logging.INFO, logger="component.cache.guard"):
        for text in (*PROMPTS, *PROMPTS):
            assert content(await rig.cache.converse(ask(text))).endswith(text)
        assert rig.errors() >= 1
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
        # Back, empty (no persistence): the secret is put back and entries stored again.
        server.start()
        await until_stored(rig, PROMPTS[2])
    assert "is back after" in caplog.text
    calls = rig.provider.calls
    await rig.cache.converse(ask(PROMPTS[2]))
    assert rig.provider.calls == calls
    newcomer = Rig(server)
    await newcomer.cache.converse(ask(PROMPTS[2]))
    assert newcomer.provider.calls == 0, "the restarted Redis got the same secret back"
    await rig.cache.aclose()
    await newcomer.cache.aclose()


async def test_a_frozen_redis_costs_a_timeout_then_passes_through(server: RedisServer) -> None:
    rig = Rig(server, timeout=0.3, retry=0.2)
    await rig.cache.converse(ask(PROMPTS[0]))
    server.pause()
    try:
        for text in PROMPTS:
            assert content(await rig.cache.converse(ask(text))).endswith(text)
        assert rig.errors() >= 1
        assert rig.events("unavailable") >= 1
    finally:
        server.resume()
    await until_stored(rig, PROMPTS[1])
    await rig.cache.aclose()


async def test_no_server_at_all_answers_everything(server: RedisServer) -> None:
    server.kill()
    rig = Rig(server)
    for text in PROMPTS:
        assert content(await rig.cache.converse(ask(text))).endswith(text)
    assert rig.provider.calls == len(PROMPTS)
    await rig.cache.aclose()


async def test_no_prompt_or_pii_reaches_redis(server: RedisServer) -> None:
    rig = Rig(server)
    for text in (*PROMPTS, *PII_VALUES):
        await rig.cache.converse(ask(text, metadata={"user": PII_VALUES[0]}))
    await rig.cache.aclose()
    # The server fixture greps every value and an uncompressed dump.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis", ("redis", 6379)),
        ("redis-master.cache:6380", ("redis-master.cache", 6380)),
        ("[::1]:7000", ("::1", 7000)),
        ("[::1]", ("::1", 6379)),
    ],
)
def test_redis_host_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_host(text) == expected


@pytest.mark.parametrize("text", ["redis:port", "redis:0", ":6379", "[::1", "[::1]x"])
def test_bad_redis_hosts(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the caller words the message
        parse_host(text)


async def test_entries_report_their_remaining_time(server: RedisServer) -> None:
    host, port = parse_host(server.host)
    backend = RedisCacheBackend(host=host, port=port, timeout=2.0)
    await backend.set("k" * 64, b"sealed", 30)
    stored = await backend.get("k" * 64)
    assert stored is not None
    assert stored.value == b"sealed"
    assert stored.remaining is not None
    assert 0 < stored.remaining <= 30
    assert await backend.get("x" * 64) is None
    await backend.aclose()
