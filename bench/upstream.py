"""A fast OpenAI-compatible upstream for benchmarks and the soak, in its own process.

asyncio HTTP/1.1 with keep-alive (the test server in tests/support is threaded
and records everything: right for tests, too heavy for thousands of concurrent
calls). It answers ``POST .../chat/completions`` after ``--delay`` seconds and,
with ``--faults``, misbehaves on purpose in the given shares of requests:

    500      HTTP 500 with an OpenAI error body
    timeout  answers only after --hang seconds (longer than the caller's timeout)
    429      HTTP 429 with ``Retry-After: 0.05``
    drop     closes the connection without answering
    garbage  HTTP 200 with a body that is not JSON

``GET /stats`` returns the counts. Loopback only.
Usage: python -m bench.upstream --port-file F [--delay S] [--faults 500=0.1,timeout=0.05,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import time
from collections import Counter
from pathlib import Path

__all__ = ["main"]

_FAULTS = ("500", "timeout", "429", "drop", "garbage")


def _completion(model: str, content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        }
    ).encode()


class Upstream:
    def __init__(self, *, delay: float, faults: dict[str, float], hang: float, seed: int) -> None:
        self.delay = delay
        self.faults = faults
        self.hang = hang
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0

    def _pick(self) -> str:
        roll = self.random.random()
        for name, share in self.faults.items():
            if roll < share:
                return name
            roll -= share
        return "ok"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET" and path.startswith("/stats"):
                    stats = {
                        **self.counts,
                        "peak_in_flight": self.peak_in_flight,
                    }
                    await self._send(writer, 200, json.dumps(stats).encode())
                    continue
                if not path.split("?")[0].endswith("/chat/completions"):
                    await self._send(writer, 404, b'{"error":{"message":"not found"}}')
                    continue
                if not await self._answer(writer, body):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            return  # the server is stopping while this call hangs on purpose
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, body: bytes) -> bool:
        self.counts["requests"] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            kind = self._pick()
            self.counts[kind] += 1
            await asyncio.sleep(self.hang if kind == "timeout" else self.delay)
            if kind == "drop":
                return False
            if kind == "500":
                await self._send(
                    writer, 500, b'{"error":{"message":"upstream exploded","type":"server_error"}}'
                )
            elif kind == "429":
                await self._send(
                    writer,
                    429,
                    b'{"error":{"message":"slow down","type":"rate_limit_exceeded"}}',
                    {"Retry-After": "0.05"},
                )
            elif kind == "garbage":
                await self._send(writer, 200, b'{"choices": [ this is not json')
            else:
                request = json.loads(body)
                text = str(request["messages"][-1].get("content", ""))
                await self._send(
                    writer, 200, _completion(request.get("model", "bench"), f"echo: {text}")
                )
            return True
        finally:
            self.in_flight -= 1

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        payload: bytes,
        extra: dict[str, str] | None = None,
    ) -> None:
        head = [
            f"HTTP/1.1 {status} X",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
        ]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()


def _faults(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        name, share = item.split("=")
        if name not in _FAULTS:
            raise argparse.ArgumentTypeError(f"unknown fault {name!r}: use {', '.join(_FAULTS)}")
        out[name] = float(share)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hang", type=float, default=30.0)
    parser.add_argument("--faults", type=_faults, default={})
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    upstream = Upstream(delay=args.delay, faults=args.faults, hang=args.hang, seed=args.seed)
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    args.port_file.write_text(str(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
