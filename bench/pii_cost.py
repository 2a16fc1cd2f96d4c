"""PII scrubbing cost: CPU per KB, the worker hop, and throughput with 0, 1 and 2 workers.

``python -m bench.pii_cost`` prints three tables:

1. analysis CPU time per KB of text (``time.process_time`` in one process, so it
   holds on a busy machine better than wall time);
2. the latency of one call of small texts in the in-process thread and through a
   worker process, which sets ``DEFAULT_INLINE_CHARS`` (below it, the thread);
3. throughput (KB/s) of concurrent 4 KB analyses with 0 workers (the thread),
   1 and 2 worker processes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from component.pii.analyzer import build_detector
from component.pii.engine import PiiEngine
from component.pii.settings import AnalysisOptions, EngineSpec

PARAGRAPH = (
    "Hi, this is Jane Roe from the billing team. Please update the account for order "
    "88213 (version 3.11.4 of the app, shipped 2024-05-01): the customer wrote from "
    "jane.roe@example.org and asked us to call back on (415) 555-2671 about the card "
    "ending 1111. The total was $1,299.99 for 12 items; nothing else changed. "
)


def text_of(size: int) -> str:
    return (PARAGRAPH * (size // len(PARAGRAPH) + 1))[:size]


def cpu_per_kb(sizes: list[int], runs: int) -> list[tuple[int, float]]:
    detector = build_detector(EngineSpec())
    options = AnalysisOptions()
    rows = []
    for size in sizes:
        text = text_of(size)
        samples = []
        for _ in range(runs):
            start = time.process_time()
            detector.find(text, options)
            samples.append(time.process_time() - start)
        rows.append((size, statistics.median(samples) * 1000 / (size / 1024)))
    return rows


async def hop(sizes: list[int], runs: int) -> list[tuple[int, float, float]]:
    here = PiiEngine()
    here.start(workers=0)
    pooled = PiiEngine(inline_chars=0)
    pooled.start(workers=1)
    spec, options = EngineSpec(), AnalysisOptions()
    rows = []
    try:
        for size in sizes:
            texts = [text_of(size)]
            medians = []
            for engine in (here, pooled):
                samples = []
                for _ in range(runs):
                    start = time.perf_counter()
                    await engine.find(spec, options, texts)
                    samples.append(time.perf_counter() - start)
                medians.append(statistics.median(samples) * 1000)
            rows.append((size, medians[0], medians[1]))
    finally:
        here.close()
        pooled.close()
    return rows


async def throughput(workers: int, *, size: int, total: int, concurrency: int) -> float:
    engine = PiiEngine(inline_chars=0)
    engine.start(workers=workers)
    spec, options = EngineSpec(), AnalysisOptions()
    texts = [text_of(size)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            queue.get_nowait()
            await engine.find(spec, options, texts)

    try:
        await asyncio.gather(*(engine.find(spec, options, texts) for _ in range(max(workers, 1))))
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    finally:
        engine.close()
    return total * size / 1024 / elapsed


async def main_async(args: argparse.Namespace) -> None:
    print("## Analysis CPU per KB (one process)\n\n| text | CPU ms per KB |\n|---:|---:|")
    for size, ms in cpu_per_kb([256, 1024, 4096, 16384, 65536], args.runs):
        print(f"| {size} B | {ms:.2f} |")
    print("\n## One call: in-process thread vs a worker process (median ms)\n")
    print("| text | thread | worker |\n|---:|---:|---:|")
    for size, thread_ms, worker_ms in await hop([64, 256, 512, 1024, 2048, 8192], args.runs):
        print(f"| {size} B | {thread_ms:.2f} | {worker_ms:.2f} |")
    print(f"\n## Throughput, {args.concurrency} concurrent 4 KB analyses\n")
    print("| workers | KB/s |\n|---:|---:|")
    for workers in (0, 1, 2):
        rate = await throughput(workers, size=4096, total=args.total, concurrency=args.concurrency)
        print(f"| {workers} | {rate:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--total", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
