"""Single-flight: concurrent calls for one key share one execution.

The first caller for a key starts the work as a task of its own; later
callers with the same key wait for that task instead of starting another.
Everyone receives the same result, or the same exception (nothing is kept
afterwards: the next call starts afresh). Waiting is shielded, so a caller
that is cancelled (its client went away) stops waiting without cancelling the
shared work the others still wait for. Only :meth:`SingleFlight.aclose`
cancels the work itself.

This coalesces within one process (one event loop) only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(slots=True)
class _Flight(Generic[V]):
    result: asyncio.Future[V]
    task: asyncio.Task[None] | None = None


class SingleFlight(Generic[K, V]):
    """Calls in flight, by key."""

    def __init__(self) -> None:
        self._flights: dict[K, _Flight[V]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def do(
        self, key: K, work: Callable[[], Awaitable[V]], *, fresh: bool = False
    ) -> tuple[V, bool]:
        """Run ``work`` or join the call in flight for ``key``.

        Returns the result and whether it was shared (this caller joined a
        call another caller started). With ``fresh``, never join: start a new
        call, which later callers for ``key`` then join.
        """
        flight = None if fresh else self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = _Flight(asyncio.get_running_loop().create_future())
            # A result nobody waits for any more is fine; no "never retrieved" noise.
            flight.result.add_done_callback(_consume)
            self._flights[key] = flight
            flight.task = asyncio.create_task(self._run(key, flight, work))
        return await asyncio.shield(flight.result), joined

    async def aclose(self) -> None:
        """Cancel every call in flight and wait for them to end."""
        tasks = [flight.task for flight in self._flights.values() if flight.task is not None]
        self._flights.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, key: K, flight: _Flight[V], work: Callable[[], Awaitable[V]]) -> None:
        try:
            value = await work()
        except Exception as exc:  # every waiter receives the very same error
            flight.result.set_exception(exc)
        else:
            flight.result.set_result(value)
        finally:
            if not flight.result.done():  # cancelled (shutdown) or BaseException
                flight.result.cancel()
            if self._flights.get(key) is flight:
                del self._flights[key]


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
