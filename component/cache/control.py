"""Per-request cache control, read from the request's metadata.

Two keys, matched case-insensitively (as component settings are):

``cacheTTL``
    A Go duration (``30s``, ``10m``, ``1h``): how long *this* answer is kept,
    instead of the component's ``cacheTTL``. ``0`` stores nothing; a cached
    answer is still served.
``cacheControl``
    ``bypass``: neither read nor write the cache, and do not share an
    in-flight call; go straight to the provider.
    ``refresh``: skip the lookup, ask the provider, store the new answer
    (identical requests arriving meanwhile share that fresh call).
    ``default`` (or empty): look up, else ask and store.

Both keys are left out of the cache key; every other metadata key is in it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from component.durations import parse_go_duration
from component.errors import InvalidRequestError

__all__ = ["CONTROL_KEY", "TTL_KEY", "CacheControl", "Mode", "is_control_key", "parse_control"]

TTL_KEY = "cacheTTL"
CONTROL_KEY = "cacheControl"
_CONTROL_KEYS = frozenset({TTL_KEY.lower(), CONTROL_KEY.lower()})


class Mode(enum.Enum):
    DEFAULT = "default"
    BYPASS = "bypass"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class CacheControl:
    mode: Mode
    #: Seconds the answer is kept; 0 keeps nothing.
    ttl: float


def is_control_key(key: str) -> bool:
    """Whether a metadata key steers the cache (and so stays out of its key)."""
    return key.lower() in _CONTROL_KEYS


def parse_control(metadata: Mapping[str, str], *, default_ttl: float) -> CacheControl:
    """Read and validate the request's cache control; raise InvalidRequestError."""
    mode, ttl = Mode.DEFAULT, default_ttl
    for key, value in metadata.items():
        low = key.lower()
        if low == TTL_KEY.lower():
            ttl = _ttl(key, value)
        elif low == CONTROL_KEY.lower():
            mode = _mode(key, value)
    return CacheControl(mode, ttl)


def _ttl(key: str, value: str) -> float:
    try:
        ttl = parse_go_duration(value)
    except ValueError:
        ttl = None
    if ttl is None or ttl < timedelta(0):
        raise InvalidRequestError(
            f"metadata {key!r}: {value!r} is not a duration of zero or more: use Go syntax "
            "such as 30s, 10m or 1h (0 stores nothing)"
        )
    return ttl.total_seconds()


def _mode(key: str, value: str) -> Mode:
    text = value.strip().lower()
    if text == "":
        return Mode.DEFAULT
    for mode in Mode:
        if mode.value == text:
            return mode
    raise InvalidRequestError(
        f"metadata {key!r}: {value!r} is not one of {', '.join(m.value for m in Mode)}"
    )
