"""Go duration syntax (``300ms``, ``10m``, ``1h30m``), as Dapr metadata uses it."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_go_duration"]

# Units as Go's time.ParseDuration accepts them, in nanoseconds.
_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_TERM = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = 2**63 - 1


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go duration; raise ``ValueError`` saying what is accepted.

    Like ``time.ParseDuration``: an optional sign, then one or more decimal
    numbers each with a unit (ns, us, ms, s, m, h); ``0`` alone is allowed.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos = 0
    total_ns = 0.0
    while pos < len(s):
        match = _TERM.match(s, pos)
        if match is None:
            raise ValueError(
                f"invalid duration {text!r}: use numbers with units ns, us, ms, s, m, h "
                "(for example 300ms, 10m, 1h30m)"
            )
        total_ns += float(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    if total_ns > _MAX_NS:
        raise ValueError(f"invalid duration {text!r}: out of range")
    return timedelta(microseconds=sign * total_ns / 1_000)
