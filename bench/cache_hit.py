"""Section 1: a cache hit over the socket against the bare gRPC floor."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, Samples, alternate
from bench.grpc_load import ConverseTarget, alternating_throughput, text_request
from tests.support.component import ROOT, ComponentClient, ComponentProcess

PROMPT = "Summarise the plot of Hamlet in three sentences, for a ten-year-old reader. " * 4


async def run(*, rounds: int, total: int) -> tuple[list[Row], dict[str, Samples]]:
    with tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        work = Path(tmp)
        with ComponentProcess(work / "s", args=["--log-level", "warning"]) as component:
            client = ComponentClient(component.socket)
            await client.init(
                "bench", {"provider": "echo", "cacheTTL": "1h", "cacheDir": str(work / "cache")}
            )
            first = await client.converse("bench", text_request(PROMPT))
            await client.close()
            (work / "response.bin").write_bytes(first.SerializeToString())
            floor_socket = work / "s" / "floor.sock"
            floor = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.floor_server",
                    str(floor_socket),
                    str(work / "response.bin"),
                ],
                cwd=ROOT,
            )
            try:
                while not floor_socket.exists():
                    time.sleep(0.05)
                ours = ConverseTarget(component.socket, text_request(PROMPT), "bench")
                bare = ConverseTarget(floor_socket, text_request(PROMPT), "bench")
                assert (await ours.call()) == (await bare.call())
                samples = await alternate(
                    {"floor": bare.call, "pyllm cache hit": ours.call}, rounds=rounds
                )
                rps = await alternating_throughput(
                    {"floor": bare.call, "pyllm cache hit": ours.call},
                    concurrency=32,
                    total=total,
                    rounds=3,
                )
                await ours.close()
                await bare.close()
            finally:
                floor.terminate()
                floor.wait()
    hit, base = samples["pyllm cache hit"], samples["floor"]
    ratio = hit.p50 / base.p50
    tput = rps["pyllm cache hit"] / rps["floor"]
    rows = [
        Row(
            "1 cache hit",
            "p50 floor / hit",
            f"{base.p50 * 1e3:.3f} / {hit.p50 * 1e3:.3f} ms",
            "",
            None,
        ),
        Row(
            "1 cache hit",
            "p99 floor / hit",
            f"{base.p99 * 1e3:.3f} / {hit.p99 * 1e3:.3f} ms",
            "",
            None,
        ),
        Row("1 cache hit", "p50 ratio hit/floor", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5),
        Row(
            "1 cache hit",
            "throughput @32 floor / hit",
            f"{rps['floor']:.0f} / {rps['pyllm cache hit']:.0f} calls/s",
            "",
            None,
        ),
        Row("1 cache hit", "throughput ratio hit/floor", f"{tput:.2f}x", ">= 0.6x", tput >= 0.6),
    ]
    return rows, samples
