"""Sections 4 and 5: 2,000 concurrent calls against a slow upstream; 200 identical calls coalesced."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.common import Row
from bench.grpc_load import ConverseTarget, text_request
from bench.processes import upstream
from component.pb import conversation_pb2 as pb
from tests.support.component import ComponentClient, ComponentProcess

KEY = "sk-bench-not-a-secret"


class _PeakRss:
    """Samples a process tree's RSS every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss + sum(
                    c.memory_info().rss for c in self.process.children(recursive=True)
                )
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run_concurrency(*, calls: int = 2000, delay: float = 0.5) -> list[Row]:
    with upstream(delay=delay) as up, tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        with ComponentProcess(Path(tmp) / "s", args=["--log-level", "warning"]) as component:
            client = ComponentClient(component.socket)
            settings = {"provider": "openai", "endpoint": up.base_url, "key": KEY, "timeout": "30s"}
            await client.init("bench", settings)
            await client.close()
            targets = [
                ConverseTarget(component.socket, text_request(f"call {i}"), "bench")
                for i in range(4)
            ]
            await asyncio.gather(*(t.call() for t in targets))  # connect and warm up
            assert component.proc is not None
            with _PeakRss(component.proc.pid) as rss:
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(targets[i % 4].call() for i in range(calls)), return_exceptions=True
                )
                elapsed = time.perf_counter() - started
            for t in targets:
                await t.close()
            peak_in_flight = up.stats().get("peak_in_flight", 0)
            direct = await _direct_sdk(up.base_url, calls)
    failed = [r for r in results if isinstance(r, BaseException)]
    ok = calls - len(failed)
    return [
        Row(
            "4 concurrency",
            f"{calls} calls, upstream {delay * 1e3:.0f} ms: succeeded",
            f"{ok}/{calls}",
            "all",
            ok == calls,
        ),
        Row("4 concurrency", "total time", f"{elapsed:.2f} s", "<= 1.5 s", elapsed <= 1.5),
        Row(
            "4 concurrency",
            "the openai SDK alone, same calls, same upstream",
            f"{direct:.2f} s",
            "",
            None,
        ),
        Row("4 concurrency", "peak upstream concurrency", str(peak_in_flight), "", None),
        Row("4 concurrency", "peak RSS of the component", f"{rss.peak / 2**20:.0f} MB", "", None),
    ]


async def _direct_sdk(base_url: str, calls: int) -> float:
    """The same burst sent by the openai SDK in this process: what the SDK alone costs."""
    from openai import AsyncOpenAI

    sdk = AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0, timeout=30)
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                sdk.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"call {i}"}]
                )
                for i in range(calls)
            )
        )
        return time.perf_counter() - started
    finally:
        await sdk.close()


async def run_coalescing(*, calls: int = 200, delay: float = 0.5) -> list[Row]:
    with upstream(delay=delay) as up, tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        with ComponentProcess(Path(tmp) / "s", args=["--log-level", "warning"]) as component:
            client = ComponentClient(component.socket)
            settings = {
                "provider": "openai",
                "endpoint": up.base_url,
                "key": KEY,
                "cacheTTL": "10m",
                "cacheDir": str(Path(tmp) / "cache"),
            }
            await client.init("bench", settings)
            await client.close()
            target = ConverseTarget(component.socket, text_request("the same question"), "bench")
            await target.stub.Ping(pb.ConversationPingRequest())
            before = up.stats().get("requests", 0)
            started = time.perf_counter()
            results = await asyncio.gather(
                *(target.call() for _ in range(calls)), return_exceptions=True
            )
            elapsed = time.perf_counter() - started
            upstream_calls = up.stats().get("requests", 0) - before
            await target.close()
    ok = sum(not isinstance(r, BaseException) for r in results)
    return [
        Row(
            "5 coalescing",
            f"{calls} identical calls: succeeded",
            f"{ok}/{calls}",
            "all",
            ok == calls,
        ),
        Row("5 coalescing", "upstream calls", str(upstream_calls), "1", upstream_calls == 1),
        Row(
            "5 coalescing",
            "total / one upstream latency",
            f"{elapsed:.2f} s / {delay:.2f} s",
            "about 1x",
            elapsed <= delay * 1.5,
        ),
    ]
