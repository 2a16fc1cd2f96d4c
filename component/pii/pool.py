"""Worker processes that run the analyzer, for throughput beyond one core.

Presidio is CPU-bound Python: threads share one GIL (measured: 2 and 8 threads
slower than 1), so parallel analysis needs processes. Each worker is a process
of its own, started from a fork server that has imported Presidio once (so a
worker starts in well under a second), with one pipe to the parent:

* requests are ``(spec, options, texts)``, answers the findings: the worker
  keeps one :class:`~component.pii.analyzer.Detector` per spec, built on first
  use or when :meth:`WorkerPool.prepare` asks;
* the parent holds the only other end of each pipe, so when the parent dies,
  however it dies, the worker's read ends and the worker exits;
* a dead worker fails the call that was using it (the text is never passed on
  unscrubbed) and is replaced.

The parent side does its pipe I/O in a small thread pool, one thread per worker,
so the event loop only awaits a future.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from component.errors import InvalidSettingError, PiiEngineError
from component.pii.kinds import Finding
from component.pii.settings import AnalysisOptions, EngineSpec

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 5.0

Findings = list[list[Finding]]


def _serve(conn: Connection, warm: Sequence[EngineSpec]) -> None:
    """A worker's life: answer the parent until its end of the pipe closes."""
    # The parent decides when workers stop (by closing the pipe); a Ctrl-C sent
    # to the whole process group must not kill one mid-answer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Heavy and only wanted here, so imported here (the parent may never need it).
    from component.pii.analyzer import Detector, build_detector  # noqa: PLC0415

    detectors: dict[EngineSpec, Detector] = {}

    def detector(spec: EngineSpec) -> Detector:
        found = detectors.get(spec)
        if found is None:
            found = detectors[spec] = build_detector(spec)
        return found

    for spec in warm:
        detector(spec)
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if message[0] == "prepare":
                detector(message[1])
                answer: tuple[Any, ...] = ("ok", None)
            else:
                _, spec, options, texts = message
                answer = ("ok", detector(spec).find_all(texts, options))
        except InvalidSettingError as exc:
            answer = (
                "invalid",
                exc.field,
                str(exc).removeprefix(f"metadata field {exc.field!r}: "),
            )
        except Exception as exc:  # reported to the parent, which fails the call
            answer = ("error", type(exc).__name__)
        try:
            conn.send(answer)
        except (BrokenPipeError, OSError):
            return


@dataclass(eq=False, slots=True)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    busy: bool = field(default=False)


class WorkerPool:
    """A fixed number of analyzer processes shared by every instance."""

    def __init__(self, size: int, *, warm: Sequence[EngineSpec] = (EngineSpec(),)) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._context = multiprocessing.get_context("forkserver")
        # The fork server imports Presidio once; each worker forks from it.
        self._context.set_forkserver_preload(["component.pii.analyzer"])
        self._warm = tuple(warm)
        self._cond = threading.Condition()
        self._closed = False
        self._workers = [self._start() for _ in range(size)]
        for worker in self._workers:
            self._await_ready(worker)
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="pii-pool")
        log.info("PII worker pool started: %d processes", size)

    @property
    def size(self) -> int:
        return len(self._workers)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve, args=(child, self._warm), name="pyllm-pii-worker", daemon=True
        )
        process.start()
        child.close()  # the worker holds the only other end: EOF there when we die
        return _Worker(process, parent)

    @staticmethod
    def _await_ready(worker: _Worker) -> None:
        if not worker.conn.poll(_START_TIMEOUT):
            raise PiiEngineError(f"a PII worker did not start within {_START_TIMEOUT:.0f}s")
        try:
            worker.conn.recv()
        except (EOFError, OSError) as exc:
            raise PiiEngineError("a PII worker died while starting") from exc

    async def find(
        self, spec: EngineSpec, options: AnalysisOptions, texts: Sequence[str]
    ) -> Findings:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(
            self._threads, self._call, None, ("find", spec, options, list(texts))
        )
        findings: Findings = answer
        return findings

    def prepare(self, spec: EngineSpec) -> None:
        """Have every worker build ``spec``'s analyzer now, in the background."""
        for worker in self._workers:
            threading.Thread(
                target=self._prepare_one, args=(worker, spec), name="pii-prepare", daemon=True
            ).start()

    def _prepare_one(self, worker: _Worker, spec: EngineSpec) -> None:
        try:
            self._call(worker, ("prepare", spec))
        except Exception:  # the next real call reports the problem
            log.debug("preparing a PII worker failed", exc_info=True)

    def _acquire(self, wanted: _Worker | None) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise PiiEngineError("the PII worker pool is closed")
                candidates = [wanted] if wanted is not None else self._workers
                for worker in candidates:
                    if not worker.busy and worker in self._workers:
                        worker.busy = True
                        return worker
                if wanted is not None and wanted not in self._workers:
                    raise PiiEngineError("the PII worker was replaced")
                self._cond.wait()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            worker.busy = False
            self._cond.notify_all()

    def _call(self, wanted: _Worker | None, message: tuple[Any, ...]) -> Any:
        worker = self._acquire(wanted)
        try:
            worker.conn.send(message)
            answer = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise PiiEngineError("a PII worker died; the request was not sent on") from exc
        finally:
            self._release(worker)
        if answer[0] == "invalid":
            raise InvalidSettingError(answer[1], answer[2])
        if answer[0] == "error":
            raise PiiEngineError(f"PII analysis failed in a worker ({answer[1]})")
        return answer[1]

    def _replace(self, dead: _Worker) -> None:
        log.warning("a PII worker (pid %s) died; starting another", dead.process.pid)
        dead.conn.close()
        dead.process.join(timeout=_STOP_TIMEOUT)
        if self._closed:
            return
        fresh = self._start()
        self._await_ready(fresh)
        with self._cond:
            self._workers[self._workers.index(dead)] = fresh
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the workers: close their pipes, then wait (kill after a grace period)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for worker in self._workers:
            worker.conn.close()
        for worker in self._workers:
            worker.process.join(timeout=_STOP_TIMEOUT)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=_STOP_TIMEOUT)
        self._threads.shutdown(wait=False, cancel_futures=True)
