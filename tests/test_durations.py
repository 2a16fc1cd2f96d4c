from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from component.durations import parse_go_duration


@dataclass
class Case:
    text: str
    want: timedelta


CASES = [
    Case("0", timedelta(0)),
    Case("300ms", timedelta(milliseconds=300)),
    Case("10m", timedelta(minutes=10)),
    Case("1h30m", timedelta(hours=1, minutes=30)),
    Case("1.5h", timedelta(hours=1, minutes=30)),
    Case("2h45m30.5s", timedelta(hours=2, minutes=45, seconds=30.5)),
    Case("100us", timedelta(microseconds=100)),
    Case("100µs", timedelta(microseconds=100)),
    Case("-5s", timedelta(seconds=-5)),
    Case("+5s", timedelta(seconds=5)),
    Case(".5s", timedelta(milliseconds=500)),
    Case("1000ns", timedelta(microseconds=1)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.text for c in CASES])
def test_parses_go_syntax(case: Case) -> None:
    assert parse_go_duration(case.text) == case.want


@pytest.mark.parametrize("text", ["", "5", "10 m", "1d", "m", "1h30", "abc", "1.2.3s", "--1s"])
def test_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)
