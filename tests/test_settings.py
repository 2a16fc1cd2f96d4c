from __future__ import annotations

from datetime import timedelta

import pytest

from component.errors import InvalidSettingError
from component.settings import Properties


def test_reads_typed_values_case_insensitively() -> None:
    p = Properties(
        {"CacheTTL": "10m", "maxRetries": "3", "flag": "TRUE", "ratio": "0.5", "list": "a, b,,c"}
    )
    assert p.duration("cacheTTL") == timedelta(minutes=10)
    assert p.integer("maxretries", 0) == 3
    assert p.boolean("flag", default=False) is True
    assert p.number("ratio", 0.0) == 0.5
    assert p.string_list("list") == ("a", "b", "c")


def test_aliases_and_defaults() -> None:
    p = Properties({"responseCacheTTL": "1h"})
    assert p.duration("cacheTTL", aliases=["responseCacheTTL"]) == timedelta(hours=1)
    assert p.string("model", "gpt-4o") == "gpt-4o"
    assert p.duration("timeout") is None


def test_blank_values_count_as_unset() -> None:
    assert Properties({"model": "  "}).string("model", "default") == "default"


def test_unread_lists_unknown_fields_only() -> None:
    p = Properties({"provider": "echo", "typo": "x", "Other": "y"})
    p.string("provider")
    assert p.unread() == ["Other", "typo"]


@pytest.mark.parametrize(
    ("raw", "read", "message"),
    [
        (
            {"provider": "nope"},
            lambda p: p.choice("provider", ("echo", "openai"), "echo"),
            "metadata field 'provider': 'nope' is not one of echo, openai",
        ),
        (
            {"cacheTTL": "10 minutes"},
            lambda p: p.duration("cacheTTL"),
            "metadata field 'cacheTTL': '10 minutes' is not a duration: "
            "use Go syntax such as 300ms, 10m or 1h30m",
        ),
        (
            {"cacheTTL": "-1s"},
            lambda p: p.duration("cacheTTL"),
            "metadata field 'cacheTTL': '-1s' must be zero or positive",
        ),
        (
            {"maxRetries": "many"},
            lambda p: p.integer("maxRetries", 2),
            "metadata field 'maxRetries': 'many' is not a whole number",
        ),
        (
            {"maxRetries": "-1"},
            lambda p: p.integer("maxRetries", 2, minimum=0),
            "metadata field 'maxRetries': -1 is below the minimum 0",
        ),
        (
            {"flag": "maybe"},
            lambda p: p.boolean("flag", default=False),
            "metadata field 'flag': 'maybe' is not a boolean: use true or false",
        ),
        (
            {"ratio": "nan"},
            lambda p: p.number("ratio", 0.0),
            "metadata field 'ratio': 'nan' is not a finite number",
        ),
        (
            {},
            lambda p: p.required("endpoint", why="when apiType is azure"),
            "metadata field 'endpoint': is required when apiType is azure",
        ),
    ],
)
def test_errors_name_the_field_and_what_is_accepted(raw, read, message) -> None:
    with pytest.raises(InvalidSettingError) as info:
        read(Properties(raw))
    assert str(info.value) == message
