"""``make soak``: about 20,000 calls at concurrency 200 through daprd → pyllm → a faulty upstream.

The upstream (bench/upstream.py, loopback only) injects 10% HTTP 500, 5% answers
slower than pyllm's attempt timeout, 5% 429 with Retry-After, 2% dropped
connections and 1% malformed JSON. Every call must get the right answer or a
clear error; retries must bring success to at least 99%; the component must
not crash; its RSS and open file descriptors must stay flat after warm-up.
It stops by itself (a call budget and a time budget) and exits 1 when a
criterion is missed.

Usage: python -m bench.soak [--calls 20000] [--concurrency 200] [--budget 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil

from bench.processes import upstream
from tests.support.component import ComponentProcess
from tests.support.daprd import Daprd, component_yaml

FAULTS = "500=0.10,timeout=0.05,429=0.05,drop=0.02,garbage=0.01"
KEY = "sk-soak-not-a-secret"


class Sampler:
    """RSS (MB) and open file descriptors of one process, every half second."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.5):
            try:
                rss = self.process.memory_info().rss / 2**20
                self.samples.append((time.monotonic() - started, rss, self.process.num_fds()))
            except psutil.Error:
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def drift(self) -> tuple[float, float, float, float]:
        """Median RSS and FDs of the second quarter (after warm-up) and of the last quarter."""
        n = len(self.samples)
        early = self.samples[n // 4 : n // 2] or self.samples
        late = self.samples[3 * n // 4 :] or self.samples
        return (
            statistics.median(s[1] for s in early),
            statistics.median(s[1] for s in late),
            statistics.median(s[2] for s in early),
            statistics.median(s[2] for s in late),
        )


async def soak(*, calls: int, concurrency: int, budget: float) -> int:
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    with (
        upstream(faults=FAULTS, hang=3.0) as up,
        tempfile.TemporaryDirectory(prefix="pyllm-soak-") as tmp,
    ):
        work = Path(tmp)
        settings = {
            "provider": "openai",
            "endpoint": up.base_url,
            "key": KEY,
            "model": "gpt-4o-mini",
            "maxRetries": "6",
            "timeout": "500ms",
            "retryBackoff": "10ms",
            "retryMaxDelay": "100ms",
        }
        resources = {"pyllm.yaml": component_yaml("pyllm", "conversation.pyllm", settings)}
        args = ["--log-level", "warning", "--no-pii-preload"]
        with ComponentProcess(work / "s", args=args) as component:
            assert component.proc is not None
            with Daprd(work, sockets_folder=work / "s", resources=resources) as daprd:
                limits = httpx.Limits(
                    max_connections=concurrency, max_keepalive_connections=concurrency
                )
                client = httpx.AsyncClient(base_url=daprd.http_url, timeout=60, limits=limits)
                url = "/v1.0-alpha2/conversation/pyllm/converse"
                next_call = 0
                deadline = time.monotonic() + budget

                async def worker() -> None:
                    nonlocal next_call
                    while next_call < calls and time.monotonic() < deadline:
                        i = next_call
                        next_call += 1
                        prompt = f"soak call {i}"
                        body = {
                            "inputs": [{"messages": [{"ofUser": {"content": [{"text": prompt}]}}]}]
                        }
                        try:
                            answer = await client.post(url, json=body)
                        except httpx.HTTPError as exc:
                            counts[f"transport error {type(exc).__name__}"] += 1
                            continue
                        if answer.status_code == 200:
                            content = answer.json()["outputs"][0]["choices"][0]["message"][
                                "content"
                            ]
                            if content == f"echo: {prompt}":
                                counts["ok"] += 1
                            else:
                                counts["WRONG ANSWER"] += 1
                                wrong.append(content[:80])
                            continue
                        error = answer.json()
                        if error.get("errorCode") and error.get("message"):
                            counts[f"clear error {answer.status_code} {error['errorCode']}"] += 1
                        else:
                            counts["UNCLEAR ERROR"] += 1

                with Sampler(component.proc.pid) as sampler:
                    started = time.monotonic()
                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                    elapsed = time.monotonic() - started
                await client.aclose()
                alive = component.proc.poll() is None
                faults = up.stats()
            # The component must also stop cleanly after the soak.
            exit_code = component.stop()

    made = sum(counts.values())
    ok = counts["ok"]
    rss0, rss1, fd0, fd1 = sampler.drift()
    success = ok / made if made else 0.0
    print(
        f"soak: {made} calls in {elapsed:.1f} s ({made / elapsed:.0f}/s) at concurrency {concurrency}"
    )
    print("upstream:", ", ".join(f"{k}={v}" for k, v in sorted(faults.items())))
    for name, count in counts.most_common():
        print(f"  {count:7d}  {name}")
    print(
        f"success: {success:.4%}   RSS after warm-up {rss0:.0f} MB -> end {rss1:.0f} MB   FDs {fd0:.0f} -> {fd1:.0f}"
    )
    checks = {
        "every call answered or clearly refused": counts["WRONG ANSWER"]
        == counts["UNCLEAR ERROR"]
        == 0
        and not any(k.startswith("transport") for k in counts),
        "success >= 99%": success >= 0.99,
        "component alive throughout": alive,
        "component exits 0 on SIGTERM": exit_code == 0,
        "RSS flat (< +15% after warm-up)": rss1 <= rss0 * 1.15,
        "FDs flat (< +20 after warm-up)": fd1 <= fd0 + 20,
        "made at least 90% of the calls in the time budget": made >= 0.9 * calls,
    }
    for name, passed in checks.items():
        print(f"  [{'ok' if passed else 'MISSED'}] {name}")
    if wrong:
        print("wrong answers (first 5):", wrong[:5])
    return 0 if all(checks.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds before it stops issuing calls"
    )
    args = parser.parse_args()
    return asyncio.run(soak(calls=args.calls, concurrency=args.concurrency, budget=args.budget))


if __name__ == "__main__":
    sys.exit(main())
