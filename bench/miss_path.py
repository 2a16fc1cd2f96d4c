"""Section 2: the miss path (component -> upstream) against the openai SDK calling it directly."""

from __future__ import annotations

import tempfile
from pathlib import Path

from openai import AsyncOpenAI

from bench.common import Row, Samples, alternate
from bench.grpc_load import ConverseTarget, alternating_throughput, text_request
from bench.processes import upstream
from tests.support.component import ComponentClient, ComponentProcess

KEY = "sk-bench-not-a-secret"
TEXT = "What is the capital of Norway?"


async def run(*, rounds: int, total: int) -> tuple[list[Row], dict[str, Samples]]:
    with upstream() as up, tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        with ComponentProcess(Path(tmp) / "s", args=["--log-level", "warning"]) as component:
            client = ComponentClient(component.socket)
            await client.init(
                "bench",
                {"provider": "openai", "endpoint": up.base_url, "key": KEY, "model": "gpt-4o-mini"},
            )
            await client.close()
            ours = ConverseTarget(component.socket, text_request(TEXT), "bench")
            sdk = AsyncOpenAI(api_key=KEY, base_url=up.base_url, max_retries=0)

            async def direct() -> object:
                return await sdk.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": TEXT}]
                )

            samples = await alternate(
                {"openai SDK direct": direct, "pyllm miss path": ours.call}, rounds=rounds
            )
            rps = await alternating_throughput(
                {"openai SDK direct": direct, "pyllm miss path": ours.call},
                concurrency=32,
                total=total,
                rounds=3,
            )
            await ours.close()
            await sdk.close()
    ours_s, direct_s = samples["pyllm miss path"], samples["openai SDK direct"]
    overhead_ms = (ours_s.p50 - direct_s.p50) * 1e3
    ratio = rps["pyllm miss path"] / rps["openai SDK direct"]
    return [
        Row(
            "2 miss path",
            "p50 SDK direct / pyllm",
            f"{direct_s.p50 * 1e3:.2f} / {ours_s.p50 * 1e3:.2f} ms",
            "",
            None,
        ),
        Row(
            "2 miss path", "p50 overhead", f"{overhead_ms:+.2f} ms", "<= +1 ms", overhead_ms <= 1.0
        ),
        Row(
            "2 miss path",
            "throughput @32 SDK / pyllm",
            f"{rps['openai SDK direct']:.0f} / {rps['pyllm miss path']:.0f} calls/s",
            "",
            None,
        ),
        Row("2 miss path", "throughput ratio pyllm/SDK", f"{ratio:.2f}x", ">= 0.8x", ratio >= 0.8),
    ], samples
