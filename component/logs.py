"""Logging set-up: text or JSON lines on stderr.

Message content is only ever logged at debug level, and API keys never: the
providers that hold a key register it with :class:`SecretRedactor`, which masks
it in any record that would still carry it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "SecretRedactor", "configure_logging"]

_MASK = "[REDACTED]"


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the fields log collectors expect."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class SecretRedactor(logging.Filter):
    """Masks registered secrets in every record that passes the handler."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, secret: str) -> None:
        if len(secret) >= 4:  # shorter strings would mask ordinary words
            with self._lock:
                self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self._secrets:
            masked = masked.replace(secret, _MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str, fmt: str) -> SecretRedactor:
    """Install the root handler; return the redactor providers register keys with."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    redactor = SecretRedactor()
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries log request bodies at debug; keep them quiet unless asked for.
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "openai", "presidio-analyzer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
