"""Section 7: process start until the socket answers, and idle memory."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import Row
from tests.support.component import ComponentProcess


def run(*, starts: int) -> list[Row]:
    durations: list[float] = []
    rss: list[float] = []
    for i in range(starts):
        with tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
            proc = ComponentProcess(
                Path(tmp) / "s", name=f"start{i}", args=["--log-level", "warning"]
            )
            started = time.perf_counter()
            proc.start(timeout=60)
            durations.append(time.perf_counter() - started)
            time.sleep(1.0)  # idle: let start-up garbage settle
            assert proc.proc is not None
            process = psutil.Process(proc.proc.pid)
            total = process.memory_info().rss + sum(
                child.memory_info().rss for child in process.children(recursive=True)
            )
            rss.append(total / 2**20)
            proc.stop()
    start, memory = statistics.median(durations), statistics.median(rss)
    return [
        Row(
            "7 start", "start -> socket answers (median)", f"{start:.2f} s", "<= 2 s", start <= 2.0
        ),
        Row(
            "7 start",
            "idle RSS incl. workers (median)",
            f"{memory:.0f} MB",
            "<= 250 MB",
            memory <= 250,
        ),
    ]
