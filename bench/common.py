"""Shared benchmark plumbing: timing, statistics, the table and RESULTS.md.

These are benchmarks, not tests: they print medians and ratios measured side
by side in one run (the compared commands alternate, because these machines
are shared and noisy) and say whether each target is met.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "Row",
    "Samples",
    "alternate",
    "machine_description",
    "percentile",
    "write_results",
]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


@dataclass
class Samples:
    """Latencies in seconds."""

    name: str
    values: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.values)

    @property
    def p99(self) -> float:
        return percentile(self.values, 0.99)


async def alternate(
    calls: dict[str, Callable[[], Awaitable[object]]], *, rounds: int, warmup: int = 20
) -> dict[str, Samples]:
    """Time each call ``rounds`` times, interleaving them so noise hits all alike."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    samples = {name: Samples(name) for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            samples[name].values.append(time.perf_counter() - started)
    return samples


@dataclass
class Row:
    """One measured figure against its target."""

    section: str
    measure: str
    value: str
    target: str
    met: bool | None  # None: reported, no target

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "-"}[self.met]


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "?"
    return f"{os.cpu_count()} cores ({cpu}), {memory}, Python {platform.python_version()}, {platform.system()}"


def table(rows: Sequence[Row]) -> str:
    head = "| section | measure | value | target | verdict |\n|---|---|---|---|---|\n"
    return head + "\n".join(
        f"| {r.section} | {r.measure} | {r.value} | {r.target} | {r.verdict} |" for r in rows
    )


def write_results(rows: Sequence[Row], notes: Sequence[str], plot: Path | None) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        "# Benchmark results\n\n"
        f"Measured {stamp} on {machine_description()} by `make bench`. "
        "Medians and ratios come from one run with the compared commands alternating.\n\n"
        f"{table(rows)}\n"
    )
    if notes:
        text += "\n## Notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    if plot is not None:
        text += f"\n![latency distributions]({plot.name})\n"
    RESULTS.write_text(text)
    return text
