"""Start-up warm-up: what an ``Init`` will need, loaded once the socket answers.

daprd lists the sockets folder once, at its own start, so the socket should
appear as early as it can answer; the heavy imports (the openai SDK, Presidio
and spaCy: several seconds together) then run in a background thread. An
``Init`` that needs them meanwhile waits for them (Python's import lock and the
PII engine's lock), well inside daprd's 5 s ``Init`` timeout on a warm machine.
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
            importlib.import_module("component.providers.openai")
            if pii or pii_workers:
                resources.pii.start(workers=pii_workers)
        except PyllmError as exc:
            # The same error comes back, with its gRPC code, at the Init that needs it.
            log.error("warm-up failed: %s", exc)  # noqa: TRY400 - the message is the story
            return
        finally:
            resources.warm.set()
        log.info("warm-up done in %.1f s", time.perf_counter() - started)

    # Cleared before the thread starts, so that no Init can build before it.
    resources.warm.clear()

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
