"""Section 3: through daprd, conversation.pyllm (echo) against daprd's built-in echo."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from bench.common import Row, Samples, alternate
from tests.support.component import ComponentProcess
from tests.support.daprd import Daprd, component_yaml

BODY = {"inputs": [{"messages": [{"ofUser": {"content": [{"text": "hello from the benchmark"}]}}]}]}


async def run(*, rounds: int) -> tuple[list[Row], dict[str, Samples]]:
    with tempfile.TemporaryDirectory(prefix="pyllm-bench-") as tmp:
        work = Path(tmp)
        resources = {
            "pyllm.yaml": component_yaml("pyllm", "conversation.pyllm", {"provider": "echo"}),
            "echo.yaml": component_yaml("echo", "conversation.echo"),
        }
        with ComponentProcess(work / "s", args=["--log-level", "warning"]):
            daprd = Daprd(work, sockets_folder=work / "s", resources=resources)
            with daprd:
                client = httpx.AsyncClient(base_url=daprd.http_url, timeout=30)
                url = "/v1.0-alpha2/conversation/{}/converse"

                async def ours() -> None:
                    (await client.post(url.format("pyllm"), json=BODY)).raise_for_status()

                async def theirs() -> None:
                    (await client.post(url.format("echo"), json=BODY)).raise_for_status()

                samples = await alternate(
                    {"daprd echo": theirs, "daprd pyllm": ours}, rounds=rounds
                )
                await client.aclose()
    ratio = samples["daprd pyllm"].p50 / samples["daprd echo"].p50
    return [
        Row(
            "3 through daprd",
            "p50 built-in echo / pyllm",
            f"{samples['daprd echo'].p50 * 1e3:.2f} / {samples['daprd pyllm'].p50 * 1e3:.2f} ms",
            "",
            None,
        ),
        Row("3 through daprd", "p50 ratio pyllm/echo", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5),
    ], samples
