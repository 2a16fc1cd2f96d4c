"""A small in-process tier in front of the shared store, for hot entries.

A hit in the shared store costs a hop to a worker thread (diskcache) or a
network round trip (Redis); a hot entry is served from here instead, for at
most ``max_age`` seconds and never past its expiry in the store. The price is
bounded staleness: a ``refresh`` made by *another* process is seen here within
``max_age``. It holds decoded answers, bounded in number (least recently used
first out); it lives in memory only and is lost with the process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from component.cache.entry import Answer

__all__ = ["MemoryTier"]


class MemoryTier:
    """Up to ``entries`` answers by lookup key, each for at most ``max_age`` seconds."""

    def __init__(
        self, *, entries: int, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = entries
        self._max_age = max_age
        self._clock = clock
        self._answers: OrderedDict[str, tuple[Answer, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._capacity > 0 and self._max_age > 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> Answer | None:
        found = self._answers.get(key)
        if found is None:
            return None
        answer, until = found
        if self._clock() >= until:
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return answer

    def put(self, key: str, answer: Answer, remaining: float | None) -> None:
        """Keep ``answer`` for ``max_age``, or less if the store keeps it only ``remaining``."""
        if not self.enabled:
            return
        age = self._max_age if remaining is None else min(self._max_age, remaining)
        if age <= 0:
            return
        self._answers[key] = (answer, self._clock() + age)
        self._answers.move_to_end(key)
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)

    def clear(self) -> None:
        self._answers.clear()
