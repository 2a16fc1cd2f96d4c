"""Drive a Conversation server over its socket: single-stream latency and throughput."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from component.pb import conversation_pb2 as pb
from component.pb import conversation_pb2_grpc as pb_grpc

__all__ = ["ConverseTarget", "text_request", "throughput"]


def text_request(text: str) -> pb.ConversationConverseRequest:
    """A converse request of one user message."""
    req = pb.ConversationConverseRequest()
    req.messages.items.add(
        role=pb.CONVERSATION_ROLE_HUMAN,
        parts=[pb.ConversationContentPart(text=pb.ConversationTextPart(text=text))],
    )
    return req


class ConverseTarget:
    """One channel to one socket, sending one fixed request."""

    def __init__(
        self, socket: Path, request: pb.ConversationConverseRequest, instance: str
    ) -> None:
        self.channel = grpc.aio.insecure_channel(f"unix:{socket}")
        self.stub = pb_grpc.ConversationStub(self.channel)
        self.request = request
        self.metadata = (("x-component-instance", instance),)

    async def call(self) -> pb.ConversationConverseResponse:
        return await self.stub.Converse(self.request, metadata=self.metadata, timeout=30)

    async def close(self) -> None:
        await self.channel.close()


async def throughput(
    call: Callable[[], Awaitable[object]], *, concurrency: int, total: int
) -> float:
    """Calls per second with ``concurrency`` callers sharing ``total`` calls."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def alternating_throughput(
    calls: dict[str, Callable[[], Awaitable[object]]], *, concurrency: int, total: int, rounds: int
) -> dict[str, float]:
    """Median calls per second of each, measured in alternating blocks."""
    results: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            results[name].append(await throughput(call, concurrency=concurrency, total=total))
    return {name: statistics.median(values) for name, values in results.items()}
