"""Start-up warm-up: what an ``Init`` will need, loaded once the socket answers.

daprd lists the sockets folder once, at its own start, so the socket should
appear as early as it can answer; the heavy imports (the openai SDK, Presidio
and spaCy: several seconds together) then run in a background thread. Every
``Init`` waits for the SDK imports (two threads importing the same packages at
once can see them half initialised), about two seconds; an ``Init`` that scrubs
PII also waits, at the PII engine's lock, for the engine to be built.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

from component.errors import PyllmError
from component.resources import ProcessResources

__all__ = ["start_warmup"]

log = logging.getLogger(__name__)


def start_warmup(resources: ProcessResources, *, pii: bool, pii_workers: int) -> threading.Thread:
    """Begin warming up in a daemon thread; return it (tests join it)."""

    def run() -> None:
        started = time.perf_counter()
        try:
            # First what any Init may import: pipelines wait for this part only.
            importlib.import_module("component.providers.openai")
        finally:
            resources.warm.set()
        log.info("warm-up: provider SDKs loaded in %.1f s", time.perf_counter() - started)
        if not (pii or pii_workers):
            return
        try:
            # The PII engine builds under its own lock: an Init that scrubs waits for
            # it there, while every other Init goes ahead.
            resources.pii.start(workers=pii_workers)
        except PyllmError as exc:
            # The same error comes back, with its gRPC code, at the Init that needs it.
            log.error("warm-up failed: %s", exc)  # noqa: TRY400 - the message is the story
            return
        log.info("warm-up: PII engine ready in %.1f s", time.perf_counter() - started)

    # Cleared before the thread starts, so that no Init can build before it.
    resources.warm.clear()

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
