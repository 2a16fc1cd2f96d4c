"""Single-flight, alone and inside the cache stage: one upstream call for many callers.

Concurrency is steered by a gate the counting provider waits on, not by
sleeps: the first call is held until every other caller has arrived.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from component.cache.disk import DiskCacheBackend
from component.cache.guard import GuardedStore
from component.errors import UpstreamUnavailableError
from component.metrics import Metrics
from component.singleflight import SingleFlight
from component.stages.cache import ResponseCache
from tests.support.cache import PROMPTS, CountingProvider, ask, event_count


def make_cache(folder: Path, provider: CountingProvider, metrics: Metrics) -> ResponseCache:
    backend = DiskCacheBackend(folder, size_limit=2**30, timeout=5.0)
    store = GuardedStore(backend, instance="chat", metrics=metrics, retry_interval=1)
    return ResponseCache(provider, instance="chat", store=store, ttl=60, metrics=metrics)


async def _settle() -> None:
    """Let every runnable task reach its next await."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_100_identical_concurrent_requests_make_one_upstream_call(tmp_path: Path) -> None:
    gate = asyncio.Event()
    provider, metrics = CountingProvider(gate=gate), Metrics()
    cache = make_cache(tmp_path, provider, metrics)
    tasks = [asyncio.create_task(cache.converse(ask(PROMPTS[0]))) for _ in range(100)]
    await provider.entered.wait()
    await _settle()
    gate.set()
    answers = await asyncio.gather(*tasks)
    assert provider.calls == 1
    assert {a.outputs[0].choices[0].message.content for a in answers} == {f"1: {PROMPTS[0]}"}
    assert event_count(metrics, "chat", "diskcache", "coalesced") == 99
    assert event_count(metrics, "chat", "diskcache", "miss") == 1
    await cache.aclose()


async def test_an_error_reaches_every_waiter_and_is_not_cached(tmp_path: Path) -> None:
    gate = asyncio.Event()
    provider = CountingProvider(gate=gate, error=UpstreamUnavailableError("upstream down"))
    cache = make_cache(tmp_path, provider, Metrics())
    tasks = [asyncio.create_task(cache.converse(ask(PROMPTS[0]))) for _ in range(10)]
    await provider.entered.wait()
    await _settle()
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, UpstreamUnavailableError) for r in results)
    assert provider.calls == 1
    provider.error = None
    answer = await cache.converse(ask(PROMPTS[0]))
    assert provider.calls == 2, "the error was not cached"
    assert answer.outputs[0].choices[0].message.content.startswith("2:")
    await cache.aclose()


async def test_the_first_callers_cancellation_does_not_cancel_the_shared_call(
    tmp_path: Path,
) -> None:
    gate = asyncio.Event()
    provider = CountingProvider(gate=gate)
    cache = make_cache(tmp_path, provider, Metrics())
    first = asyncio.create_task(cache.converse(ask(PROMPTS[0])))
    await provider.entered.wait()
    others = [asyncio.create_task(cache.converse(ask(PROMPTS[0]))) for _ in range(5)]
    await _settle()
    first.cancel()
    await _settle()
    gate.set()
    answers = await asyncio.gather(*others)
    assert first.cancelled()
    assert provider.calls == 1
    assert all(a.outputs[0].choices[0].message.content.startswith("1:") for a in answers)
    await cache.aclose()


async def test_a_call_every_caller_left_still_finishes_and_is_stored(tmp_path: Path) -> None:
    gate = asyncio.Event()
    provider = CountingProvider(gate=gate)
    cache = make_cache(tmp_path, provider, Metrics())
    callers = [asyncio.create_task(cache.converse(ask(PROMPTS[0]))) for _ in range(3)]
    await provider.entered.wait()
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    gate.set()
    provider.gate = None
    # The next caller joins the call still in flight or finds its stored answer.
    answer = await cache.converse(ask(PROMPTS[0]))
    assert provider.calls == 1
    assert answer.outputs[0].choices[0].message.content.startswith("1:")
    await cache.aclose()


async def test_different_requests_are_not_coalesced(tmp_path: Path) -> None:
    gate = asyncio.Event()
    provider = CountingProvider(gate=gate)
    cache = make_cache(tmp_path, provider, Metrics())
    tasks = [asyncio.create_task(cache.converse(ask(prompt))) for prompt in PROMPTS]
    await _settle()
    gate.set()
    await asyncio.gather(*tasks)
    assert provider.calls == len(PROMPTS)
    await cache.aclose()


async def test_closing_cancels_calls_in_flight(tmp_path: Path) -> None:
    provider = CountingProvider(gate=asyncio.Event())
    cache = make_cache(tmp_path, provider, Metrics())
    caller = asyncio.create_task(cache.converse(ask(PROMPTS[0])))
    await provider.entered.wait()
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert provider.closed


# --- SingleFlight alone -----------------------------------------------------------


async def test_fresh_starts_a_new_call_that_later_callers_join() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    started = 0

    async def work() -> int:
        nonlocal started
        started += 1
        number = started
        await release.wait()
        return number

    old = asyncio.create_task(flights.do("k", work))
    await _settle()
    fresh = asyncio.create_task(flights.do("k", work, fresh=True))
    await _settle()
    joiner = asyncio.create_task(flights.do("k", work))
    await _settle()
    release.set()
    assert await old == (1, False)
    assert await fresh == (2, False)
    assert await joiner == (2, True)
    assert len(flights) == 0


async def test_nothing_is_kept_after_a_call() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await flights.do("k", work) == (1, False)
    assert await flights.do("k", work) == (2, False)
    assert len(flights) == 0
