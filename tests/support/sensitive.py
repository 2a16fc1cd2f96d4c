"""The secrets and PII values the tests use, so the leak check can look for them.

Tests import their API keys and PII samples from here (or ``register`` their
own); ``tests/test_zz_leaks.py`` runs last and fails when any of them appears in
a log line captured during the session, at any level, or in a component's or
daprd's log file.
"""

from __future__ import annotations

__all__ = ["API_KEYS", "PII_VALUES", "find_leaks", "register", "registered"]

API_KEYS = (
    "sk-pyllm-test-4f1d2c3b5a697887",
    "sk-pyllm-override-9e8d7c6b5a4f3e2d",
    "azure-pyllm-test-key-77aa88bb99cc",
)

PII_VALUES = (
    "jane.doe@example.com",
    "+1 415 555 0132",
    "4111 1111 1111 1111",
    "078-05-1120",
    "GB82 WEST 1234 5698 7654 32",
)

_extra: set[str] = set()


def register(*values: str) -> None:
    """Add values a test uses that must never leak."""
    _extra.update(v for v in values if len(v) >= 6)


def registered() -> frozenset[str]:
    return frozenset(API_KEYS) | frozenset(PII_VALUES) | frozenset(_extra)


def find_leaks(text: str) -> list[str]:
    """The registered values found in ``text``, masked for the report."""
    return sorted(f"{v[:3]}…({len(v)} chars)" for v in registered() if v in text)
