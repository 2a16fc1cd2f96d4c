"""Typed reading of a component's metadata (the ``Init`` properties).

Each stage and provider reads the fields it owns through :class:`Properties`,
which validates as it reads and raises :class:`InvalidSettingError` naming the
field and what it accepts. Field names are matched case-insensitively, as
Dapr's own metadata decoding does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta

from component.durations import parse_go_duration
from component.errors import InvalidSettingError

__all__ = ["Properties"]

_TRUE = frozenset({"true", "1", "yes", "on", "y"})
_FALSE = frozenset({"false", "0", "no", "off", "n"})


class Properties:
    """Component metadata with validating, typed accessors.

    Values are read by name (or alias); every name read is remembered so that
    :meth:`unread` can tell which supplied fields nothing understood.
    """

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._values = {key.lower(): (key, value) for key, value in raw.items()}
        self._read: set[str] = set()
        self._asked: set[str] = set()

    def _lookup(self, name: str, aliases: Iterable[str]) -> tuple[str, str] | None:
        for candidate in (name, *aliases):
            self._read.add(candidate.lower())
            self._asked.add(candidate)
        for candidate in (name, *aliases):
            found = self._values.get(candidate.lower())
            if found is not None and found[1].strip() != "":
                return found
        return None

    def asked(self) -> frozenset[str]:
        """Every field name (and alias) an accessor asked for, as spelled there."""
        return frozenset(self._asked)

    def unread(self) -> list[str]:
        """The supplied field names that no accessor asked for, sorted."""
        return sorted(key for low, (key, _) in self._values.items() if low not in self._read)

    def string(self, name: str, default: str = "", *, aliases: Iterable[str] = ()) -> str:
        found = self._lookup(name, aliases)
        return default if found is None else found[1].strip()

    def secret(self, name: str, *, aliases: Iterable[str] = ()) -> str:
        """A sensitive string: never echoed back in an error message."""
        found = self._lookup(name, aliases)
        return "" if found is None else found[1].strip()

    def required(self, name: str, *, why: str, aliases: Iterable[str] = ()) -> str:
        found = self._lookup(name, aliases)
        if found is None:
            raise InvalidSettingError(name, f"is required {why}")
        return found[1].strip()

    def choice(
        self, name: str, allowed: Iterable[str], default: str, *, aliases: Iterable[str] = ()
    ) -> str:
        options = tuple(allowed)
        found = self._lookup(name, aliases)
        if found is None:
            return default
        value = found[1].strip().lower()
        by_lower = {option.lower(): option for option in options}
        if value not in by_lower:
            raise InvalidSettingError(found[0], f"{found[1]!r} is not one of {', '.join(options)}")
        return by_lower[value]

    def duration(
        self,
        name: str,
        default: timedelta | None = None,
        *,
        aliases: Iterable[str] = (),
        allow_zero: bool = True,
    ) -> timedelta | None:
        found = self._lookup(name, aliases)
        if found is None:
            return default
        try:
            value = parse_go_duration(found[1])
        except ValueError as exc:
            raise InvalidSettingError(
                found[0],
                f"{found[1]!r} is not a duration: use Go syntax such as 300ms, 10m or 1h30m",
            ) from exc
        if value < timedelta(0) or (not allow_zero and value == timedelta(0)):
            limit = "positive" if not allow_zero else "zero or positive"
            raise InvalidSettingError(found[0], f"{found[1]!r} must be {limit}")
        return value

    def integer(
        self,
        name: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        aliases: Iterable[str] = (),
    ) -> int:
        found = self._lookup(name, aliases)
        if found is None:
            return default
        try:
            value = int(found[1].strip())
        except ValueError as exc:
            raise InvalidSettingError(found[0], f"{found[1]!r} is not a whole number") from exc
        _check_range(found[0], value, minimum, maximum)
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        aliases: Iterable[str] = (),
    ) -> float:
        found = self._lookup(name, aliases)
        if found is None:
            return default
        try:
            value = float(found[1].strip())
        except ValueError as exc:
            raise InvalidSettingError(found[0], f"{found[1]!r} is not a number") from exc
        if not math.isfinite(value):
            raise InvalidSettingError(found[0], f"{found[1]!r} is not a finite number")
        _check_range(found[0], value, minimum, maximum)
        return value

    def boolean(self, name: str, default: bool, *, aliases: Iterable[str] = ()) -> bool:
        found = self._lookup(name, aliases)
        if found is None:
            return default
        value = found[1].strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise InvalidSettingError(found[0], f"{found[1]!r} is not a boolean: use true or false")

    def string_list(self, name: str, *, aliases: Iterable[str] = ()) -> tuple[str, ...]:
        """A comma-separated list; blanks dropped."""
        found = self._lookup(name, aliases)
        if found is None:
            return ()
        return tuple(item.strip() for item in found[1].split(",") if item.strip())


def _check_range(field: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise InvalidSettingError(field, f"{value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidSettingError(field, f"{value} is above the maximum {maximum}")
