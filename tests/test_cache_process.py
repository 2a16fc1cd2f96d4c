"""The response cache through the real component process, over its Unix socket.

Upstream calls are observed two ways: the component's Prometheus counters
(``pyllm_cache_events``: miss, hit, coalesced...) and its debug log, where the
cache stage writes "calling the provider" once per call it lets through. The
echo provider with ``echoDelay`` is the slow upstream.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Self

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from component.pb import conversation_pb2 as pb
from tests.support.cache import PII_VALUES, PROMPTS, plaintext_in, plaintext_in_folder
from tests.support.component import ROOT, ComponentClient, ComponentProcess
from tests.support.daprd import free_port
from tests.support.redis_server import (
    RedisServer,
    redis_server_fixture,  # noqa: F401 - a fixture
)
from tests.test_server import converse_request, text

UPSTREAM_CALL = "calling the provider"
SECRETS = (*PROMPTS, *PII_VALUES)
#: A prompt carrying PII; the echo provider answers it back, so answers hold it too.
PII_PROMPT = f"Write to {PII_VALUES[0]} about card {PII_VALUES[1]}"


class Component(ComponentProcess):
    """The component with debug logs and its own metrics port."""

    def __init__(self, sockets_folder: Path, name: str) -> None:
        self.metrics_port = free_port()
        super().__init__(
            sockets_folder,
            name=name,
            args=["--log-level", "debug", "--metrics-port", str(self.metrics_port)],
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def upstream_calls(self, instance: str) -> int:
        marker = f"instance {instance!r}: cache "
        return sum(
            1 for line in self.logs().splitlines() if marker in line and UPSTREAM_CALL in line
        )

    def cache_events(self, instance: str) -> defaultdict[str, float]:
        return _samples(self.metrics_port, "pyllm_cache_events_total", "event", instance)

    def cache_errors(self) -> defaultdict[str, float]:
        return _samples(self.metrics_port, "pyllm_cache_backend_errors_total", "operation")


class NoFileGrowthComponent(Component):
    """The component unable to add a byte to any file, as on a full or read-only disk.

    RLIMIT_FSIZE=0 is set on the running process (before the cache opens its
    folder, which it does on first use); its logs go through a pipe that the
    test copies to the log file, since the process itself cannot write one.
    """

    def start(self, *, timeout: float = 30.0) -> NoFileGrowthComponent:
        self.sockets_folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "component",
                "--sockets-folder",
                str(self.sockets_folder),
                "--name",
                self.name,
                "--log-level",
                "debug",
                "--metrics-port",
                str(self.metrics_port),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._copy_logs, daemon=True).start()
        self.wait_ready(timeout)
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (0, hard))
        return self

    def _copy_logs(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("ab") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()


def _samples(
    port: int, name: str, label: str, instance: str | None = None
) -> defaultdict[str, float]:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    counts: defaultdict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("instance", instance) == instance:
                counts[sample.labels[label]] += sample.value
    return counts


def disk_settings(folder: Path, **extra: str) -> dict[str, str]:
    return {
        "provider": "echo",
        "cacheTTL": "10m",
        "cacheDir": str(folder),
        # Generous bounds: the suite shares two cores with other processes.
        "cacheTimeout": "2s",
        "cacheRetryInterval": "100ms",
        **extra,
    }


def ask(prompt: str, **metadata: str) -> pb.ConversationConverseRequest:
    return converse_request(text(pb.CONVERSATION_ROLE_HUMAN, prompt), metadata=metadata)


def answer_of(response: pb.ConversationConverseResponse) -> str:
    return response.outputs[0].choices[0].message.content


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cache"
    yield path
    if path.exists():
        assert plaintext_in_folder(path, SECRETS) == {}


# Two processes for the whole module: starting one takes seconds on a busy machine.
@pytest.fixture(scope="module")
def sockets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("s")


@pytest.fixture(scope="module")
def first(sockets: Path) -> Iterator[Component]:
    with Component(sockets, "first") as proc:
        yield proc


@pytest.fixture(scope="module")
def second(sockets: Path) -> Iterator[Component]:
    with Component(sockets, "second") as proc:
        yield proc


async def test_100_concurrent_identical_requests_make_one_provider_call(
    first: Component, folder: Path
) -> None:
    client = ComponentClient(first.socket)
    await client.init("burst", disk_settings(folder, echoDelay="300ms"))
    answers = await asyncio.gather(*(client.converse("burst", ask(PII_PROMPT)) for _ in range(100)))
    again = await client.converse("burst", ask(PII_PROMPT))
    await client.close()
    events = first.cache_events("burst")
    assert {answer_of(a) for a in answers} == {PII_PROMPT}
    assert again.usage == answers[0].usage
    assert first.upstream_calls("burst") == 1
    assert events["miss"] == 1
    assert events["coalesced"] + events["hit"] == 100  # 99 waited, 1 asked afterwards
    assert events["store"] == 1


async def test_two_live_processes_share_one_folder(
    first: Component, second: Component, folder: Path
) -> None:
    await _share(first, second, "disk", disk_settings(folder, echoDelay="200ms"))


async def test_two_processes_share_one_redis_and_survive_its_death(
    first: Component,
    second: Component,
    redis_server: RedisServer,
) -> None:
    settings = {
        "provider": "echo",
        "echoDelay": "200ms",
        "cacheTTL": "10m",
        "cacheBackend": "redis",
        "redisHost": redis_server.host,
        "cacheTimeout": "2s",
        "cacheRetryInterval": "100ms",
    }
    clients = await _share(first, second, "redis", settings)
    with redis_server.client() as redis_client:
        values = b"".join(redis_client.get(k) or b"" for k in redis_client.keys("*"))
    assert plaintext_in(values + redis_server.dump(), SECRETS) == []

    redis_server.kill()
    for client in clients:
        for prompt in (*PROMPTS, PII_PROMPT):
            assert answer_of(await client.converse("redis", ask(prompt))) == prompt
        await client.close()
    assert sum(first.cache_errors().values()) >= 1
    assert sum(second.cache_errors().values()) >= 1
    for proc in (first, second):
        assert proc.logs().count("instance 'redis': response cache (redis) failed") == 1


async def _share(
    a: Component, b: Component, instance: str, settings: Mapping[str, str]
) -> tuple[ComponentClient, ComponentClient]:
    """A answers, then B finds it; then both get one burst of a new prompt at once."""
    clients = ComponentClient(a.socket), ComponentClient(b.socket)
    for client in clients:
        await client.init(instance, settings)
    original = await clients[0].converse(instance, ask(PII_PROMPT))
    found = await clients[1].converse(instance, ask(PII_PROMPT))
    assert found == original
    assert (a.upstream_calls(instance), b.upstream_calls(instance)) == (1, 0)
    assert b.cache_events(instance)["hit"] == 1
    burst = [client.converse(instance, ask(PROMPTS[1])) for client in clients for _ in range(20)]
    answers = await asyncio.gather(*burst)
    assert {answer_of(answer) for answer in answers} == {PROMPTS[1]}
    # No coalescing across processes: at most one call in each, at least one in all.
    in_a, in_b = a.upstream_calls(instance) - 1, b.upstream_calls(instance)
    assert in_a <= 1
    assert in_b <= 1
    assert in_a + in_b >= 1
    # What one process answered, the other finds afterwards.
    later = await clients[1].converse(instance, ask(PROMPTS[1]))
    assert answer_of(later) == PROMPTS[1]
    assert b.upstream_calls(instance) == in_b
    return clients


async def test_a_process_started_later_reads_the_entries_of_one_gone(
    sockets: Path, folder: Path
) -> None:
    with Component(sockets, "early") as early:
        client = ComponentClient(early.socket)
        await client.init("chat", disk_settings(folder))
        original = await client.converse("chat", ask(PII_PROMPT))
        await client.close()
    assert early.upstream_calls("chat") == 1
    with Component(sockets, "late") as late:
        client = ComponentClient(late.socket)
        await client.init("chat", disk_settings(folder))
        cached = await client.converse("chat", ask(PII_PROMPT))
        await client.close()
        events = late.cache_events("chat")
    assert late.upstream_calls("chat") == 0
    assert events["hit"] == 1
    assert cached == original


async def test_a_folder_no_byte_can_be_written_to_still_answers(
    sockets: Path, folder: Path
) -> None:
    with NoFileGrowthComponent(sockets, "full") as proc:
        client = ComponentClient(proc.socket)
        await client.init("chat", disk_settings(folder))
        for prompt in (*PROMPTS, PII_PROMPT, PROMPTS[0]):
            assert answer_of(await client.converse("chat", ask(prompt))) == prompt
        await client.close()
        errors, events = proc.cache_errors(), proc.cache_events("chat")
    assert sum(errors.values()) >= 1
    assert events["store"] == 0
    assert proc.upstream_calls("chat") == len(PROMPTS) + 2
    assert proc.logs().count("response cache (diskcache) failed") == 1


async def test_bad_cache_settings_fail_init_with_the_field_named(first: Component) -> None:
    client = ComponentClient(first.socket)
    for settings, message in [
        ({"cacheTTL": "soon"}, "metadata field 'cacheTTL'"),
        ({"responseCacheTTL": "-1s"}, "metadata field 'responseCacheTTL'"),
        ({"cacheTTL": "1m", "cacheBackend": "memcached"}, "not one of diskcache, redis"),
        ({"cacheTTL": "1m", "cacheSizeLimit": "lots"}, "'cacheSizeLimit': 'lots'"),
        ({"cacheTTL": "1m", "cacheKeySecret": "tiny-secret"}, "shorter than 16 characters"),
        ({"cacheTTL": "1m", "cacheBackend": "redis"}, "'redisHost': is required"),
        ({"cacheTTL": "1m", "cacheBackend": "redis", "redisHost": "r:port"}, "is not host:port"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.init("invalid", {"provider": "echo", **settings})
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = info.value.details() or ""
        assert message in details
        assert "tiny-secret" not in details
    await client.close()
