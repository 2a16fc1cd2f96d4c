"""Things built once per process, at start, and shared by every instance."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from component.logs import SecretRedactor
from component.metrics import Metrics
from component.pii.engine import PiiEngine
from component.tokens import TokenEncodings

__all__ = ["ProcessResources"]


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass(frozen=True, slots=True)
class ProcessResources:
    """Heavy or process-wide things: built before the socket appears."""

    metrics: Metrics = field(default_factory=Metrics)
    #: Providers register API keys here so that no log line can carry them.
    redactor: SecretRedactor = field(default_factory=SecretRedactor)
    #: tiktoken encodings, loaded once per process and only from the local cache.
    encodings: TokenEncodings = field(default_factory=TokenEncodings)
    #: PII analyzers by configuration and their worker processes; cheap until
    #: started (the CLI starts it before the socket appears).
    pii: PiiEngine = field(default_factory=PiiEngine)
    #: Set when the start-up warm-up has imported the provider SDKs: pipelines are
    #: built only then, because two threads importing the same packages at once can
    #: see them half initialised.
    warm: threading.Event = field(default_factory=_set_event)
