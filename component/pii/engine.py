"""The process's PII engine: analyzers cached by configuration, and where they run.

One :class:`PiiEngine` lives in the process resources. It is cheap to create and
imports nothing heavy until asked:

* :meth:`PiiEngine.start` (the CLI calls it before the socket appears) imports
  Presidio, builds and warms the default analyzer, and starts the worker pool if
  one is wanted — daprd gives ``Init`` 5 seconds, less than a cold import;
* :meth:`PiiEngine.prepare` builds the analyzer an instance's settings need (at
  ``Init``, where a missing model is reported), once per configuration;
* :meth:`PiiEngine.find` runs an analysis off the event loop: in the worker
  processes when there are any and the texts are large enough to be worth the
  hop, otherwise in one in-process thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from component.pii.kinds import Finding
from component.pii.settings import AnalysisOptions, EngineSpec

if TYPE_CHECKING:
    from component.pii.analyzer import Detector
    from component.pii.pool import WorkerPool

__all__ = ["DEFAULT_INLINE_CHARS", "PiiEngine"]

log = logging.getLogger(__name__)

#: Below this many characters in one call, the in-process thread answers instead of
#: a worker: the pipe round trip and pickling cost about 0.3 ms, as much as analysing
#: 64 characters, while from about 1 KB up both paths take the same time
#: (``python -m bench.pii_cost``).
DEFAULT_INLINE_CHARS = 512


class PiiEngine:
    """Analyzers by :class:`EngineSpec`, and the threads and processes that run them."""

    def __init__(self, *, inline_chars: int = DEFAULT_INLINE_CHARS) -> None:
        self._detectors: dict[EngineSpec, Detector] = {}
        self._lock = threading.Lock()
        self._pool: WorkerPool | None = None
        self._inline_chars = inline_chars
        # One thread: a Detector is not thread-safe, and more threads would only
        # share the GIL (throughput comes from the worker processes).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pii")

    @property
    def workers(self) -> int:
        return 0 if self._pool is None else self._pool.size

    def worker_pids(self) -> list[int]:
        return [] if self._pool is None else self._pool.pids()

    def start(self, *, workers: int = 0) -> None:
        """Import Presidio, build the default analyzer and start ``workers`` processes."""
        self.prepare(EngineSpec())
        if workers > 0 and self._pool is None:
            # Imported here: the pool module pulls in multiprocessing machinery
            # that a process without workers never needs.
            from component.pii.pool import WorkerPool  # noqa: PLC0415

            self._pool = WorkerPool(workers)

    def prepare(self, spec: EngineSpec) -> None:
        """Build ``spec``'s analyzer now (raise InvalidSettingError if it cannot be)."""
        self._detector(spec)
        if self._pool is not None:
            self._pool.prepare(spec)

    def _detector(self, spec: EngineSpec) -> Detector:
        with self._lock:
            found = self._detectors.get(spec)
            if found is None:
                # Heavy (Presidio and spaCy): only a process that scrubs pays for it.
                from component.pii.analyzer import build_detector  # noqa: PLC0415

                found = self._detectors[spec] = build_detector(spec)
            return found

    async def find(
        self, spec: EngineSpec, options: AnalysisOptions, texts: Sequence[str]
    ) -> list[list[Finding]]:
        """The findings in each of ``texts``, computed off the event loop."""
        if not any(text.strip() for text in texts):
            return [[] for _ in texts]
        if self._pool is not None and sum(map(len, texts)) >= self._inline_chars:
            return await self._pool.find(spec, options, texts)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._find_here, spec, options, texts)

    def _find_here(
        self, spec: EngineSpec, options: AnalysisOptions, texts: Sequence[str]
    ) -> list[list[Finding]]:
        return self._detector(spec).find_all(texts, options)

    def close(self) -> None:
        """Stop the workers and the thread (at process exit)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._thread.shutdown(wait=False, cancel_futures=True)
